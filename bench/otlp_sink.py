"""A real OTLP/HTTP trace receiver in a process of its own, for the benchmarks.

    python bench/otlp_sink.py --port PORT

Serves ``tests/otlp_receiver.py``'s receiver (decoding every export, as a collector would)
until killed, and answers ``GET /count`` with the number of spans received so far (``POST
/clear`` resets it). Its own process keeps its decoding off the CPU of the process measured.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from aiohttp import web

from tests.otlp_receiver import OtlpReceiver


async def serve(port: int) -> None:
    receiver = OtlpReceiver()

    async def count(_: web.Request) -> web.Response:
        return web.Response(text=str(len(receiver.spans)))

    async def clear(_: web.Request) -> web.Response:
        receiver.clear()
        return web.Response(text="0")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/traces", receiver._export)
    app.router.add_get("/count", count)
    app.router.add_post("/clear", clear)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
