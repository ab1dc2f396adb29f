"""Where a dialect path spends its CPU: one Raceway worker in-process under cProfile, loaded by wrk.

    python bench/profile_dialects.py "messages pass-through" --large --stream [--seconds 5] [--top 25]

The path names are those of ``bench/dialects.py``; the worker serves that script's config
(hypercorn on uvloop, as ``raceway serve`` runs a worker, access log to /dev/null) next to
the fake upstream, and wrk -t2 -c64 loads it for ``--seconds``. Prints the functions with the
most own time and, separately, Raceway's own functions by cumulative time. cProfile slows
everything by a similar factor, so read shares, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dialects import PATHS, Cell, raceway_config, wrk
from procs import REPO, Server, bench_session, free_port, start_upstream, wait_health

sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("path", choices=[p.label for p in PATHS if p.server == "raceway"])
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--stream", action="store_true")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config as HypercornConfig

    from router.config.load import load_config
    from router.http.app import create_app

    access = logging.getLogger("raceway.access")
    access.propagate = False
    access.addHandler(logging.StreamHandler(open(os.devnull, "w")))  # noqa: SIM115
    route = next(p for p in PATHS if p.label == args.path)
    cell = Cell(route, args.large, args.stream)
    with bench_session() as (workdir, running):
        upstream_port = free_port()
        running.append(start_upstream(upstream_port))
        config_file = workdir / "raceway.yaml"
        config_file.write_text(raceway_config(upstream_port))
        app = create_app(load_config(config_file))
        port = free_port()
        hypercorn_config = HypercornConfig()
        hypercorn_config.bind = [f"127.0.0.1:{port}"]
        hypercorn_config.accesslog = None
        url_root = f"http://127.0.0.1:{port}"
        servers = {"raceway": Server("raceway", None, f"{url_root}/v1/chat/completions", "")}  # type: ignore[arg-type]
        body = Path(tempfile.mkdtemp(dir=workdir)) / "body.json"
        body.write_bytes(cell.body())
        profile = cProfile.Profile()

        async def run() -> tuple[float, int]:
            stop = asyncio.Event()
            server = asyncio.create_task(serve(app, hypercorn_config, shutdown_trigger=stop.wait))  # type: ignore[arg-type]
            await asyncio.to_thread(
                wait_health, f"{url_root}/health", cast("subprocess.Popen[bytes]", _Alive())
            )
            await asyncio.to_thread(wrk, cell.url(servers), body, 64, 2)  # warm-up
            profile.enable()
            result = await asyncio.to_thread(wrk, cell.url(servers), body, 64, args.seconds)
            profile.disable()
            stop.set()
            await server
            return result

        rps, errors = uvloop.run(run())
    print(f"{args.path} {cell.variant}: {rps:,.0f} requests/s under cProfile, {errors} failed")
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(r"router/", args.top)
    print(out.getvalue())


class _Alive:
    """Stands in for a Popen in ``wait_health``: the in-process server is always alive."""

    returncode = None

    def poll(self) -> None:
        return None


if __name__ == "__main__":
    main()
