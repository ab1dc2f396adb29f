"""Interleaved A/B of the request log's cost on the hot path: the same checkout with
``server.request_log`` off, on (SQLite, the default), and on with ``bodies: true``.

    python bench/request_log.py [--rounds 4] [--seconds 5] [--workers 2]

Every arm serves the same config (native pass-through to the 0 ms fake upstream, no cache,
no keys, access log on) at the same time; wrk -t2 -c64 loads one at a time, the order
rotating each round, so a change in the machine's speed hits every arm alike. The figure is
the gateway's CPU per request (user + system of the whole process tree, from /proc): with
the log on it includes the writer threads' SQLite inserts, which run off the event loop but
on the same two cores. Needs Debian's wrk.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ab import measure
from procs import Server, bench_session, free_port, start_raceway, start_upstream
from run import raceway_config, wrk


def arms(workdir: Path) -> dict[str, str]:
    """The ``server`` block of each arm."""
    log = workdir / "requests.sqlite3"
    return {
        "request log off": "graceful_timeout: 5s, request_log: {enabled: false}",
        "request log on (SQLite)": f"graceful_timeout: 5s, request_log: {{path: '{log}'}}",
        "on, with bodies": f"graceful_timeout: 5s, request_log: {{path: '{log}.bodies', bodies: true}}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with bench_session() as (workdir, servers):
        upstream_port = free_port()
        servers.append(start_upstream(upstream_port))
        builds: dict[str, Server] = {}
        for name, server_block in arms(workdir).items():
            server, _ = start_raceway(
                raceway_config(upstream_port, server_block), free_port(), workdir, args.workers
            )
            servers.append(server)
            builds[name] = server
            wrk(server.url, "m0", 64, 2)  # warm-up
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in builds}
        names = list(builds)
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                results[name].append(measure(builds[name], args.seconds))
    print(f"wrk -t2 -c64, {args.seconds} s a run, {args.rounds} interleaved rounds, {args.workers} workers")
    print("| arm | requests/s per round | CPU ms/request per round | median CPU ms/request |")
    print("|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(cpu for _, cpu in runs)
        rates = " / ".join(f"{rps:,.0f}" for rps, _ in runs)
        cpus = " / ".join(f"{cpu:.3f}" for _, cpu in runs)
        print(f"| {name} | {rates} | {cpus} | {medians[name]:.3f} |")
    off = medians[names[0]]
    for name in names[1:]:
        print(f"{name} vs off: {(medians[name] / off - 1) * 100:+.1f} % CPU per request (median)")


if __name__ == "__main__":
    main()
