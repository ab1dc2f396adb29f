"""The scripted upstream of ``tests/upstream.py`` without a socket: an aiohttp-shaped session
that the real providers (``router/providers/``) post to, answered in memory from the same
scripts on the same paths (Gemini's too), so dispatch tests run on virtual time
(``tests/virtual_time.py``) with every line of the provider's code, and nothing sleeps.

Each post is one exchange: the upstream's side runs as a task of its own, as a server's
handler does, and writes its answer into a pipe the client reads in pieces. What it keeps of
HTTP: the status and the headers both ways, ``Content-Length`` for a whole body, the client's
``ClientTimeout`` (``total`` for the whole exchange, ``sock_read`` for each piece), a refused
connection for any other address, a stream cut midway (aiohttp's ``ClientPayloadError``) or
reset, and a call its client left before the answer was whole (a disconnect, as on the
socket). What it does not do, and refuses: compressed bodies and huge non-stream bodies
(``Behaviour.gzip``, ``Behaviour.huge`` without a stream) — those tests need the socket.
"""

from __future__ import annotations

import asyncio
import errno
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import orjson
from aiohttp.client_reqrep import ConnectionKey
from multidict import CIMultiDict, CIMultiDictProxy

from router.providers.factory import ProviderFactory
from tests.upstream import (
    CHAT,
    COUNT_TOKENS,
    MESSAGES,
    NO_SUCH_METHOD,
    RESPONSES,
    Behaviour,
    Fault,
    ScriptedUpstream,
    Sent,
    gemini_call,
    scripted_stream,
)
from tests.upstream_wires import Answer, Wire

_WIRES: dict[str, Wire] = {
    "/v1/chat/completions": CHAT,
    "/v1/messages": MESSAGES,
    "/v1/messages/count_tokens": COUNT_TOKENS,
    "/v1/responses": RESPONSES,
}
_EMBEDDINGS = "/v1/embeddings"
_GEMINI_MODELS = "/v1beta/models/"  # then {model}:{method}
_END = None  # the last thing in a pipe: the answer is whole


class MemoryUpstream(ScriptedUpstream):
    """Scripted like ``FakeUpstream``; reached through ``provider_factory()`` instead of a port."""

    @property
    def root_url(self) -> str:
        return "http://upstream.memory"

    def provider_factory(self) -> ProviderFactory:
        """The factory a fleet builds its providers with: native providers post here."""
        return ProviderFactory(MemorySession(self))  # type: ignore[arg-type]  # aiohttp-shaped

    async def serve(self, url_path: str, body: dict[str, Any], headers: CIMultiDict[str], pipe: Pipe) -> None:
        """The upstream's side of one exchange, as ``FakeUpstream``'s handlers answer it."""
        path, _, query = url_path.partition("?")
        if path == _EMBEDDINGS:
            await self._embeddings(body.get("model", ""), body, headers, pipe)
            return
        if path.startswith(_GEMINI_MODELS):
            call = gemini_call(path[len(_GEMINI_MODELS) :], parse_qs(query).get("alt", [None])[0])
            if call is None:
                pipe.json(404, {}, NO_SUCH_METHOD)
                return
            wire, model, streaming = call
        else:
            wire, model, streaming = _WIRES[path], body.get("model", ""), bool(body.get("stream"))
        seen = self._arrive(model, body, headers, path)
        behaviour = self._next(model)
        answer_headers = {wire.request_id_header: seen.request_id, **behaviour.headers}
        if behaviour.gzip or (behaviour.huge and (behaviour.status != 200 or not streaming)):
            raise NotImplementedError("huge and compressed bodies are sent by the socket upstream only")
        try:
            behaviour, cached = await self._wait_to_answer(model, path, body, behaviour)
            if behaviour.body is not None:
                pipe.whole(behaviour.status, behaviour.headers, behaviour.body, behaviour.content_type)
                return
            behaviour = self._continued(path, body, behaviour)
            if behaviour.status != 200:
                pipe.json(behaviour.status, answer_headers, self._refusal(path, wire, behaviour))
                return
            answer = self._answer_of(model, behaviour)
            if streaming:
                await self._stream(path, wire, answer, body, behaviour, answer_headers, pipe)
            else:
                pipe.json(200, answer_headers, self._whole(path, wire, answer, body))
            self._answered(model, cached)
        except asyncio.CancelledError:
            self._record(disconnect=model)
            raise

    async def _stream(
        self,
        path: str,
        wire: Wire,
        answer: Answer,
        body: dict[str, Any],
        behaviour: Behaviour,
        headers: dict[str, str],
        pipe: Pipe,
    ) -> None:
        pipe.start(200, {"content-type": "text/event-stream", **headers}, None)
        async with aclosing(scripted_stream(wire, answer, body, behaviour, self._noter(path))) as pieces:
            async for piece in pieces:
                pipe.pieces.put_nowait(piece)
                if isinstance(piece, Fault):
                    return
        pipe.pieces.put_nowait(_END)

    async def _embeddings(
        self, model: str, body: dict[str, Any], headers: CIMultiDict[str], pipe: Pipe
    ) -> None:
        self._arrive(model, body, headers, _EMBEDDINGS)
        behaviour = self._next(model)
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        if behaviour.body is not None:
            pipe.whole(behaviour.status, {}, behaviour.body, behaviour.content_type)
        elif behaviour.status != 200:
            pipe.json(behaviour.status, {}, behaviour.error or {"error": {"message": "scripted"}})
        else:
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]} for i in range(len(inputs))
            ]
            usage = {"prompt_tokens": 3, "total_tokens": 3}
            whole = {"object": "list", "data": data, "model": model, "usage": usage}
            self.sent.append(Sent(_EMBEDDINGS, 200, whole))
            pipe.json(200, {}, whole)


@dataclass
class Pipe:
    """What the upstream's side has sent so far: the head once, then pieces, then the end."""

    head: asyncio.Future[tuple[int, CIMultiDict[str], int | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    pieces: asyncio.Queue[bytes | Fault | None] = field(default_factory=asyncio.Queue)

    def start(self, status: int, headers: dict[str, str], length: int | None) -> None:
        self.head.set_result((status, CIMultiDict(headers), length))

    def whole(self, status: int, headers: dict[str, str], body: bytes, content_type: str) -> None:
        self.start(status, {"content-type": content_type, **headers}, len(body))
        self.pieces.put_nowait(body)
        self.pieces.put_nowait(_END)

    def json(self, status: int, headers: dict[str, str], document: dict[str, Any]) -> None:
        self.whole(status, headers, json.dumps(document).encode(), "application/json")  # as aiohttp writes it


class MemorySession:
    """Stands for the worker's ``aiohttp.ClientSession``: ``post`` and ``close``, nothing more."""

    def __init__(self, upstream: MemoryUpstream) -> None:
        self._upstream = upstream
        self.closed = False

    def post(
        self, url: str, *, data: bytes, headers: dict[str, str], timeout: aiohttp.ClientTimeout
    ) -> Exchange:
        return Exchange(self._upstream, url, data, headers, timeout)

    async def close(self) -> None:
        self.closed = True


class Exchange:
    """One post, as ``session.post(...)`` gives it: entered, it waits for the answer's head."""

    def __init__(
        self,
        upstream: MemoryUpstream,
        url: str,
        data: bytes,
        headers: dict[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        self._upstream = upstream
        self._url = url
        self._data = data
        self._headers = CIMultiDict(headers)
        self._timeout = timeout
        self._deadline = asyncio.timeout(timeout.total)
        self._server: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MemoryResponse:
        root = self._upstream.root_url
        if not self._url.startswith(root + "/"):  # nothing listens there
            host, _, port = self._url.split("/")[2].partition(":")
            key = ConnectionKey(host, int(port or 80), False, True, None, None, None, None)
            raise aiohttp.ClientConnectorError(
                key, ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")
            )
        await self._deadline.__aenter__()
        try:
            pipe = Pipe()
            path, body = self._url[len(root) :], orjson.loads(self._data)
            self._server = asyncio.create_task(self._upstream.serve(path, body, self._headers, pipe))
            status, headers, length = await _first_of(pipe.head, self._server)
        except BaseException as exc:
            await self._hang_up()
            await self._deadline.__aexit__(type(exc), exc, exc.__traceback__)  # a TimeoutError when due
            raise
        return MemoryResponse(status, headers, length, pipe, self._timeout.sock_read)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._hang_up()
        await self._deadline.__aexit__(kind, exc, tb)

    async def _hang_up(self) -> None:
        """The client is done with the exchange: an upstream still answering is cut off."""
        server = self._server
        if server is None:
            return
        server.cancel()  # a no-op when it has answered in full
        await asyncio.wait({server})
        if not server.cancelled() and (error := server.exception()) is not None:
            raise error  # the upstream's own failure (a script it cannot play), not the client's


async def _first_of(
    head: asyncio.Future[tuple[int, CIMultiDict[str], int | None]], server: asyncio.Task[None]
) -> tuple[int, CIMultiDict[str], int | None]:
    """The answer's head, or the upstream's failure if it ended without one."""
    either: set[asyncio.Future[Any]] = {head, server}
    await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
    if head.done():
        return head.result()
    server.result()  # raises what the upstream raised
    raise AssertionError("the upstream ended without answering")


class MemoryResponse:
    """Stands for ``aiohttp.ClientResponse``: what the providers read of one."""

    def __init__(
        self, status: int, headers: CIMultiDict[str], length: int | None, pipe: Pipe, sock_read: float | None
    ) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(headers)
        self.content_length = length
        self.content = self  # ``response.content.readany()``, ``response.content.iter_any()``
        self._pipe = pipe
        self._sock_read = sock_read
        self._ended = False
        self._failure: aiohttp.ClientError | None = None

    async def readany(self) -> bytes:
        """The next piece that arrived, ``b""`` once the answer has ended."""
        piece = await self._next()
        return b"" if piece is None else piece

    async def iter_any(self) -> AsyncIterator[bytes]:
        while (piece := await self._next()) is not None:
            yield piece

    async def _next(self) -> bytes | None:
        """The next piece, None at the end; a fault raises as aiohttp raises it (at every read
        from then on, as its reader keeps the failure)."""
        if self._failure is not None:
            raise self._failure
        if self._ended:
            return None
        try:
            async with asyncio.timeout(self._sock_read):
                piece = await self._pipe.pieces.get()
        except TimeoutError as exc:
            raise aiohttp.SocketTimeoutError("Timeout on reading data from socket") from exc
        if piece is _END:
            self._ended = True
            return None
        if piece is Fault.CUT:
            self._failure = aiohttp.ClientPayloadError("Response payload is not completed")
            raise self._failure
        if piece is Fault.RESET:
            self._failure = aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer")
            raise self._failure
        return piece

    def close(self) -> None:
        """The client drops the connection; the exchange's end cuts the upstream off."""
