"""What tracing costs: server CPU per request with tracing off, and on at sample_ratio 1.0 and 0.1.

    python bench/tracing.py [--seconds 10] [--rounds 3] [--workers 1] [--connections 32]

The same wrk run (0 ms fake upstream, small chat request) against one Raceway at a time:
tracing off (no ``telemetry`` section: the SDK is never imported), then ``telemetry.traces``
pointed at a real OTLP/HTTP receiver (``bench/otlp_sink.py``: ``tests/otlp_receiver.py`` in
a process of its own, so its decoding neither counts as the server's CPU nor competes with
the server in this process) at ``sample_ratio`` 1.0 and 0.1. CPU is the server's whole process
tree (supervisor and workers, the span export thread included), from /proc. The variants
take turns, ``--rounds`` times, and each row is the median of its rounds: on a machine
shared with other work, load that comes and goes then falls on every variant alike.
Needs ``wrk``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))
import httpx
from procs import bench_session, free_port, measure_cpu, start_raceway, start_sink, start_upstream
from run import raceway_config, wrk


def telemetry(endpoint: str, ratio: float) -> str:
    return f"telemetry: {{traces: {{endpoint: '{endpoint}', sample_ratio: {ratio}}}}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="measured wrk run per variant")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every variant; rows are medians")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    lines = [
        f"### Cost of tracing: 0 ms upstream, wrk -t2 -c{args.connections} -d{args.seconds}s, "
        f"{args.workers} worker(s), median of {args.rounds} rounds",
        "",
        "| tracing | requests/s | server CPU ms/request | CPU vs off | spans received (warm-up too) |",
        "|---|---|---|---|---|",
    ]
    with bench_session() as (workdir, servers):
        upstream_port, sink_port = free_port(), free_port()
        servers.append(start_upstream(upstream_port))
        sink = start_sink(sink_port)
        servers.append(sink)
        variants = [
            ("off", ""),
            ("on, sample_ratio 1.0", telemetry(sink.url, 1.0)),
            ("on, sample_ratio 0.1", telemetry(sink.url, 0.1)),
        ]
        runs: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in variants}
        for _ in range(args.rounds):
            for label, block in variants:
                config = raceway_config(upstream_port) + block
                server, _ = start_raceway(config, free_port(), workdir, args.workers)
                try:
                    httpx.post(f"{sink.url}/clear")
                    wrk(server.url, "m0", args.connections, 2)  # warm up (lazy imports, pools)
                    (rps, _, _), cpu, _ = measure_cpu(
                        server, lambda s=server: wrk(s.url, "m0", args.connections, args.seconds)
                    )
                finally:
                    server.stop()  # flushes the spans still queued
                received = int(httpx.get(f"{sink.url}/count").text)
                runs[label].append((rps, cpu / (rps * args.seconds) * 1000, received))
        baseline = statistics.median(per_request for _, per_request, _ in runs["off"])
        for label, measured in runs.items():
            rps = statistics.median(run[0] for run in measured)
            per_request = statistics.median(run[1] for run in measured)
            spans = int(statistics.median(run[2] for run in measured))
            lines.append(
                f"| {label} | {rps:,.0f} | {per_request:.3f} | {(per_request / baseline - 1) * 100:+.1f} % "
                f"| {spans:,} |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
