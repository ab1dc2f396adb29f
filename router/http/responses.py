"""Responses: OpenAI-shaped JSON and errors, and the SSE relay of a committed stream."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import aclosing

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from router.dispatch.opened_stream import OpenedStream
from router.errors import ClientGone, GatewayError, ShuttingDown, UpstreamError
from router.http.connection import while_connected
from router.runtime.drain import Drain, DrainEnded
from router.telemetry.labels import StreamOutcome
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS

logger = logging.getLogger("raceway.responses")

JSON = "application/json"


def json_response(body: bytes, headers: Mapping[str, str] | None = None, status: int = 200) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=JSON)


def error_response(error: GatewayError, dialect: Dialect = Dialect.CHAT) -> Response:
    """``error`` in the shape of the client's ``dialect`` (Anthropic's on ``/v1/messages``)."""
    return Response(
        FORMATS[dialect].error_body(error),
        status_code=error.status_code,
        headers=error.response_headers(),
        media_type=JSON,
    )


def dialect_of_path(path: str) -> Dialect:
    """The dialect of errors answered outside an endpoint (no route, wrong method...)."""
    if path.startswith("/v1beta/") or (path.startswith("/v1/models/") and ":" in path):
        return Dialect.GEMINI
    return Dialect.MESSAGES if path.startswith(("/v1/messages", "/messages")) else Dialect.CHAT


class SSEResponse:
    """Relays a committed stream to the client as it arrives (the events of one upstream read
    in one write), then ends it.

    A failure after the first byte ends the stream with an error event in the stream's
    dialect (and no ``[DONE]`` or other last event), so a client never mistakes a cut answer
    for a complete one; so does the end of a drain (``Drain``) that the stream outlasted. If the client
    disconnects, the relay stops and the upstream stream is closed at once: the relay and the
    watch of the connection and of the drain run in one task group (``while_connected``). The
    relay ends the stream (``OpenedStream.end``) with what happened, ``COMPLETE``, ``CUT``,
    ``STOPPED`` or ``ABANDONED``, and the stream tells its observers its result.
    """

    def __init__(
        self,
        stream: OpenedStream,
        headers: Mapping[str, str],
        drain: Drain,
        rewrite: Callable[[bytes], bytes] | None = None,
    ) -> None:
        """``drain``: the worker's (when it ends, the stream ends with an error event);
        ``rewrite``: applied to every event on its way out (e.g. the public model name)."""
        self.stream = stream
        self.drain = drain
        self._started = False
        self._sent = 0  # events relayed (the Responses API numbers its events)
        self._opening: bytes | None = None  # the first of them (a failed Responses stream echoes it)
        self.rewrite = rewrite
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers += [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        outcome = StreamOutcome.ABANDONED  # unless the relay or the drain says otherwise
        try:
            outcome = await while_connected(self._relay(send), receive, self.drain)
        except ClientGone:
            pass  # the client went away: the relay is cancelled, the upstream closed below
        except DrainEnded:  # the drain is over, the stream is not
            outcome = StreamOutcome.STOPPED
            await self._stop(send)
        finally:
            await self.stream.end(outcome)

    async def _relay(self, send: Send) -> StreamOutcome:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        self._started = True
        outcome = StreamOutcome.COMPLETE
        rewrite = self.rewrite
        try:
            async with aclosing(self.stream.batches()) as batches:
                async for batch in batches:  # one write for what one upstream read brought
                    if rewrite is not None:
                        batch = [rewrite(event) for event in batch]
                    body = batch[0] if len(batch) == 1 else b"".join(batch)
                    await send({"type": "http.response.body", "body": body, "more_body": True})
                    if not self._sent:
                        self._opening = batch[0]
                    self._sent += len(batch)
        except UpstreamError as exc:
            outcome = StreamOutcome.CUT
            logger.warning("stream from %s failed midway: %s", self.stream.deployment, exc.message)
            await send({"type": "http.response.body", "body": self._error_event(exc), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return outcome

    async def _stop(self, send: Send) -> None:
        """End the response with an error event: the worker stops before the stream ends (the
        relay sent the status and headers in its first step, before anything could stop it)."""
        stopped = ShuttingDown("the gateway is shutting down: the stream ended before its answer did")
        if not self._started:  # stopped before the relay's first step
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        await send({"type": "http.response.body", "body": self._error_event(stopped), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _error_event(self, error: GatewayError) -> bytes:
        return self.stream.client.error_event(error, self._sent, self._opening)
