"""The access log: one JSON line per finished request on the worker's stdout.

Lines are written in batches, one write per turn of the event loop: the first line of a
turn schedules the write for the end of that turn (``call_soon``), and the lines of every
request that finishes in the same turn join it. A quiet worker so writes each line at once;
a loaded one makes one system call for many requests, where ``logging``'s stream handler
formatted a record and flushed the stream for each (issue 27: ~10 µs a request before the
system call). A stdout that refuses a write (a closed pipe, a full disk) loses that batch,
says so once on stderr, and never fails a request.
"""

from __future__ import annotations

import asyncio
import logging
from typing import BinaryIO

logger = logging.getLogger("raceway.access")


class AccessLog:
    """Collects lines and writes each turn's in one go to ``out`` (the worker's stdout)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lines: list[bytes] = []
        self._failing = False

    def write(self, line: bytes) -> None:
        """Queue ``line`` (JSON, without its newline) for the end of this turn of the loop."""
        self._lines.append(line)
        if len(self._lines) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop runs in this thread: nothing would come back for it
                self.flush()

    def flush(self) -> None:
        """Write what is queued (at the end of a turn, and at shutdown)."""
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        lines.append(b"")
        try:
            self._out.write(b"\n".join(lines))
            self._out.flush()
        except (OSError, ValueError) as exc:  # ValueError: written to after it was closed
            if not self._failing:
                logger.error("cannot write the access log (%s); lines are lost until it works", exc)
            self._failing = True
            return
        self._failing = False
