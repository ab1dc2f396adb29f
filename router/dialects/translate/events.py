"""Building and reading the SSE events of every dialect."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


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
