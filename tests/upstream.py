"""A scripted upstream of every wire API Raceway speaks: a real aiohttp server on 127.0.0.1.

One server answers OpenAI chat completions (``/v1/chat/completions``, and embeddings),
Anthropic Messages (``/v1/messages``, ``/v1/messages/count_tokens``), OpenAI Responses
(``/v1/responses``) and Google's Gemini API (``/v1beta/models/{model}:generateContent``,
``:streamGenerateContent?alt=sse``, ``:countTokens``), each in its own grammar
(``tests/upstream_wires.py``), from the same scripting. Behaviour is chosen by the upstream
model name a request carries, so each deployment of a test config (pointing at the same
server with its own ``model``) can act differently: slow, failing, stalling, or cutting its
stream. A list of behaviours is played in order, the last one repeating.

Besides answers, it can misbehave the ways real upstreams (or what sits in front of them)
do: a body that is not an answer, a stream that ends without its terminator, resets its
connection or sends an error event midway; on chat only, a huge body or stream line sent
piece by piece (never held whole here) and a gzip bomb.

Every answer carries a request id of its own (recorded with the request): ``x-request-id``
as OpenAI's do, ``request-id`` as Anthropic's do. Tests wait for what the upstream saw, never
for time to pass: ``arrived`` returns once a request for a model has come in,
``disconnected`` once its client abandoned it.

The scripts and the record (``ScriptedUpstream``) and the scripted stream (``scripted_stream``)
are shared with the in-memory upstream (``tests/memory_upstream.py``), which answers the same
scripts without a socket, for tests on virtual time.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import itertools
import socket
import struct
import threading
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterator
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from tests.upstream_prefix import CacheTurn, PrefixCache
from tests.upstream_wires import (
    Answer,
    ChatWire,
    CountTokensWire,
    Event,
    GeminiCountWire,
    GeminiWire,
    MessagesWire,
    ResponsesWire,
    Wire,
)

# What Anthropic answers a prefill that ends in whitespace (the fake, continuing, does too).
TRAILING_WHITESPACE = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "messages: final assistant content cannot end with trailing whitespace",
    },
}
# What Gemini answers a method it has not.
NO_SUCH_METHOD = {"error": {"code": 404, "message": "no such method"}}
PATIENCE = 5.0  # the longest any wait here lasts: a test that goes wrong fails rather than hangs


@dataclass(frozen=True)
class Behaviour:
    """How the upstream answers one request, on whichever wire it came (unless said otherwise).

    A content chunk, which ``cut_after``, ``reset_after`` and ``error_after`` count, is a
    word of the reply or the reasoning, or a piece of a tool call's arguments.
    """

    status: int = 200
    delay: float = 0.0  # before the response starts
    reply: str = "hello from upstream"  # "" for no text (an answer that only calls tools)
    # Body of a non-200 answer, or the midway error of ``error_after``: in OpenAI's shape,
    # converted for Messages; a body in Anthropic's shape (``{"type": "error", ...}``) is sent as is.
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent with the answer, whatever its status
    chunk_delay: float = 0.0  # between stream chunks
    first_content_delay: float = 0.0  # after the stream's opening events, before the first content chunk
    cut_after: int | None = None  # close the stream (half an event sent) after this many content chunks
    stall: bool = False  # never answer
    after: str | None = None  # answer only once a request for this model has arrived too
    release: asyncio.Event | None = None  # answer only once the test sets it (tests on the server's loop)
    body: bytes | None = None  # sent as is, with ``status`` and ``content_type``, instead of an answer
    content_type: str = "application/json"
    # Chat only: a body of this many bytes (JSON that never ends: a completion, or an error
    # without a 200) or, for a stream, one event line of this many bytes that never ends; sent in pieces.
    huge: int = 0
    gzip: bool = False  # with ``huge``: send it gzip-compressed (a gzip bomb: ~1000 times smaller)
    # End the stream cleanly after its content without its terminator: chat's [DONE],
    # Messages' message_stop, Responses' response.completed.
    end_without_done: bool = False
    reset_after: int | None = None  # reset the connection (TCP RST) after this many content chunks
    error_after: int | None = (
        None  # send ``error`` as the wire's error event(s) after this many content chunks
    )
    # Tool calls made after the reply, in parallel when several: (name, JSON arguments).
    # Streamed with the arguments in a few pieces; the stop reason becomes tool_calls / tool_use.
    tool_calls: tuple[tuple[str, str], ...] = ()
    # Reasoning before the reply: chat's reasoning_content, a Messages thinking block signed
    # "sig+<nnnn>" (base64, as Anthropic's are), a Responses reasoning item with a summary_text.
    reasoning: str | None = None
    cache_read: int = 0  # prompt tokens read from the cache, in each wire's usage convention
    cache_write: int = 0  # prompt tokens written to the cache
    # The reply ended on this stop sequence: Messages says which (stop_reason stop_sequence),
    # chat and Responses only that it stopped.
    stop_sequence: str | None = None
    # ``reply`` is the whole script, as a model that can continue its own answer knows it: a
    # request ending with an assistant message (Messages' prefill, chat's prefix) is answered with
    # the rest of the script after that message's text; one whose text does not start it, 400.
    continues: bool = False


@dataclass
class Seen:
    model: str
    body: dict[str, Any]
    headers: CIMultiDict[str]  # as they arrived: any case finds a name
    path: str
    request_id: str = ""  # the request id the upstream answered with
    at: float = 0.0  # the serving loop's time when it arrived


@dataclass(frozen=True)
class Sent:
    """A document the upstream answered with (a JSON body, or one stream event's data), kept so
    that tests can hold the fake to the providers' schemas (``tests/oracles.py``)."""

    path: str
    status: int
    document: dict[str, Any]
    streamed: bool = False


CHAT = ChatWire()
MESSAGES = MessagesWire()
COUNT_TOKENS = CountTokensWire()
RESPONSES = ResponsesWire()
GEMINI = GeminiWire()
GEMINI_COUNT = GeminiCountWire()


class Fault(enum.Enum):
    """How a scripted stream ends early, on the server's side."""

    CUT = "cut"  # the connection closed after half an event
    RESET = "reset"  # the connection reset (TCP RST)


class ScriptedUpstream:
    """The scripts, and the record of what came in; how answers travel is the subclass's."""

    def __init__(self) -> None:
        self._scripts: dict[str, list[Behaviour]] = {}
        self.requests: list[Seen] = []
        self.sent: list[Sent] = []  # what it answered, scripted bodies (``Behaviour.body``) aside
        self.disconnects: list[str] = []  # models whose call the client abandoned
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()  # set, and replaced, whenever a request arrives or is abandoned
        # When set, every answer's cache reads and writes (and its delay) come from a prompt
        # cache per deployment (tests/upstream_prefix.py) instead of the behaviour's.
        self.prefix_cache: PrefixCache | None = None

    @property
    def base_url(self) -> str:
        """For OpenAI's clients, whose base URL includes ``/v1``."""
        return f"{self.root_url}/v1"

    @property
    def root_url(self) -> str:
        """For Anthropic's clients, which add ``/v1/messages`` themselves."""
        raise NotImplementedError

    def reset(self) -> None:
        self.prefix_cache = None
        self._scripts.clear()
        self.requests.clear()
        self.sent.clear()
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

    def _arrive(self, model: str, body: dict[str, Any], headers: CIMultiDict[str], path: str) -> Seen:
        """Record a request (with a request id of its own) and return what was recorded."""
        seen = Seen(
            model, body, headers, path, f"req_up_{next(self._ids)}", asyncio.get_running_loop().time()
        )
        self._record(request=seen)
        return seen

    async def _wait_to_answer(
        self, model: str, path: str, body: dict[str, Any], behaviour: Behaviour
    ) -> tuple[Behaviour, CacheTurn | None]:
        """Whatever ``behaviour`` waits for before its answer starts; with a prefix cache, the
        behaviour its turn makes (its reads and writes, its delay added) and the turn, to remember
        once answered."""
        if behaviour.stall:
            await asyncio.sleep(3600)
        if behaviour.after is not None:
            await self.arrived(behaviour.after)
        if behaviour.release is not None:
            async with asyncio.timeout(PATIENCE):
                await behaviour.release.wait()
        cached = self.prefix_cache.look(model, path, body) if self.prefix_cache else None
        if cached is not None:
            behaviour = replace(
                behaviour,
                cache_read=cached.read,
                cache_write=cached.write,
                delay=behaviour.delay + cached.delay,
            )
        if behaviour.delay:
            await asyncio.sleep(behaviour.delay)
        return behaviour, cached

    def _answered(self, model: str, cached: CacheTurn | None) -> None:
        """The answer went out in full: its prompt is in the deployment's cache now."""
        if cached is not None and self.prefix_cache is not None:
            self.prefix_cache.remember(model, cached)

    @staticmethod
    def _continued(path: str, body: dict[str, Any], behaviour: Behaviour) -> Behaviour:
        """A ``continues`` script answering a request that ends with an assistant message: the
        rest of the script after it, or the 400 a provider gives a prefix it cannot continue."""
        if not behaviour.continues or (prefix := assistant_prefix(body)) is None:
            return behaviour
        if path.endswith("/messages") and prefix != prefix.rstrip():
            return replace(behaviour, status=400, error=TRAILING_WHITESPACE)
        calls = assistant_calls(body)
        if calls:  # the script's text was all sent, and its first tool calls whole: the rest of them
            done = tuple((name, orjson.loads(arguments)) for name, arguments in behaviour.tool_calls)
            if prefix != behaviour.reply or done[: len(calls)] != tuple(calls):
                error = {"error": {"message": f"not the script's start: {prefix!r} then {calls!r}"}}
                return replace(behaviour, status=400, error=error)
            return replace(behaviour, reply="", tool_calls=behaviour.tool_calls[len(calls) :])
        if not behaviour.reply.startswith(prefix):
            error = {"error": {"message": f"not a prefix of the script: {prefix!r}"}}
            return replace(behaviour, status=400, error=error)
        return replace(behaviour, reply=behaviour.reply[len(prefix) :])

    def _refusal(self, path: str, wire: Wire, behaviour: Behaviour) -> dict[str, Any]:
        """The wire's error document for a scripted refusal, recorded as sent."""
        error = wire.refusal(behaviour.status, behaviour.error)
        self.sent.append(Sent(path, behaviour.status, error))
        return error

    def _whole(self, path: str, wire: Wire, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        """The wire's whole (non-stream) answer, recorded as sent."""
        whole = wire.answer(answer, body)
        self.sent.append(Sent(path, 200, whole))
        return whole

    def _noter(self, path: str) -> Callable[[dict[str, Any]], None]:
        """What records each event document a stream to ``path`` sends."""
        return lambda document: self.sent.append(Sent(path, 200, document, streamed=True))

    def _answer_of(self, model: str, behaviour: Behaviour) -> Answer:
        return Answer(
            model=model,
            reply=behaviour.reply,
            reasoning=behaviour.reasoning,
            tool_calls=behaviour.tool_calls,
            cache_read=behaviour.cache_read,
            cache_write=behaviour.cache_write,
            stop_sequence=behaviour.stop_sequence,
            number=next(self._ids),
        )


def gemini_call(target: str, alt: str | None) -> tuple[Wire, str, bool] | None:
    """Gemini's model call ``/v1beta/models/{target}`` (``alt``: its query's) as the wire, the
    model and whether it streams; None for a method there is none of."""
    model, _, method = target.rpartition(":")
    if method == "countTokens":
        return GEMINI_COUNT, model, False
    if method == "streamGenerateContent" and alt == "sse":
        return GEMINI, model, True
    if method == "generateContent":
        return GEMINI, model, False
    return None


async def scripted_stream(
    wire: Wire,
    answer: Answer,
    body: dict[str, Any],
    behaviour: Behaviour,
    note: Callable[[dict[str, Any]], None],
) -> AsyncGenerator[bytes | Fault, None]:
    """The pieces of ``answer``'s stream in the wire's grammar, with the delays and the faults
    ``behaviour`` scripts; a ``Fault`` is the last piece of a stream that ends early. Each event's
    document (with its ``sequence_number`` where the wire numbers them) is passed to ``note``
    as it goes."""
    stream = wire.stream(answer, body)
    sequence = itertools.count()  # Responses numbers its events

    def encoded(events: list[Event]) -> Iterator[bytes]:
        for event in events:
            number = next(sequence)
            if isinstance(event, dict):
                note({**event, "sequence_number": number} if wire.numbered else event)
            yield wire.encode(event, number)

    for piece in encoded(stream.head):
        yield piece
    if behaviour.first_content_delay:
        await asyncio.sleep(behaviour.first_content_delay)
    if behaviour.huge:
        yield b'data: {"choices": [{"index": 0, "delta": {"content": "'
        for size in _pieces(behaviour.huge):
            yield b"x" * size
        return
    for index, chunk in enumerate(stream.chunks):
        if behaviour.cut_after is not None and index >= behaviour.cut_after:
            yield b'data: {"id": "partial-ev'  # half an event, then gone
            yield Fault.CUT
            return
        if behaviour.reset_after is not None and index >= behaviour.reset_after:
            yield Fault.RESET
            return
        if behaviour.error_after is not None and index >= behaviour.error_after:
            for piece in encoded(wire.failure(answer, behaviour.error)):
                yield piece
            return
        if index and behaviour.chunk_delay:
            await asyncio.sleep(behaviour.chunk_delay)
        for piece in encoded(chunk):
            yield piece
    for piece in encoded(stream.tail):
        yield piece
    if not behaviour.end_without_done:
        for piece in encoded(stream.end):
            yield piece


class FakeUpstream(ScriptedUpstream):
    """The scripted upstream as a real aiohttp server on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the thread's loop, when served from one
        self.port = 0

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # coding agents send megabytes
        app.router.add_post("/v1/chat/completions", self._handler(CHAT))
        app.router.add_post("/v1/messages", self._handler(MESSAGES))
        app.router.add_post("/v1/messages/count_tokens", self._handler(COUNT_TOKENS))
        app.router.add_post("/v1/responses", self._handler(RESPONSES))
        app.router.add_post("/v1/embeddings", self._embeddings)
        app.router.add_post("/v1beta/models/{target}", self._gemini)
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

    async def arrived_here(self, model: str, count: int = 1) -> None:
        """``arrived``, awaited from another loop than ``running_in_thread``'s (an async test's)."""
        assert self._loop is not None, "only for an upstream served by running_in_thread"
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.arrived(model, count), self._loop))

    def wait_for_disconnect(self, model: str) -> bool:
        """``disconnected`` for a test on another thread than ``running_in_thread``'s loop."""
        assert self._loop is not None, "only for an upstream served by running_in_thread"
        try:
            asyncio.run_coroutine_threadsafe(self.disconnected(model), self._loop).result()
        except TimeoutError:
            return False
        return True

    # -- handlers -------------------------------------------------------------

    def _handler(self, wire: Wire) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._answer(request, wire)

        return handle

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        """Gemini's model calls: the model and the method in the path, streams asked by ``alt=sse``."""
        call = gemini_call(request.match_info["target"], request.query.get("alt"))
        if call is None:
            return web.json_response(NO_SUCH_METHOD, status=404)
        wire, model, streaming = call
        return await self._answer(request, wire, model=model, stream=streaming)

    async def _answer(
        self, request: web.Request, wire: Wire, *, model: str | None = None, stream: bool | None = None
    ) -> web.StreamResponse:
        """``model`` and ``stream``: from the path (Gemini), else read from the body."""
        body = await request.json()
        model = body.get("model", "") if model is None else model
        streaming = bool(body.get("stream")) if stream is None else stream
        seen = self._arrive(model, body, CIMultiDict(request.headers), request.path)
        behaviour = self._next(model)
        headers = {wire.request_id_header: seen.request_id, **behaviour.headers}
        try:
            behaviour, cached = await self._wait_to_answer(model, request.path, body, behaviour)
            if behaviour.body is not None:
                return web.Response(
                    body=behaviour.body,
                    status=behaviour.status,
                    content_type=behaviour.content_type,
                    headers=behaviour.headers,
                )
            if behaviour.huge and (behaviour.status != 200 or not streaming):
                return await self._huge(request, model, behaviour)
            behaviour = self._continued(request.path, body, behaviour)
            if behaviour.status != 200:
                error = self._refusal(request.path, wire, behaviour)
                return web.json_response(error, status=behaviour.status, headers=headers)
            answer = self._answer_of(model, behaviour)
            if streaming:
                answered = await self._stream(request, wire, answer, body, behaviour, headers)
            else:
                whole = self._whole(request.path, wire, answer, body)
                answered = web.json_response(whole, headers=headers)
            self._answered(model, cached)
            return answered
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

    async def _stream(
        self,
        request: web.Request,
        wire: Wire,
        answer: Answer,
        body: dict[str, Any],
        behaviour: Behaviour,
        headers: dict[str, str],
    ) -> web.StreamResponse:
        """Stream ``answer`` in the wire's grammar, with the faults ``behaviour`` scripts."""
        response = web.StreamResponse(headers={"content-type": "text/event-stream", **headers})
        await response.prepare(request)
        try:
            async with aclosing(
                scripted_stream(wire, answer, body, behaviour, self._noter(request.path))
            ) as pieces:
                async for piece in pieces:
                    if piece is Fault.CUT:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    if piece is Fault.RESET:
                        _reset(request)
                        return response
                    await response.write(piece)
            await response.write_eof()
        except ConnectionResetError:  # a cancelled handler is recorded by the caller
            self._record(disconnect=answer.model)
            raise
        return response

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = body.get("model", "")
        self._record(request=Seen(model, body, CIMultiDict(request.headers), request.path))
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
        usage = {"prompt_tokens": 3, "total_tokens": 3}
        whole = {"object": "list", "data": data, "model": model, "usage": usage}
        self.sent.append(Sent(request.path, 200, whole))
        return web.json_response(whole)


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


def assistant_prefix(body: dict[str, Any]) -> str | None:
    """The text of a request's final assistant message (a prefill or a prefix), if it ends with one."""
    messages = body.get("messages")
    last = messages[-1] if isinstance(messages, list) and messages else None
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return None
    content = last.get("content")
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content or [] if isinstance(block, dict))


def assistant_calls(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The tool calls of a request's final assistant message (Messages' ``tool_use`` blocks, chat's
    ``tool_calls``) as (name, arguments), in order."""
    last = (body.get("messages") or [{}])[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return []
    content = last.get("content")
    blocks = content if isinstance(content, list) else []
    calls = [(block["name"], block["input"]) for block in blocks if block.get("type") == "tool_use"]
    for call in last.get("tool_calls") or []:
        calls.append((call["function"]["name"], orjson.loads(call["function"]["arguments"])))
    return calls
