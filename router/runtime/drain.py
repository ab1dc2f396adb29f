"""The end of a worker's drain, and the requests and streams it stops then."""

from __future__ import annotations

import asyncio
from types import TracebackType


class DrainEnded(Exception):
    """The worker's drain ran out while this task was waiting."""


class Drain:
    """After SIGTERM a worker lets what runs finish for ``server.graceful_timeout``; then
    ``end`` stops the requests still waiting for an answer and the streams still running, so
    each can say so (503, or an SSE error event) before the server closes the connections.

    A task is registered only while it waits (``with drain.stops():``), in a set: in and out
    cost the same however many wait. (A callback per waiter on one shared future would cost
    a scan of every waiter at each removal.)
    """

    __slots__ = ("_stopped", "_waiting", "over")

    def __init__(self) -> None:
        self.over = False
        self._waiting: set[asyncio.Task[object]] = set()
        self._stopped: set[asyncio.Task[object]] = set()

    def end(self) -> None:
        self.over = True
        for task in self._waiting:
            self._stopped.add(task)
            task.cancel()
        self._waiting.clear()

    def stops(self) -> _Stopping:
        """A context in which the drain's end cancels this task, seen as ``DrainEnded``
        (raised at once if the drain is already over)."""
        return _Stopping(self)


class _Stopping:
    __slots__ = ("_drain", "_task")

    def __init__(self, drain: Drain) -> None:
        self._drain = drain

    def __enter__(self) -> None:
        if self._drain.over:
            raise DrainEnded
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._drain._waiting.add(task)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        drain, task = self._drain, self._task
        drain._waiting.discard(task)
        if task not in drain._stopped:
            return
        drain._stopped.discard(task)
        # Ours alone (nobody else cancelled the task too): the drain's end, not a cancellation.
        if kind is asyncio.CancelledError and task.uncancel() == 0:
            raise DrainEnded from None
