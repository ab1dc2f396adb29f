"""Server-sent events, in every dialect: split a byte stream into events, build and read them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, TypeAlias

import orjson

DONE_EVENT = b"data: [DONE]\n\n"

Batches: TypeAlias = AsyncGenerator[list[bytes], None]
"""A stream's complete events in the batches they came in (what one upstream read brought, never
empty): each layer does its work per event and hands the batch on whole, so that the relay
writes it to the client at once."""


class EventTooLarge(Exception):
    """An event grew past the buffer's ``max_event`` bytes without ending."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an event exceeds {limit} bytes")
        self.limit = limit


class SSEBuffer:
    """Accumulates raw bytes and hands back complete events (each ending in a blank line).

    Each byte is searched for the end of its event once, however long the event grows: a
    chunk that ends no event is appended to the unfinished one and only the new bytes (and
    the one before them) are searched. ``max_event`` bounds an event's size; past it ``feed``
    raises ``EventTooLarge``.
    """

    __slots__ = ("_pending", "max_event")

    def __init__(self, max_event: int | None = None) -> None:
        self._pending = bytearray()
        self.max_event = max_event

    def feed(self, chunk: bytes) -> list[bytes]:
        pending = self._pending
        if pending and pending[-1] == 0x0D and chunk[:1] == b"\n":
            del pending[-1]  # a CRLF split between two chunks
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n")
        if pending:
            start = len(pending) - 1  # the blank line may begin in the bytes already held
            pending += chunk
            if pending.find(b"\n\n", start) < 0:
                self._check(len(pending))
                return []
            data = bytes(pending)
            pending.clear()
        elif b"\n\n" not in chunk:
            pending += chunk
            self._check(len(pending))
            return []
        else:
            data = chunk
        *events, rest = data.split(b"\n\n")
        pending += rest
        if self.max_event is not None and len(data) > self.max_event:
            for event in events:
                self._check(len(event))
            self._check(len(rest))
        return [event + b"\n\n" for event in events if event.strip()]

    def _check(self, size: int) -> None:
        if self.max_event is not None and size > self.max_event:
            raise EventTooLarge(self.max_event)

    @property
    def pending(self) -> bytes:
        """Bytes of an unfinished event (non-empty at the end of a cut stream)."""
        return bytes(self._pending)


def is_done(event: bytes) -> bool:
    """Is this chat's last event, ``data: [DONE]`` (read from its start: the hot path)?"""
    return event.startswith(b"data: [DONE]") or event.startswith(b"data:[DONE]")


def has_done_line(event: bytes) -> bool:
    """Does any line of this event say ``data: [DONE]`` (after a comment line too)?"""
    return any(line.strip() == b"data: [DONE]" for line in event.split(b"\n"))


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


def data_event(payload: Any) -> bytes:
    """A chat-style event: ``data: JSON``."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def named_event(name: str, payload: Any) -> bytes:
    """An Anthropic- or Responses-style event: ``event: NAME`` then ``data: JSON``."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def read_event(event: bytes) -> tuple[str | None, Any]:
    """An event's name (None without an ``event:`` line) and its JSON data (None when absent,
    not JSON, or chat's ``[DONE]``)."""
    name: str | None = None
    data: Any = None
    for line in event.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode(errors="replace")
        elif line.startswith(b"data:"):
            raw = line[5:].strip()
            if raw and raw != b"[DONE]":
                try:
                    data = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    data = None
    return name, data
