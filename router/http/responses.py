"""Responses: OpenAI-shaped JSON and errors, and the SSE relay of a committed stream."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from router.dispatch.attempt import OpenedStream
from router.errors import GatewayError, UpstreamError
from router.sse import error_event

logger = logging.getLogger("raceway.responses")

JSON = "application/json"


def json_response(body: bytes, headers: Mapping[str, str] | None = None, status: int = 200) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=JSON)


def error_response(error: GatewayError) -> Response:
    return Response(error.to_json(), status_code=error.status_code, headers=error.headers, media_type=JSON)


class SSEResponse:
    """Relays a committed stream to the client, event by event, as it arrives.

    A failure after the first byte ends the stream with an OpenAI-shaped error event
    (and no ``[DONE]``), so a client never mistakes a cut answer for a complete one. If
    the client disconnects, the upstream stream is closed at once. ``on_complete`` is
    told how the stream ended, exactly once: ``complete``, ``cut`` (the upstream failed
    midway) or ``client_gone``.
    """

    def __init__(
        self,
        stream: OpenedStream,
        headers: Mapping[str, str],
        on_complete: Callable[[str], None] | None = None,
    ) -> None:
        self.stream = stream
        self.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        self.headers += [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        self.on_complete = on_complete
        self.outcome = "client_gone"  # until the relay reaches the end

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relay = asyncio.create_task(self._relay(send))
        watcher = asyncio.create_task(client_disconnected(receive))
        try:
            await asyncio.wait((relay, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not relay.done():  # the client went away (or we are cancelled): stop upstream
                relay.cancel()
            await asyncio.gather(relay, watcher, return_exceptions=True)
            await self.stream.aclose()
            if self.on_complete is not None:
                self.on_complete(self.outcome)
        if relay.done() and not relay.cancelled() and (exc := relay.exception()) is not None:
            raise exc

    async def _relay(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        outcome = "complete"
        try:
            async for event in self.stream.events():
                await send({"type": "http.response.body", "body": event, "more_body": True})
        except UpstreamError as exc:
            outcome = "cut"
            logger.warning("stream from %s failed midway: %s", self.stream.deployment, exc.message)
            await send({"type": "http.response.body", "body": error_event(exc.to_dict()), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        self.outcome = outcome


async def client_disconnected(receive: Receive) -> None:
    """Returns when the client has closed the connection (the request body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
