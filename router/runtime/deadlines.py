"""Deadlines for many short waits with one timer: a task that overstays is cancelled, a little late."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class Deadlines:
    """Bounds waits that nearly always end at once (reading a request's body) without a timer
    per wait: arming and disarming one (``asyncio.timeout``) costs more than the rest of a body
    read. One timer, armed only while some wait is pending, looks every ``tick`` seconds for
    the tasks past their deadline and cancels them; so a deadline fires up to ``tick`` late.

    Belongs to the event loop it is first used on (one per worker).
    """

    __slots__ = ("_due", "_expired", "_tick", "_timer")

    def __init__(self, tick: float = 0.25) -> None:
        self._tick = tick
        self._due: dict[asyncio.Task[Any], float] = {}
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def run(self, work: Awaitable[T], seconds: float) -> T:
        """Await ``work`` in this task; ``TimeoutError`` if it is not done within ``seconds``."""
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        self._due[task] = loop.time() + seconds
        if self._timer is None:
            self._timer = loop.call_later(self._tick, self._sweep, loop)
        try:
            return await work
        except asyncio.CancelledError:
            if task in self._expired and task.uncancel() == 0:  # ours, not a shutdown's
                raise TimeoutError from None
            raise
        finally:
            self._due.pop(task, None)
            self._expired.discard(task)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for task in [task for task, due in self._due.items() if due <= now]:
            del self._due[task]
            self._expired.add(task)
            task.cancel()
        self._timer = loop.call_later(self._tick, self._sweep, loop) if self._due else None
