"""The floor: the cheapest gateway Raceway's own stack allows, to measure Raceway against.

Starlette on hypercorn with uvloop, N worker processes each on its own ``SO_REUSEPORT``
socket with Raceway's listen backlog and garbage-collector settings, one pooled aiohttp
session per worker (Raceway's connector settings). No routing, no metrics, no log: ``POST /v1/chat/completions`` forwards
the body as it came to the upstream and returns its answer, or relays its stream chunk by
chunk as the chunks arrive. ``GET /health`` answers 200.

    python bench/floor_app.py --port 9200 --upstream http://127.0.0.1:9100 --workers 2
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import multiprocessing
import signal
import socket
from collections.abc import AsyncIterator

BACKLOG = 2048  # Raceway's default ``server.backlog``
KEEP_ALIVE = 75.0  # Raceway's default ``server.keep_alive_timeout``
YOUNG_THRESHOLD = 10_000  # Raceway's worker collector (router.runtime.collector.YOUNG_THRESHOLD)


def build_app(upstream: str) -> object:
    import aiohttp
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    url = upstream.rstrip("/") + "/v1/chat/completions"
    sessions: list[aiohttp.ClientSession] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30)
        sessions.append(aiohttp.ClientSession(connector=connector, trust_env=False))
        try:
            yield
        finally:
            await sessions[0].close()

    async def chat(request: Request) -> Response:
        body = await request.body()
        answer = await sessions[0].post(url, data=body, headers={"content-type": "application/json"})
        if answer.content_type != "text/event-stream":
            payload = await answer.read()
            answer.release()
            return Response(payload, status_code=answer.status, media_type="application/json")

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.content.iter_any():
                    yield chunk
            finally:
                answer.release()

        return StreamingResponse(relay(), status_code=answer.status, media_type="text/event-stream")

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/health", health)],
        lifespan=lifespan,
    )


def run_worker(host: str, port: int, upstream: str, backlog: int) -> None:
    import uvloop
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.setblocking(False)
    config = Config()
    config.bind = [f"fd://{sock.fileno()}"]
    config.backlog = backlog
    config.keep_alive_timeout = KEEP_ALIVE
    config.accesslog = None
    config.include_server_header = False
    app = build_app(upstream)
    # Raceway's worker collector settings (router/runtime/collector.py), so that the ratio to the
    # floor measures the gateway's own work, not a tuning the floor could have as well.
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the upstream's base URL")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backlog", type=int, default=BACKLOG)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=run_worker, args=(args.host, args.port, args.upstream, args.backlog))
        for _ in range(args.workers)
    ]
    for worker in workers:
        worker.start()

    def stop(signum: int, frame: object) -> None:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()  # SIGTERM: the worker drains and exits

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.join()


if __name__ == "__main__":
    main()
