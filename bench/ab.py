"""Interleaved A/B of the pass-through hot path: an earlier build against this checkout.

    python bench/ab.py BASE_REV [--rounds 4] [--seconds 5] [--workers 2] [--stream] [--model c0]

BASE_REV is checked out into a temporary git worktree; both builds serve the same config
(native pass-through to the 0 ms fake upstream, no cache, no keys) at the same time, and
wrk -t2 -c64 loads one of them at a time, alternating which goes first each round, so a
change in the machine's speed hits both alike. The steady figure is the gateway's CPU per
request (user + system of the whole process tree, from /proc). ``--stream`` asks for streams
instead (20 chunks 10 ms apart; ``--model s0`` back to back): the figure is then CPU per
stream. ``--model c0`` asks the group behind the response cache (``always``): after the first,
every answer is a replay; ``--model b0`` an upstream that writes a whole stream at once. Needs
Debian's wrk.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import REPO, Server, bench_session, free_port, measure_cpu, start_raceway, start_upstream
from run import raceway_config, wrk


def worktree(revision: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(into), revision], check=True)
    return into


def measure(server: Server, model: str, seconds: int, stream: bool) -> tuple[float, float]:
    """(requests/s, CPU ms per request) of one wrk run against ``server``."""
    (rps, _, _), cpu, _ = measure_cpu(server, lambda: wrk(server.url, model, 64, seconds, stream=stream))
    return rps, cpu / (rps * seconds) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base", help="the git revision to compare against (e.g. HEAD~1)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stream", action="store_true", help="20-chunk streams instead of JSON answers")
    parser.add_argument(
        "--model",
        choices=["m0", "s0", "c0", "b0"],
        default="m0",
        help="m0 streams 20 chunks 10 ms apart; s0 back to back; c0: answers from the cache; "
        "b0: an upstream that sends a stream in one write",
    )
    args = parser.parse_args()
    revision = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", args.base],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    scratch = Path(tempfile.mkdtemp(prefix="raceway-ab-"))
    base_tree = worktree(revision, scratch / "base")
    try:
        with bench_session() as (workdir, servers):
            upstream_port = free_port()
            servers.append(start_upstream(upstream_port))
            config = raceway_config(upstream_port)
            builds: dict[str, Server] = {}
            for name, source in ((f"base {revision}", base_tree), ("this checkout", REPO)):
                server, _ = start_raceway(config, free_port(), workdir, args.workers, source=source)
                servers.append(server)
                builds[name] = server
                wrk(server.url, args.model, 64, 2, stream=args.stream)  # warm-up
            results: dict[str, list[tuple[float, float]]] = {name: [] for name in builds}
            for round_index in range(args.rounds):
                order = list(builds) if round_index % 2 == 0 else list(reversed(builds))
                for name in order:
                    results[name].append(measure(builds[name], args.model, args.seconds, args.stream))
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base_tree)], check=False)
    what = ("20-chunk streams" if args.stream else "JSON answers") + (
        " from the cache" if args.model == "c0" else ""
    )
    print(f"{what}, wrk -t2 -c64, {args.seconds} s a run, {args.rounds} interleaved rounds, ", end="")
    print(f"{args.workers} workers")
    print("| build | requests/s per round | CPU ms/request per round | median CPU ms/request |")
    print("|---|---|---|---|")
    medians = {}
    for name, runs in results.items():
        medians[name] = statistics.median(cpu for _, cpu in runs)
        rates = " / ".join(f"{rps:,.0f}" for rps, _ in runs)
        cpus = " / ".join(f"{cpu:.3f}" for _, cpu in runs)
        print(f"| {name} | {rates} | {cpus} | {medians[name]:.3f} |")
    base, this = medians.values()
    print(f"this checkout vs base: {(this / base - 1) * 100:+.1f} % CPU per request (median)")
    base_runs, this_runs = results.values()
    paired = sorted(t[1] / b[1] for b, t in zip(base_runs, this_runs, strict=True))
    print(
        f"paired (each round's ratio, which cancels the machine's drift between rounds): median"
        f" {(statistics.median(paired) - 1) * 100:+.1f} %, range {(paired[0] - 1) * 100:+.1f} %"
        f" to {(paired[-1] - 1) * 100:+.1f} %"
    )


if __name__ == "__main__":
    main()
