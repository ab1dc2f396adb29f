"""Server-sent events: split a byte stream into events, and recognise the ones that matter."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import orjson

DONE_EVENT = b"data: [DONE]\n\n"


class SSEBuffer:
    """Accumulates raw bytes and hands back complete events (each ending in a blank line)."""

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._pending + chunk if self._pending else chunk
        if b"\n\n" not in data:
            self._pending = data
            return []
        *events, self._pending = data.split(b"\n\n")
        return [event + b"\n\n" for event in events if event.strip()]

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished event (non-empty at the end of a cut stream)."""
        return self._pending


async def sse_events(chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """Complete SSE events from arbitrary chunks, in order."""
    buffer = SSEBuffer()
    async for chunk in chunks:
        for event in buffer.feed(chunk):
            yield event


def is_done(event: bytes) -> bool:
    return event.startswith(b"data: [DONE]") or event.startswith(b"data:[DONE]")


def event_json(event: bytes) -> Any:
    """The JSON payload of a ``data:`` event, or None for comments and non-JSON data."""
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            try:
                return orjson.loads(line[5:])
            except orjson.JSONDecodeError:
                return None
    return None


def carries_usage(event: bytes) -> bool:
    """Cheaply: does this event report usage? (With ``include_usage`` every chunk says ``"usage":null``.)"""
    return b'"usage"' in event and b'"usage":null' not in event and b'"usage": null' not in event


def has_content(payload: Any) -> bool:
    """True when a chunk carries answer content: text, a tool call, or a finish reason."""
    if not isinstance(payload, dict):
        return False
    choices = payload.get("choices")
    if not isinstance(choices, list):
        return False
    for choice in choices:
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta") or {}
        if isinstance(delta, dict) and (
            delta.get("content") or delta.get("tool_calls") or delta.get("refusal")
        ):
            return True
        if choice.get("finish_reason"):
            return True
    return False


def error_event(body: dict[str, Any]) -> bytes:
    """An SSE event carrying an OpenAI-shaped error, to end a stream that failed midway."""
    return b"data: " + orjson.dumps(body) + b"\n\n"
