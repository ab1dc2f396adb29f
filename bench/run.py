"""Benchmark: the client straight to a fake upstream, through Raceway, and through the LiteLLM proxy.

Everything runs in one go on 127.0.0.1 and every load is bounded in count and time:

    python bench/run.py                 # all scenarios
    python bench/run.py --only overhead # one of: throughput overhead concurrency streaming coldstart
                                        #         cache state metrics

The LiteLLM proxy is measured when ``bench/.venv-litellm/bin/litellm`` exists (make it with
``bench/install_litellm_proxy.sh``). Throughput needs ``wrk`` (Debian package ``wrk``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile, run_load
from procs import (
    BENCH,
    Server,
    bench_session,
    free_port,
    measure_cpu,
    rss_mb,
    start_raceway,
    start_redis,
    start_upstream,
    wait_health,
)

LITELLM = BENCH / ".venv-litellm" / "bin" / "litellm"
CHAT = {"messages": [{"role": "user", "content": "ping"}]}


MODELS = {
    "m0": "bench-0ms",
    "m50": "bench-50ms",
    "s10": "bench-0ms-gap10ms",
    "s0": "bench-0ms-gap0ms",
    "s100": "bench-0ms-gap100ms",  # 2-second streams (bench/floor.py's capacity scenario)
    "b0": "bench-0ms-burst",  # a stream's events in one write (bench/ab.py --stream --model b0)
}


def raceway_config(
    upstream_port: int, server: str = "graceful_timeout: 5s", *, limits: str = "", state: str = ""
) -> str:
    """``limits``: extra settings of every deployment (e.g. ``rpm: 1000000``); ``state``: the state block."""
    base_url = f"http://127.0.0.1:{upstream_port}/v1"
    extra = f", {limits}" if limits else ""
    deployments = "\n".join(
        f"  - {{name: d-{name}, provider: openai, base_url: '{base_url}', model: {model}{extra}}}"
        for name, model in MODELS.items()
    )
    models = "\n".join(f"  - {{name: {name}, deployments: [d-{name}]}}" for name in MODELS)
    cached = "  - {name: c0, deployments: [d-m0], cache: {mode: always}}"  # m0 behind the response cache
    state_block = f"state: {{{state}}}\n" if state else ""
    return f"server: {{{server}}}\n{state_block}deployments:\n{deployments}\nmodels:\n{models}\n{cached}\n"


def start_litellm(port: int, upstream_port: int, workdir: Path, workers: int) -> tuple[Server, float] | None:
    if not LITELLM.exists():
        return None
    entries = "\n".join(
        textwrap.dedent(f"""\
          - model_name: {name}
            litellm_params:
              model: openai/{model}
              api_base: http://127.0.0.1:{upstream_port}/v1
              api_key: dummy""")
        for name, model in MODELS.items()
    )
    config = workdir / "litellm.yaml"
    config.write_text("model_list:\n" + textwrap.indent(entries, "  ") + "\n")
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "TELEMETRY": "False",
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
    }  # no auth, like raceway here
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            str(LITELLM),
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--num_workers",
            str(workers),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_health(f"http://127.0.0.1:{port}/health/liveliness", process, timeout=120)
    cold_start = time.perf_counter() - started
    return Server("litellm-proxy", process, f"http://127.0.0.1:{port}/v1/chat/completions", ""), cold_start


# -- scenarios -----------------------------------------------------------------


def wrk(
    url: str, model: str, connections: int, seconds: int, *, stream: bool = False
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from wrk posting a small chat request (``stream``: asking for
    a stream, which wrk reads whole)."""
    tail = ', "stream": true' if stream else ""
    body = f'{{"model": "{model}", "messages": [{{"role": "user", "content": "ping"}}]{tail}}}'
    lua = (
        f'wrk.method = "POST"\nwrk.body = \'{body}\'\nwrk.headers["Content-Type"] = "application/json"\n'
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("RESULT %d %d %d %d\\n", summary.requests, summary.duration,\n'
        "    latency:percentile(50), latency:percentile(99)))\n"
        '  io.write(string.format("ERRORS %d %d %d\\n", summary.errors.connect + summary.errors.read,'
        " summary.errors.status, summary.errors.timeout))\n"
        "end\n"
    )
    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "post.lua"
        script.write_text(lua)
        output = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
        ).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, duration_us, p50_us, p99_us = (int(v) for v in line.split()[1:])
    errors = next(line for line in output.splitlines() if line.startswith("ERRORS")).split()[1:]
    if any(int(e) for e in errors):
        print(f"    wrk errors against {url} (socket, status, timeout): {errors}")
    return requests / (duration_us / 1e6), p50_us / 1000, p99_us / 1000


def scenario_throughput(servers: list[Server], seconds: int) -> list[str]:
    lines = [
        "### Throughput: 0 ms upstream, non-streaming, wrk -t2 -c64",
        "",
        "| target | requests/s | p50 ms | p99 ms | server CPU ms/request | per-worker CPU share |",
        "|---|---|---|---|---|---|",
    ]
    if shutil.which("wrk") is None:
        return [*lines, "| (skipped: wrk not installed) | | | | | |", ""]
    for server in servers:
        wrk(server.url, "m0" if server.name != "direct" else "bench-0ms", 64, 2)  # warm-up
        (rps, p50, p99), cpu, per_process = measure_cpu(
            server, lambda s=server: wrk(s.url, "m0" if s.name != "direct" else "bench-0ms", 64, seconds)
        )
        requests = rps * seconds
        busy = sorted(
            (v for pid, v in per_process.items() if pid != server.process.pid and v > 0.05), reverse=True
        )
        share = " / ".join(f"{v / sum(busy) * 100:.0f} %" for v in busy) if len(busy) > 1 else "-"
        lines.append(
            f"| {server.name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {cpu / requests * 1000:.3f} | {share} |"
        )
    return [*lines, ""]


def scenario_overhead(servers: list[Server], total: int) -> list[str]:
    lines = [
        f"### Latency at concurrency 1: 50 ms upstream, {total} requests",
        "",
        "| target | p50 ms | p99 ms | added p50 ms | added p99 ms | server CPU ms/request |",
        "|---|---|---|---|---|---|",
    ]
    direct_p50 = direct_p99 = 0.0
    for server in servers:
        model = "bench-50ms" if server.name == "direct" else "m50"
        asyncio.run(run_load(server.url, {**CHAT, "model": model}, concurrency=1, total=20))
        result, cpu, _ = measure_cpu(
            server,
            lambda s=server, m=model: asyncio.run(
                run_load(s.url, {**CHAT, "model": m}, concurrency=1, total=total)
            ),
        )
        p50, p99 = percentile(result.latencies, 50) * 1000, percentile(result.latencies, 99) * 1000
        if server.name == "direct":
            direct_p50, direct_p99 = p50, p99
        lines.append(
            f"| {server.name} | {p50:.2f} | {p99:.2f} | {p50 - direct_p50:+.2f} | {p99 - direct_p99:+.2f} | "
            f"{cpu / result.count * 1000:.3f} |"
        )
    return [*lines, ""]


def scenario_concurrency(servers: list[Server], total: int) -> list[str]:
    lines = [
        f"### Concurrency 32: 50 ms upstream, {total} requests",
        "",
        "| target | requests/s | share of direct | p50 ms | p99 ms | server CPU ms/request |",
        "|---|---|---|---|---|---|",
    ]
    direct_rps = 0.0
    for server in servers:
        model = "bench-50ms" if server.name == "direct" else "m50"
        result, cpu, _ = measure_cpu(
            server,
            lambda s=server, m=model: asyncio.run(
                run_load(s.url, {**CHAT, "model": m}, concurrency=32, total=total)
            ),
        )
        rps = result.rps
        if server.name == "direct":
            direct_rps = rps
        lines.append(
            f"| {server.name} | {rps:,.0f} | {rps / direct_rps * 100:.1f} % | "
            f"{percentile(result.latencies, 50) * 1000:.2f} | "
            f"{percentile(result.latencies, 99) * 1000:.2f} | {cpu / result.count * 1000:.3f} |"
        )
    return [*lines, ""]


def scenario_streaming(servers: list[Server], total: int) -> list[str]:
    """Time to first chunk, and CPU per 20-chunk stream with 10 ms gaps and with none.

    The back-to-back variant shows the work Raceway does per stream; with 10 ms gaps each
    chunk also pays for waking an idle process, which this VM charges heavily.
    """
    lines = [
        f"### Streaming at concurrency 1: 20 chunks, {total} streams per variant",
        "",
        "| target | chunk gap | first chunk p50 ms | p99 ms | added p50 ms | total p50 ms "
        "| server CPU ms/stream |",
        "|---|---|---|---|---|---|---|",
    ]
    for gap, upstream_model, model in (
        ("10 ms", "bench-0ms-gap10ms", "s10"),
        ("0 ms", "bench-0ms-gap0ms", "s0"),
    ):
        direct = 0.0
        for server in servers:
            body = {**CHAT, "model": upstream_model if server.name == "direct" else model, "stream": True}
            asyncio.run(run_load(server.url, body, concurrency=1, total=5))
            result, cpu, _ = measure_cpu(
                server, lambda s=server, b=body: asyncio.run(run_load(s.url, b, concurrency=1, total=total))
            )
            first = result.first_chunk
            p50 = percentile(first, 50) * 1000
            if server.name == "direct":
                direct = p50
            lines.append(
                f"| {server.name} | {gap} | {p50:.2f} | {percentile(first, 99) * 1000:.2f} "
                f"| {p50 - direct:+.2f} | "
                f"{percentile(result.latencies, 50) * 1000:.1f} | {cpu / result.count * 1000:.3f} |"
            )
            if len(first) != result.count:
                lines.append(f"| (warning: {result.count - len(first)} streams had no content chunk) |||||||")
    return [*lines, ""]


def scenario_footprint(servers: list[Server], cold_starts: dict[str, float]) -> list[str]:
    lines = [
        "### Cold start and memory",
        "",
        "| target | cold start s (until health answers) | RSS per worker MB |",
        "|---|---|---|",
    ]
    for server in servers:
        if server.name == "direct":
            continue
        workers = [pid for pid in server.tree() if pid != server.process.pid]
        rss = [rss_mb(pid) for pid in workers if rss_mb(pid) > 30] or [rss_mb(server.process.pid)]
        lines.append(
            f"| {server.name} | {cold_starts[server.name]:.2f} | {' / '.join(f'{v:.0f}' for v in rss)} |"
        )
    return [*lines, ""]


def scenario_cache(servers: list[Server], seconds: int) -> list[str]:
    """The same request through Raceway: passed through to the upstream, then served from the cache."""
    lines = [
        "### Response cache: every request a hit versus passed through, wrk -t2 -c64",
        "",
        "| path | requests/s | p50 ms | p99 ms | server CPU ms/request | CPU vs pass-through |",
        "|---|---|---|---|---|---|",
    ]
    raceway = next((server for server in servers if server.name == "raceway"), None)
    if shutil.which("wrk") is None or raceway is None:
        return [*lines, "| (skipped: wrk not installed) | | | | | |", ""]
    baseline = 0.0
    for label, model in (("pass-through (0 ms upstream)", "m0"), ("cache hit", "c0")):
        wrk(raceway.url, model, 64, 2)  # warm-up: fills each worker's cache
        (rps, p50, p99), cpu, _ = measure_cpu(raceway, lambda m=model: wrk(raceway.url, m, 64, seconds))
        per_request = cpu / (rps * seconds) * 1000
        baseline = baseline or per_request
        share = per_request / baseline * 100
        lines.append(f"| {label} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {per_request:.3f} | {share:.0f} % |")
    return [*lines, ""]


def scenario_state_backend(upstream_port: int, workdir: Path, args: argparse.Namespace) -> list[str]:
    """Pass-through with a rate limit on the deployment: each worker's share (local) or exact in Redis."""
    lines = [
        "### Shared state: rate-limited pass-through, local versus Redis, wrk -t2 -c64, rounds interleaved",
        "",
        "| backend | round | requests/s | Raceway CPU ms/request | + Redis CPU ms/request | vs local |",
        "|---|---|---|---|---|---|",
    ]
    if shutil.which("wrk") is None or shutil.which("redis-server") is None:
        return [*lines, "| (skipped: wrk or redis-server not installed) | | | | | |", ""]
    redis = start_redis(free_port(), workdir)
    limits = "rpm: 100000000"  # never reached: measures what enforcing it costs
    variants = {
        "local": raceway_config(upstream_port, limits=limits),
        "redis": raceway_config(upstream_port, limits=limits, state=f"backend: redis, url: '{redis.url}'"),
    }
    servers = {
        name: start_raceway(text, free_port(), workdir, args.workers)[0] for name, text in variants.items()
    }
    try:
        baseline: list[float] = []
        for round_index in range(2):
            for name, server in servers.items():
                wrk(server.url, "m0", 64, 2)
                redis_before = sum(redis.cpu().values())
                (rps, _, _), cpu, _ = measure_cpu(server, lambda s=server: wrk(s.url, "m0", 64, args.seconds))
                redis_cpu = sum(redis.cpu().values()) - redis_before
                requests = rps * args.seconds
                gateway_ms, redis_ms = cpu / requests * 1000, redis_cpu / requests * 1000
                if name == "local":
                    baseline.append(gateway_ms)
                ratio = f"{gateway_ms / baseline[-1] * 100:.0f} %"
                cells = [
                    name,
                    str(round_index + 1),
                    f"{rps:,.0f}",
                    f"{gateway_ms:.3f}",
                    f"{redis_ms:.3f}",
                    ratio,
                ]
                lines.append("| " + " | ".join(cells) + " |")
    finally:
        for server in (*servers.values(), redis):
            server.stop()
    return [*lines, ""]


def scenario_metrics_cost(upstream_port: int, workdir: Path, args: argparse.Namespace) -> list[str]:
    """The same throughput run with metrics and the access log on, then each switched off."""
    lines = [
        "### Cost of observability: 0 ms upstream, wrk -t2 -c64, one Raceway at a time",
        "",
        "| server settings | requests/s | server CPU ms/request | CPU share of the default |",
        "|---|---|---|---|",
    ]
    if shutil.which("wrk") is None:
        return [*lines, "| (skipped: wrk not installed) | | | |", ""]
    variants = [
        ("metrics + access log (default)", "graceful_timeout: 5s"),
        ("metrics, no access log", "graceful_timeout: 5s, access_log: false"),
        ("no metrics, no access log", "graceful_timeout: 5s, access_log: false, metrics: false"),
    ]
    baseline = 0.0
    for label, settings in variants:
        server, _ = start_raceway(raceway_config(upstream_port, settings), free_port(), workdir, args.workers)
        try:
            wrk(server.url, "m0", 64, 2)
            (rps, _, _), cpu, _ = measure_cpu(server, lambda s=server: wrk(s.url, "m0", 64, args.seconds))
        finally:
            server.stop()
        per_request = cpu / (rps * args.seconds) * 1000
        baseline = baseline or per_request
        lines.append(f"| {label} | {rps:,.0f} | {per_request:.3f} | {per_request / baseline * 100:.0f} % |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        choices=[
            "throughput",
            "overhead",
            "concurrency",
            "streaming",
            "coldstart",
            "cache",
            "state",
            "metrics",
        ],
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--requests", type=int, default=400, help="requests per latency scenario")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM proxy even if installed")
    args = parser.parse_args()

    cold_starts: dict[str, float] = {}
    report = [
        f"## Run of {time.strftime('%Y-%m-%d %H:%M')} · {os.cpu_count()} cores · {args.workers} workers",
        "",
    ]
    with bench_session() as (workdir, servers):
        upstream_port = free_port()
        servers.append(start_upstream(upstream_port))
        raceway, cold_starts["raceway"] = start_raceway(
            raceway_config(upstream_port), free_port(), workdir, args.workers
        )
        servers.append(raceway)
        if not args.no_litellm:
            started = start_litellm(free_port(), upstream_port, workdir, args.workers)
            if started is not None:
                servers.append(started[0])
                cold_starts["litellm-proxy"] = started[1]
        time.sleep(1.0)
        wanted = args.only
        if wanted in (None, "coldstart"):
            report += scenario_footprint(servers, cold_starts)
        if wanted in (None, "throughput"):
            report += scenario_throughput(servers, args.seconds)
        if wanted in (None, "overhead"):
            report += scenario_overhead(servers, args.requests)
        if wanted in (None, "concurrency"):
            report += scenario_concurrency(servers, args.requests * 5)
        if wanted in (None, "streaming"):
            report += scenario_streaming(servers, args.requests // 2)
        if wanted in (None, "cache"):
            report += scenario_cache(servers, args.seconds)
        if wanted in (None, "state"):
            report += scenario_state_backend(upstream_port, workdir, args)
        if wanted in (None, "metrics"):
            report += scenario_metrics_cost(upstream_port, workdir, args)
    print("\n".join(report))


if __name__ == "__main__":
    main()
