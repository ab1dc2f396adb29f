"""Raceway against its floor: direct, the floor, Raceway (and the LiteLLM proxy) side by side.

The floor (``bench/floor_app.py``) is a bare Starlette + aiohttp pass-through under
hypercorn on uvloop, with Raceway's worker count and listen backlog. Every figure is
printed beside the floor's as a ratio, all in one run against the same fake upstream:

    python bench/floor.py                          # every scenario, the lead's settings
    python bench/floor.py --seconds 2 --streams 40 --levels 256 --capacity-seconds 3  # a quick proof

Scenarios: non-streaming pass-through at wrk -c64 with a 0 ms upstream (requests/s, p99, CPU
per request); 20-chunk streams 10 ms apart at concurrency 1 and 32 (CPU per stream, time to
first content added to direct's, p50 and p99); and concurrent streams held: wrk keeps N
``stream: true`` requests in flight, each a 2-second stream (20 chunks 100 ms apart), at
rising N; a level is held when the p99 stays within 1.5 x direct's at that level with no
socket error, and a target that fails a level is not tried at the higher ones (bounded in
time). Needs Debian's ``wrk``; the LiteLLM proxy runs when ``bench/install_litellm_proxy.sh``
made it (``--no-litellm`` to skip).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from floor_app import BACKLOG
from load import percentile, run_load
from procs import (
    BENCH,
    Server,
    bench_session,
    free_port,
    measure_cpu,
    start_raceway,
    start_upstream,
    wait_health,
)
from run import CHAT, MODELS, raceway_config, start_litellm

HELD_WITHIN = 1.5  # a capacity level is held when the p99 stays within this many times direct's
NAMED_BY_UPSTREAM = ("direct", "floor")  # targets that take the upstream's model names, not Raceway's


def start_floor(upstream_port: int, port: int, workers: int) -> Server:
    process = subprocess.Popen(
        [
            sys.executable,
            str(BENCH / "floor_app.py"),
            "--port",
            str(port),
            "--upstream",
            f"http://127.0.0.1:{upstream_port}",
            "--workers",
            str(workers),
            "--backlog",
            str(BACKLOG),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_health(f"http://127.0.0.1:{port}/health", process)
    return Server("floor", process, f"http://127.0.0.1:{port}/v1/chat/completions", "")


def model(server: Server, alias: str) -> str:
    return MODELS[alias] if server.name in NAMED_BY_UPSTREAM else alias


@dataclass(frozen=True)
class WrkRun:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    socket_errors: int  # connect, read, write and timeouts
    status_errors: int  # answers other than 2xx and 3xx


def wrk(url: str, body: str, connections: int, seconds: int, timeout: int = 10) -> WrkRun:
    """wrk posting ``body`` over ``connections`` for ``seconds`` (wrk takes whole seconds only)."""
    lua = (
        f'wrk.method = "POST"\nwrk.body = \'{body}\'\nwrk.headers["Content-Type"] = "application/json"\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,\n'
        "    latency:percentile(50), latency:percentile(99)))\n"
        '  io.write(string.format("ERRORS %d %d %d %d %d\\n", summary.errors.connect, summary.errors.read,'
        " summary.errors.write, summary.errors.timeout, summary.errors.status))\n"
        "end\n"
    )
    threads = min(2, connections)
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "post.lua"
        script.write_text(lua)
        output = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{seconds}s",
                f"--timeout={timeout}s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + timeout + 30,
        ).stdout
    lines = output.splitlines()
    if not any(line.startswith("RESULT") for line in lines):
        raise RuntimeError(f"wrk against {url} printed no result:\n{output}")
    requests, duration_us, p50_us, p99_us = (
        int(v) for v in next(x for x in lines if x.startswith("RESULT")).split()[1:]
    )
    connect, read, write, timeouts, status = (
        int(v) for v in next(x for x in lines if x.startswith("ERRORS")).split()[1:]
    )
    return WrkRun(
        requests,
        requests / (duration_us / 1e6),
        p50_us / 1000,
        p99_us / 1000,
        connect + read + write + timeouts,
        status,
    )


def chat_body(server: Server, alias: str, *, stream: bool = False) -> str:
    tail = ', "stream": true' if stream else ""
    return f'{{"model": "{model(server, alias)}", "messages": [{{"role": "user", "content": "ping"}}]{tail}}}'


def ratio(value: float, floor: float | None) -> str:
    return f"{value / floor:.2f} x" if floor else "-"


def scenario_throughput(servers: list[Server], seconds: int) -> list[str]:
    lines = [
        "### Non-streaming pass-through: 0 ms upstream, wrk -t2 -c64",
        "",
        "| target | requests/s | x floor | p99 ms | x floor | CPU ms/request | x floor |",
        "|---|---|---|---|---|---|---|",
    ]
    measured: dict[str, tuple[float, float, float]] = {}
    for server in servers:
        body = chat_body(server, "m0")
        wrk(server.url, body, 64, 1)  # warm-up
        run, cpu, _ = measure_cpu(server, lambda s=server, b=body: wrk(s.url, b, 64, seconds))
        measured[server.name] = (run.rps, run.p99_ms, cpu / max(1, run.requests) * 1000)
        if run.socket_errors or run.status_errors:
            lines.append(
                f"| ({server.name}: {run.socket_errors} socket, {run.status_errors} status errors) |||||||"
            )
    floor = measured.get("floor")
    for name, (rps, p99, cpu) in measured.items():
        f_rps, f_p99, f_cpu = floor if floor else (None, None, None)
        lines.append(
            f"| {name} | {rps:,.0f} | {ratio(rps, f_rps)} | {p99:.1f} | {ratio(p99, f_p99)} "
            f"| {cpu:.3f} | {ratio(cpu, f_cpu)} |"
        )
    return [*lines, ""]


def scenario_streams(servers: list[Server], concurrency: int, total: int) -> list[str]:
    lines = [
        f"### 20-chunk streams 10 ms apart at concurrency {concurrency}: {total} streams",
        "",
        "| target | CPU ms/stream | x floor | first content p50 ms | added p50 ms | p99 ms | added p99 ms "
        "| added p99 x floor's |",
        "|---|---|---|---|---|---|---|---|",
    ]
    measured: dict[str, tuple[float, float, float]] = {}
    for server in servers:
        body = {**CHAT, "model": model(server, "s10"), "stream": True}
        asyncio.run(run_load(server.url, body, concurrency=concurrency, total=min(total, 2 * concurrency)))
        result, cpu, _ = measure_cpu(
            server,
            lambda s=server, b=body: asyncio.run(run_load(s.url, b, concurrency=concurrency, total=total)),
        )
        first = result.first_chunk
        measured[server.name] = (
            cpu / max(1, result.count) * 1000,
            percentile(first, 50) * 1000,
            percentile(first, 99) * 1000,
        )
        if result.errors or len(first) != result.count:
            lines.append(
                f"| ({server.name}: {result.errors} errors, "
                f"{result.count - len(first)} streams without content) ||||||||"
            )
    _, d50, d99 = measured["direct"]
    floor = measured.get("floor")
    for name, (cpu, p50, p99) in measured.items():
        added99 = p99 - d99
        floor_added99 = floor[2] - d99 if floor else 0.0
        versus = ratio(added99, floor_added99) if floor_added99 > 0 else "-"
        cpu_versus = ratio(cpu, floor[0] if floor else None)
        lines.append(
            f"| {name} | {cpu:.3f} | {cpu_versus} | {p50:.2f} | {p50 - d50:+.2f} "
            f"| {p99:.2f} | {added99:+.2f} | {versus} |"
        )
    return [*lines, ""]


def scenario_capacity(servers: list[Server], levels: list[int], seconds: int) -> list[str]:
    lines = [
        f"### Concurrent streams held: 2-second streams (20 chunks 100 ms apart), wrk {seconds} s a level",
        "",
        f"A level is held when the p99 is within {HELD_WITHIN} x direct's there, with no socket error.",
        "",
        "| target | concurrency | streams done | p50 ms | p99 ms | x direct's p99 | socket errors | held |",
        "|---|---|---|---|---|---|---|---|",
    ]
    failed: set[str] = set()
    held: dict[str, int] = {server.name: 0 for server in servers}
    for level in levels:
        direct_p99 = 0.0
        for server in servers:
            if server.name in failed:
                lines.append(f"| {server.name} | {level} | (not tried: failed a lower level) ||||||")
                continue
            run = wrk(server.url, chat_body(server, "s100", stream=True), level, seconds)
            if server.name == "direct":
                direct_p99 = run.p99_ms
            within = run.p99_ms / direct_p99 if direct_p99 else float("inf")
            ok = (
                run.requests > 0 and within <= HELD_WITHIN and not run.socket_errors and not run.status_errors
            )
            if ok:
                held[server.name] = level
            else:
                failed.add(server.name)
            lines.append(
                f"| {server.name} | {level} | {run.requests} | {run.p50_ms:.0f} | {run.p99_ms:.0f} "
                f"| {within:.2f} "
                f"| {run.socket_errors} (+{run.status_errors} status) | {'yes' if ok else 'no'} |"
            )
    summary = ", ".join(f"{name} {level or 'none'}" for name, level in held.items())
    return [*lines, "", f"Highest level held: {summary}.", ""]


def raise_open_files() -> None:
    """Thousands of connections need thousands of descriptors (wrk and the servers inherit this)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["throughput", "streams", "capacity"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk throughput run")
    parser.add_argument(
        "--streams", type=int, default=200, help="streams per concurrency in the stream scenario"
    )
    parser.add_argument("--levels", default="256,512,1024,2048", help="capacity levels, comma-separated")
    parser.add_argument("--capacity-seconds", type=int, default=10, help="duration of each capacity level")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM proxy even if installed")
    args = parser.parse_args()
    raise_open_files()
    report = [
        f"## Floor run of {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores · "
        f"{args.workers} workers each",
        "",
    ]
    with bench_session() as (workdir, servers):
        upstream_port = free_port()
        servers.append(start_upstream(upstream_port))
        servers.append(start_floor(upstream_port, free_port(), args.workers))
        servers.append(start_raceway(raceway_config(upstream_port), free_port(), workdir, args.workers)[0])
        if not args.no_litellm:
            started = start_litellm(free_port(), upstream_port, workdir, args.workers)
            if started is not None:
                servers.append(started[0])
        time.sleep(1.0)
        if args.only in (None, "throughput"):
            report += scenario_throughput(servers, args.seconds)
        if args.only in (None, "streams"):
            report += scenario_streams(servers, 1, args.streams)
            report += scenario_streams(servers, 32, args.streams * 2)
        if args.only in (None, "capacity"):
            levels = [int(level) for level in args.levels.split(",")]
            report += scenario_capacity(servers, levels, args.capacity_seconds)
    print("\n".join(report))


if __name__ == "__main__":
    main()
