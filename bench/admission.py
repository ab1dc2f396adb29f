"""Admission benchmark: /health under wrk, and the gateway under 8x more load than a deployment takes.

    python bench/admission.py [--health-seconds 30] [--overload-requests 6000]

1. VAPORA's own check: ``wrk -t4 -c100 -d30s`` against ``/health`` with 2 workers.
2. Overload: concurrency 256 against a deployment with ``max_concurrency: 32`` (and a
   queue of 32) in front of a 50 ms upstream; meanwhile a prober measures ``/health``.
   Every answer must be a success or a fast 429, and memory must stay bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile
from procs import Server, bench_session, free_port, rss_mb, start_raceway, start_upstream


def config(upstream_port: int) -> str:
    return f"""
server: {{graceful_timeout: 5s}}
deployments:
  - {{name: capped, provider: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", model: bench-50ms,
     max_concurrency: 32, max_queue: 32, queue_timeout: 2s}}
models:
  - {{name: capped, deployments: [capped]}}
"""


def wrk_health(url: str, seconds: int) -> tuple[float, str, str]:
    output = subprocess.run(
        ["wrk", "-t4", "-c100", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
    ).stdout
    rps = float(next(line.split()[1] for line in output.splitlines() if line.startswith("Requests/sec")))
    latency = {
        line.split()[0]: line.split()[1]
        for line in output.splitlines()
        if line.strip().startswith(("50%", "99%"))
    }
    return rps, latency.get("50%", "?"), latency.get("99%", "?")


async def probe_health(url: str, stop: asyncio.Event) -> list[float]:
    timings = []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            started = time.perf_counter()
            async with session.get(url) as response:
                await response.read()
            timings.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    return timings


async def timed_statuses(
    url: str, total: int, concurrency: int, *, backoff: bool
) -> tuple[list[float], list[float], int, float]:
    """Latencies of successes and of 429s, other answers, elapsed.

    With ``backoff`` each client waits the 429's Retry-After before its next request, as
    the openai SDK does; without it, clients hammer the gateway in a closed loop.
    """
    body = b'{"model": "capped", "messages": [{"role": "user", "content": "ping"}]}'
    ok: list[float] = []
    refused: list[float] = []
    other = 0
    remaining = total
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def worker() -> None:
            nonlocal remaining, other
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post(
                    url, data=body, headers={"content-type": "application/json"}
                ) as response:
                    await response.read()
                elapsed = time.perf_counter() - started
                if response.status == 200:
                    ok.append(elapsed)
                elif response.status == 429:
                    refused.append(elapsed)
                    if backoff:
                        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
                else:
                    other += 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return ok, refused, other, time.perf_counter() - began


async def overload_run(
    gateway: Server, health_url: str, total: int, *, backoff: bool
) -> tuple[list[float], list[float], int, float, list[float]]:
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_health(health_url, stop))
    ok, refused, other, elapsed = await timed_statuses(gateway.url, total, 256, backoff=backoff)
    stop.set()
    return ok, refused, other, elapsed, await prober


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--health-seconds", type=int, default=30)
    parser.add_argument("--overload-requests", type=int, default=6000)
    args = parser.parse_args()
    report: list[str] = []
    with bench_session() as (workdir, servers):
        upstream_port = free_port()
        servers.append(start_upstream(upstream_port))
        port = free_port()
        gateway, _ = start_raceway(config(upstream_port), port, workdir, workers=2)
        servers.append(gateway)
        health = f"http://127.0.0.1:{port}/health"
        time.sleep(0.5)
        if shutil.which("wrk"):
            rps, p50, p99 = wrk_health(health, args.health_seconds)
            report += [
                f"### /health under wrk -t4 -c100 -d{args.health_seconds}s (2 workers)",
                "",
                "| requests/s | p50 | p99 |",
                "|---|---|---|",
                f"| {rps:,.0f} | {p50} | {p99} |",
                "",
            ]
        workers = [pid for pid in gateway.tree() if pid != gateway.process.pid and rss_mb(pid) > 30]
        report += [
            f"### Overload: concurrency 256, {args.overload_requests} requests, "
            "deployment max_concurrency 32 (+32 queued), 50 ms upstream",
            "",
            "| clients | answers | successes | 429s | other | success p50 / p99 ms | 429 p50 / p99 ms "
            "| /health p50 / p99 ms | RSS per worker before → after MB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for backoff in (False, True):
            rss_before = [rss_mb(pid) for pid in workers]
            ok, refused, other, elapsed, health_times = asyncio.run(
                overload_run(gateway, health, args.overload_requests, backoff=backoff)
            )
            rss_after = [rss_mb(pid) for pid in workers]
            answers = len(ok) + len(refused) + other
            memory = (
                f"{' / '.join(f'{v:.0f}' for v in rss_before)} → {' / '.join(f'{v:.0f}' for v in rss_after)}"
            )
            report.append(
                f"| {'honour Retry-After' if backoff else 'closed loop, no backoff'} "
                f"| {answers} in {elapsed:.1f} s | {len(ok)} | {len(refused)} | {other} | "
                f"{percentile(ok, 50) * 1000:.1f} / {percentile(ok, 99) * 1000:.1f} | "
                f"{percentile(refused, 50) * 1000:.1f} / {percentile(refused, 99) * 1000:.1f} | "
                f"{percentile(health_times, 50) * 1000:.1f} / {percentile(health_times, 99) * 1000:.1f} | "
                f"{memory} |"
            )
        report.append("")
    print("\n".join(report))


if __name__ == "__main__":
    main()
