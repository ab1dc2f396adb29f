"""A scripted OpenAI-compatible upstream: a real aiohttp server on 127.0.0.1.

Behaviour is chosen by the upstream model name a request carries, so each deployment
of a test config (pointing at the same server with its own ``model``) can act
differently: slow, failing, stalling, or cutting its stream. A list of behaviours is
played in order, the last one repeating.

Besides answers, it can misbehave the ways real upstreams (or what sits in front of them)
do: a body that is not a completion, a huge body or stream line sent piece by piece
(never held whole here), a gzip bomb, a stream that ends without ``[DONE]``, resets its
connection or sends an error event midway.

Every answer carries an ``x-request-id`` of its own (recorded with the request), as
OpenAI's do. Tests wait for what the upstream saw, never for time to pass: ``arrived`` returns once a
request for a model has come in, ``disconnected`` once its client abandoned it.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import socket
import struct
import threading
import time
import zlib
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
    headers: dict[str, str] = field(default_factory=dict)  # sent with the answer, whatever its status
    chunk_delay: float = 0.0  # between stream chunks
    first_content_delay: float = 0.0  # after the role chunk, before the first content chunk
    cut_after: int | None = None  # close the stream after this many content chunks, no [DONE]
    stall: bool = False  # never answer
    after: str | None = None  # answer only once a request for this model has arrived too
    release: asyncio.Event | None = None  # answer only once the test sets it (tests on the server's loop)
    body: bytes | None = None  # sent as is, with ``status`` and ``content_type``, instead of an answer
    content_type: str = "application/json"
    # A body of this many bytes (JSON that never ends: a completion, or an error without a
    # 200) or, for a stream, one event line of this many bytes that never ends; sent in pieces.
    huge: int = 0
    gzip: bool = False  # with ``huge``: send it gzip-compressed (a gzip bomb: ~1000 times smaller)
    end_without_done: bool = False  # end the stream cleanly after its content, without [DONE]
    reset_after: int | None = None  # reset the connection (TCP RST) after this many content chunks
    error_after: int | None = None  # send ``error`` as an SSE event after this many content chunks


@dataclass
class Seen:
    model: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    request_id: str = ""  # the x-request-id the upstream answered with


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
        request_id = f"req_up_{next(self._ids)}"
        self._record(request=Seen(model, body, dict(request.headers), request.path, request_id))
        behaviour = self._next(model)
        headers = {"x-request-id": request_id, **behaviour.headers}
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
            if behaviour.body is not None:
                return web.Response(
                    body=behaviour.body,
                    status=behaviour.status,
                    content_type=behaviour.content_type,
                    headers=behaviour.headers,
                )
            if behaviour.huge and (behaviour.status != 200 or not body.get("stream")):
                return await self._huge(request, model, behaviour)
            if behaviour.status != 200:
                error = behaviour.error or {"error": {"message": f"scripted {behaviour.status}", "type": "x"}}
                return web.json_response(error, status=behaviour.status, headers=headers)
            if body.get("stream"):
                return await self._stream(request, body, model, behaviour, headers)
            return web.json_response(self._completion(model, behaviour.reply, body), headers=headers)
        except asyncio.CancelledError:
            self._record(disconnect=model)
            raise

    async def _huge(self, request: web.Request, model: str, behaviour: Behaviour) -> web.StreamResponse:
        """A JSON body of ``behaviour.huge`` bytes that never closes, written piece by piece."""
        if behaviour.status == 200:
            opening = b'{"id": "huge", "object": "chat.completion", "choices": [{"message": {"content": "'
        else:
            opening = b'{"error": {"message": "'
        headers = {"content-type": "application/json", **behaviour.headers}
        pieces: list[bytes] | None = None
        if behaviour.gzip:
            headers["content-encoding"] = "gzip"
            pieces = _gzip_pieces(opening, behaviour.huge)
        response = web.StreamResponse(status=behaviour.status, headers=headers)
        await response.prepare(request)
        try:
            if pieces is not None:
                for piece in pieces:
                    await response.write(piece)
            else:
                await response.write(opening)
                for size in _pieces(behaviour.huge - len(opening)):
                    await response.write(b"x" * size)
            await response.write_eof()
        except ConnectionResetError:  # the client stopped reading, as it should
            self._record(disconnect=model)
        return response

    def _completion(self, model: str, reply: str, body: dict[str, Any]) -> dict[str, Any]:
        choice = {"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
        if body.get("logprobs"):
            words = _words(reply)
            choice["logprobs"] = {"content": [_logprob(body, i, word) for i, word in enumerate(words)]}
        return {
            "id": f"chatcmpl-up-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        }

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        model: str,
        behaviour: Behaviour,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", **headers})
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
            if behaviour.huge:
                await response.write(b'data: {"choices": [{"index": 0, "delta": {"content": "')
                for size in _pieces(behaviour.huge):
                    await response.write(b"x" * size)
                await response.write_eof()
                return response
            for index, word in enumerate(_words(behaviour.reply)):
                if behaviour.cut_after is not None and index >= behaviour.cut_after:
                    await response.write(b'data: {"id": "partial-ev')  # half an event, then gone
                    assert request.transport is not None
                    request.transport.close()
                    return response
                if behaviour.reset_after is not None and index >= behaviour.reset_after:
                    _reset(request)
                    return response
                if behaviour.error_after is not None and index >= behaviour.error_after:
                    error = behaviour.error or {"error": {"message": "scripted midway failure", "type": "x"}}
                    await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
                    await response.write(b"data: [DONE]\n\n")
                    await response.write_eof()
                    return response
                if index and behaviour.chunk_delay:
                    await asyncio.sleep(behaviour.chunk_delay)
                choice: dict[str, Any] = {"index": 0, "delta": {"content": word}, "finish_reason": None}
                if body.get("logprobs"):
                    choice["logprobs"] = {"content": [_logprob(body, index, word)]}
                await send([choice])
            await send([{"index": 0, "delta": {}, "finish_reason": "stop"}])
            if (body.get("stream_options") or {}).get("include_usage"):
                await send([], usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9})
            if not behaviour.end_without_done:
                await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:  # a cancelled handler is recorded by the caller
            self._record(disconnect=model)
            raise
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = body.get("model", "")
        self._record(request=Seen(model, body, dict(request.headers), request.path))
        behaviour = self._next(model)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.body is not None:
            return web.Response(
                body=behaviour.body, status=behaviour.status, content_type=behaviour.content_type
            )
        if behaviour.status != 200:
            return web.json_response(
                behaviour.error or {"error": {"message": "scripted"}}, status=behaviour.status
            )
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))]
        return web.json_response(
            {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 3, "total_tokens": 3}}
        )


_PIECE = 64 * 1024


def _pieces(total: int) -> Iterator[int]:
    """Sizes of the pieces ``total`` bytes are written in."""
    while total > 0:
        yield min(_PIECE, total)
        total -= _PIECE


@functools.cache
def _gzip_pieces(opening: bytes, decoded: int) -> list[bytes]:
    """``opening`` then ``x``s, ``decoded`` bytes in all, gzip-compressed (once per size)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    pieces = [compressor.compress(opening)]
    for size in _pieces(decoded - len(opening)):
        pieces.append(compressor.compress(b"x" * size))
    pieces.append(compressor.flush())
    return [piece for piece in pieces if piece]


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP RST instead of an orderly close."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _words(reply: str) -> list[str]:
    """The answer's tokens: one a word, each after the first with its leading space."""
    return [(" " if index else "") + word for index, word in enumerate(reply.split(" "))]


def _logprob(body: dict[str, Any], position: int, token: str) -> dict[str, Any]:
    """A made-up but well-formed logprob for the ``position``-th token, with ``top_logprobs`` alternatives."""
    logprob = -0.25 * (position + 1)
    alternatives = [
        {"token": token if rank == 0 else f"{token}~{rank}", "logprob": logprob - rank, "bytes": None}
        for rank in range(body.get("top_logprobs") or 0)
    ]
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": alternatives}
