"""A scripted OpenAI-compatible upstream: a real aiohttp server on 127.0.0.1.

Behaviour is chosen by the upstream model name a request carries, so each deployment
of a test config (pointing at the same server with its own ``model``) can act
differently: slow, failing, stalling, or cutting its stream. A list of behaviours is
played in order, the last one repeating.

Tests wait for what the upstream saw, never for time to pass: ``arrived`` returns once a
request for a model has come in, ``disconnected`` once its client abandoned it.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

PATIENCE = 5.0  # the longest any wait here lasts: a test that goes wrong fails rather than hangs


@dataclass(frozen=True)
class Behaviour:
    status: int = 200
    delay: float = 0.0  # before the response starts
    reply: str = "hello from upstream"
    error: dict[str, Any] | None = None  # body of a non-200 answer
    headers: dict[str, str] = field(default_factory=dict)
    chunk_delay: float = 0.0  # between stream chunks
    first_content_delay: float = 0.0  # after the role chunk, before the first content chunk
    cut_after: int | None = None  # close the stream after this many content chunks, no [DONE]
    stall: bool = False  # never answer
    after: str | None = None  # answer only once a request for this model has arrived too
    release: asyncio.Event | None = None  # answer only once the test sets it (tests on the server's loop)


@dataclass
class Seen:
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str


class FakeUpstream:
    def __init__(self) -> None:
        self._scripts: dict[str, list[Behaviour]] = {}
        self.requests: list[Seen] = []
        self.disconnects: list[str] = []  # models whose call the client abandoned
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()  # set, and replaced, whenever a request arrives or is abandoned
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the thread's loop, when served from one
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self._scripts.clear()
        self.requests.clear()
        self.disconnects.clear()

    def script(self, model: str, *behaviours: Behaviour) -> None:
        self._scripts[model] = list(behaviours)

    def calls(self, model: str) -> int:
        return sum(1 for seen in self.requests if seen.model == model)

    async def arrived(self, model: str, count: int = 1) -> None:
        """Return once ``count`` requests for ``model`` have come in (TimeoutError after PATIENCE)."""
        await self._until(lambda: self.calls(model) >= count)

    async def disconnected(self, model: str) -> None:
        """Return once a client has abandoned a call to ``model`` (TimeoutError after PATIENCE)."""
        await self._until(lambda: model in self.disconnects)

    async def _until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(PATIENCE):
            while not condition():
                await self._changed.wait()

    def _record(self, *, request: Seen | None = None, disconnect: str | None = None) -> None:
        if request is not None:
            self.requests.append(request)
        if disconnect is not None:
            self.disconnects.append(disconnect)
        self._changed.set()  # wakes every waiter; each looks at its condition again
        self._changed = asyncio.Event()

    def _next(self, model: str) -> Behaviour:
        script = self._scripts.get(model)
        if not script:
            return Behaviour()
        return script.pop(0) if len(script) > 1 else script[0]

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/embeddings", self._embeddings)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @contextmanager
    def running_in_thread(self) -> Iterator[FakeUpstream]:
        """Serve from a background thread's loop, for tests that are not async themselves."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        asyncio.run_coroutine_threadsafe(self.start(), loop).result(10)
        self._loop = loop
        try:
            yield self
        finally:
            self._loop = None
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    def wait_for_disconnect(self, model: str) -> bool:
        """``disconnected`` for a test on another thread than ``running_in_thread``'s loop."""
        assert self._loop is not None, "only for an upstream served by running_in_thread"
        try:
            asyncio.run_coroutine_threadsafe(self.disconnected(model), self._loop).result()
        except TimeoutError:
            return False
        return True

    # -- handlers -------------------------------------------------------------

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = body.get("model", "")
        self._record(request=Seen(model, body, dict(request.headers), request.path))
        behaviour = self._next(model)
        try:
            if behaviour.stall:
                await asyncio.sleep(3600)
            if behaviour.after is not None:
                await self.arrived(behaviour.after)
            if behaviour.release is not None:
                async with asyncio.timeout(PATIENCE):
                    await behaviour.release.wait()
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            if behaviour.status != 200:
                error = behaviour.error or {"error": {"message": f"scripted {behaviour.status}", "type": "x"}}
                return web.json_response(error, status=behaviour.status, headers=behaviour.headers)
            if body.get("stream"):
                return await self._stream(request, body, model, behaviour)
            return web.json_response(self._completion(model, behaviour.reply))
        except asyncio.CancelledError:
            self._record(disconnect=model)
            raise

    def _completion(self, model: str, reply: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-up-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }

    async def _stream(
        self, request: web.Request, body: dict[str, Any], model: str, behaviour: Behaviour
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        envelope = {"id": f"chatcmpl-up-{next(self._ids)}", "object": "chat.completion.chunk", "model": model}

        async def send(choices: list[dict[str, Any]], **extra: Any) -> None:
            await response.write(
                b"data: " + orjson.dumps({**envelope, "choices": choices, **extra}) + b"\n\n"
            )

        try:
            await send([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
            if behaviour.first_content_delay:
                await asyncio.sleep(behaviour.first_content_delay)
            for index, word in enumerate(behaviour.reply.split(" ")):
                if behaviour.cut_after is not None and index >= behaviour.cut_after:
                    await response.write(b'data: {"id": "partial-ev')  # half an event, then gone
                    assert request.transport is not None
                    request.transport.close()
                    return response
                if index and behaviour.chunk_delay:
                    await asyncio.sleep(behaviour.chunk_delay)
                await send(
                    [{"index": 0, "delta": {"content": (" " if index else "") + word}, "finish_reason": None}]
                )
            await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
            if (body.get("stream_options") or {}).get("include_usage"):
                await send([], usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:  # a cancelled handler is recorded by the caller
            self._record(disconnect=model)
            raise
        return response

    async def _embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        model = body.get("model", "")
        self._record(request=Seen(model, body, dict(request.headers), request.path))
        behaviour = self._next(model)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.status != 200:
            return web.json_response(
                behaviour.error or {"error": {"message": "scripted"}}, status=behaviour.status
            )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))]
        return web.json_response(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        )
