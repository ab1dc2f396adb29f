"""Routing benchmark: tail latency under round_robin, race and hedge; fallback under failures.

Two fake upstreams with heavy-tailed latency (50 ms, but 1,000 ms for 5 % of requests)
serve two deployments (three for ``hedge3``, which may start a third call when the first two
are both slow; ``hedge3-100ms`` hedges after a fixed 100 ms instead of each deployment's p95);
concurrency 32, a fixed number of requests per strategy. The number of upstream calls per
request comes from Raceway's own metrics.

    python bench/routing.py [--requests 3000] [--groups hedge hedge3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile, run_load
from procs import Server, bench_session, free_port, start_raceway, start_upstream

TAIL = "bench-tail-50ms-1000ms-5pct"
FLAKY = "bench-50ms-fail-30pct"
STEADY = "bench-50ms"


def config(port_a: int, port_b: int) -> str:
    return f"""
server: {{graceful_timeout: 5s}}
deployments:
  - {{name: tail-a, provider: openai, base_url: "http://127.0.0.1:{port_a}/v1", model: {TAIL}}}
  - {{name: tail-b, provider: openai, base_url: "http://127.0.0.1:{port_b}/v1", model: {TAIL}}}
  - {{name: tail-c, provider: openai, base_url: "http://127.0.0.1:{port_a}/v1", model: {TAIL}}}
  - {{name: flaky, provider: openai, base_url: "http://127.0.0.1:{port_a}/v1", model: {FLAKY}}}
  - {{name: steady, provider: openai, base_url: "http://127.0.0.1:{port_b}/v1", model: {STEADY}}}
models:
  - {{name: rr, deployments: [tail-a, tail-b], strategy: round_robin}}
  - {{name: race, deployments: [tail-a, tail-b], strategy: race}}
  - {{name: hedge, deployments: [tail-a, tail-b], strategy: hedge, hedge_delay: auto}}
  - {{name: hedge3, deployments: [tail-a, tail-b, tail-c], strategy: hedge, hedge_delay: auto,
      max_parallel: 3}}
  - {{name: hedge3-100ms, deployments: [tail-a, tail-b, tail-c], strategy: hedge, hedge_delay: 100ms,
      max_parallel: 3}}
  - {{name: fallback, deployments: [flaky, steady], strategy: fallback}}
"""


GROUPS = ("rr", "race", "hedge", "hedge3", "hedge3-100ms", "fallback")


def upstream_calls(gateway: Server) -> float:
    metrics = httpx.get(gateway.url.replace("/v1/chat/completions", "/metrics"), timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("raceway_upstream_requests_total{")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--groups", nargs="+", choices=GROUPS, default=list(GROUPS))
    args = parser.parse_args()
    report = [
        f"### Routing: {args.requests} requests per strategy at concurrency {args.concurrency}, "
        f"upstream 50 ms with 5 % at 1,000 ms",
        "",
        "| model group | success | p50 ms | p99 ms | max ms | upstream calls per request |",
        "|---|---|---|---|---|---|",
    ]
    with bench_session() as (workdir, servers):
        port_a, port_b = free_port(), free_port()
        servers += [start_upstream(port_a), start_upstream(port_b)]
        gateway, _ = start_raceway(config(port_a, port_b), free_port(), workdir, workers=2)
        servers.append(gateway)
        time.sleep(0.5)
        for group in args.groups:
            before = upstream_calls(gateway)
            body = {"model": group, "messages": [{"role": "user", "content": "ping"}]}
            result = asyncio.run(
                run_load(gateway.url, body, concurrency=args.concurrency, total=args.requests, time_cap=240)
            )
            calls = (upstream_calls(gateway) - before) / max(1, result.count)
            report.append(
                f"| {group} | {result.ok() / max(1, result.count) * 100:.2f} % | "
                f"{percentile(result.latencies, 50) * 1000:.1f} | "
                f"{percentile(result.latencies, 99) * 1000:.1f} | "
                f"{max(result.latencies) * 1000:.0f} | {calls:.3f} |"
            )
    print("\n".join(report))


if __name__ == "__main__":
    main()
