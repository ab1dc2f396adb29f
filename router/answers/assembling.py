"""What every stream assembler shares: a bound on the bytes it reads, and never raising.

A stream is the upstream's to shape, so building the answer it amounts to must not hurt
its relay. ``BoundedAssembler.feed`` counts the bytes of each event and hands the event
to the dialect's ``_feed``; a stream past ``max_bytes``, or one the dialect finds
``Malformed`` (an index that makes no sense, events out of their order), or any other
failure while assembling, drops what was built, logs one warning and sets ``dropped``:
the answer is then simply not kept.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

logger = logging.getLogger("raceway.answers")

DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class Malformed(Exception):
    """The stream cannot be assembled (past a bound, or events that make no sense)."""


class BoundedAssembler(ABC):
    """Builds the answer a stream amounts to, event by event; ``feed`` never raises."""

    __slots__ = ("_bytes", "_max_bytes", "dropped")

    #: What the warning calls the answer that is not kept ("a streamed answer").
    noun = "a streamed answer"

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """``max_bytes``: the most event bytes to assemble (an answer larger is not kept)."""
        self._bytes = 0
        self._max_bytes = max_bytes
        self.dropped = False

    def feed(self, event: bytes) -> None:
        if self.dropped:
            return
        try:
            self._bytes += len(event)
            if self._bytes > self._max_bytes:
                raise Malformed(f"the stream passed {self._max_bytes} bytes")
            self._feed(event)
        except Exception as exc:  # the upstream's stream, whatever it holds, must not hurt its relay
            self.dropped = True
            self._forget()
            if isinstance(exc, Malformed):
                logger.warning("%s is not kept: %s", self.noun, exc)
            else:
                logger.warning("%s is not kept: assembling it failed", self.noun, exc_info=exc)

    @abstractmethod
    def _feed(self, event: bytes) -> None:
        """Add one event to the answer; raise ``Malformed`` when it cannot be assembled."""

    @abstractmethod
    def _forget(self) -> None:
        """Let go of what was built (the stream was dropped)."""

    @abstractmethod
    def answer(self) -> bytes | None:
        """The assembled answer, or None when there is none (or the stream was dropped)."""
