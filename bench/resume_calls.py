"""What ``resume`` costs a stream that never breaks, counted instead of timed.

    python bench/resume_calls.py [--streams 100] [--rounds 2]

``bench/resume.py`` times the gateway's CPU per stream from /proc; on a shared virtual machine
its rounds spread by ±20 %, too much to see a cost of 2 %. This counts the function calls (Python
and C, with cProfile) that one worker makes per stream, in process: ``bench/resume.py``'s
groups ``on`` (with ``resume``) and ``off``, the same 40-word chat streams from its upstreams,
never cut, read through httpx's ASGI transport (its calls are counted too, the same for both).
A call count does not depend on the machine's speed: the figure is steady from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import resume as resume_bench
from procs import free_port

from router.config.load import parse_config
from router.http.app import create_app

URL = "http://gateway/v1/chat/completions"


async def run(args: argparse.Namespace) -> None:
    upstreams = resume_bench.Upstreams(40, 0.0, 0.0, seed=1)  # no gap, no cut
    runner = web.AppRunner(upstreams.app(), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    config = parse_config(resume_bench.config(f"http://127.0.0.1:{port}").encode(), {})
    # The access log writes to the stdout the app was made with: this one, open for the run.
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230
    stdout, sys.stdout = sys.stdout, devnull
    try:
        app = create_app(config)
    finally:
        sys.stdout = stdout
    counts: dict[str, list[float]] = {"off": [], "on": []}
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", timeout=60
            ) as client:

                async def streams(model: str, count: int, tag: str) -> None:
                    for number in range(count):
                        await resume_bench.one_stream(client, URL, model, f"{tag}-{number}", upstreams.words)

                await streams("off", 20, "warm-off")
                await streams("on", 20, "warm-on")
                for round_number in range(args.rounds):
                    for model in ("off", "on") if round_number % 2 == 0 else ("on", "off"):
                        profile = cProfile.Profile(time.thread_time)
                        profile.enable()
                        await streams(model, args.streams, f"{model}-{round_number}")
                        profile.disable()
                        calls = sum(entry[1] for entry in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
                        counts[model].append(calls / args.streams)
    finally:
        await runner.cleanup()
        devnull.close()
    off, on = min(counts["off"]), min(counts["on"])
    print(f"{args.streams} streams a round, {args.rounds} rounds: function calls per stream")
    print(f"resume off: {off:,.0f}   on: {on:,.0f}   ({(on - off) / off:+.2%})")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
