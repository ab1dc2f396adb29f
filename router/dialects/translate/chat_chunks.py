"""What every translator of a chat stream into another dialect's does before a chunk.

``FromChatChunks.feed`` takes each event of a chat stream: nothing once the stream finished,
the translator's ``_end`` at ``[DONE]``, its ``_error`` for an error event (the stream is then
finished), nothing for a comment or keep-alive (some clients refuse them, no dialect needs
them), and its ``_chunk`` for a chunk, which is where the dialect's own translation lives.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from router.wire.sse import has_done_line, read_event
from router.wire.values import as_dict


class FromChatChunks(ABC):
    """A chat stream's events as another dialect's (``feed``: the events to send for one)."""

    finished: bool

    def feed(self, event: bytes) -> list[bytes]:
        if self.finished:
            return []
        if has_done_line(event):
            return self._end()
        _, data = read_event(event)
        data = as_dict(data)
        if isinstance(data.get("error"), dict):
            self.finished = True
            return self._error(data["error"])
        if not data:
            return []  # a comment or keep-alive
        return self._chunk(data)

    @abstractmethod
    def _chunk(self, chunk: dict[str, Any]) -> list[bytes]:
        """The events for one chat chunk."""

    @abstractmethod
    def _error(self, error: dict[str, Any]) -> list[bytes]:
        """The events that end the stream with the upstream's ``error``."""

    @abstractmethod
    def _end(self) -> list[bytes]:
        """The events that end the stream at ``[DONE]``."""
