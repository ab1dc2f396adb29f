"""A worker's background work, supervised: nothing dies silently.

Two kinds, one owner:

- ``keep_running(name, loop)``: a loop that must run as long as the worker serves (the
  config watch, the spend sync, the loop-lag monitor, the shared-cooldown watch). If it
  raises, the error is logged with its traceback and the loop is started again after a
  delay that doubles up to ``max_delay``; if it returns, that is logged and it restarts too.
- ``soon(name, job)``: a one-off job off the request path (a write to Redis, draining
  retired deployments). Its failure is logged, never lost in an unretrieved task.

``close`` cancels everything and waits for it, ``CLOSE_PATIENCE`` at most: a task that does
not stop when cancelled is logged with where it waits, and left behind, so that it cannot hold
the worker's shutdown; ``settle`` lets one-off jobs finish first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("raceway.background")

Loop = Callable[[], Coroutine[Any, Any, None]]

CLOSE_PATIENCE = 2.0  # seconds a cancelled task has to stop before the worker closes without it


class BackgroundWork:
    def __init__(
        self,
        *,
        first_delay: float = 0.5,
        max_delay: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._loops: set[asyncio.Task[None]] = set()
        self._jobs: set[asyncio.Task[object]] = set()
        self.restarts = 0  # how many times a loop had to be started again

    def keep_running(self, name: str, loop: Loop) -> None:
        self._loops.add(asyncio.create_task(self._supervise(name, loop), name=name))

    def soon(self, name: str, job: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(job, name=name)
        self._jobs.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._jobs.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            logger.error("background job %r failed", task.get_name(), exc_info=error)

    async def settle(self, seconds: float) -> None:
        """Give the one-off jobs in progress up to ``seconds`` to finish."""
        if self._jobs:
            await asyncio.wait(self._jobs, timeout=seconds)

    async def close(self) -> None:
        tasks = self._loops | self._jobs
        for task in tasks:
            task.cancel()
        if tasks:
            _stopped, stuck = await asyncio.wait(tasks, timeout=CLOSE_PATIENCE)
            for task in sorted(stuck, key=lambda task: task.get_name()):
                logger.error(
                    "background task %r did not stop within %gs of its cancellation; closing without "
                    "it. It waits at:%s",
                    task.get_name(),
                    CLOSE_PATIENCE,
                    "".join(f"\n  {where}" for where in _waiting_at(task)),
                )
        self._loops.clear()

    async def _supervise(self, name: str, loop: Loop) -> None:
        delay = self._first_delay
        while True:
            try:
                await loop()
            except Exception:
                logger.exception("background loop %r failed; restarting it in %gs", name, delay)
            else:
                logger.error("background loop %r returned; restarting it in %gs", name, delay)
            self.restarts += 1
            await self._sleep(delay)
            delay = min(self._max_delay, delay * 2)


def _waiting_at(task: asyncio.Task[Any]) -> list[str]:
    """Where a suspended task waits: each coroutine of its chain of awaits, outermost first
    (``Task.get_stack`` shows only the outermost)."""
    found = []
    awaiting: Any = task.get_coro()
    while awaiting is not None:
        frame = getattr(awaiting, "cr_frame", None) or getattr(awaiting, "ag_frame", None)
        if frame is not None:
            found.append(f"{frame.f_code.co_filename}:{frame.f_lineno} ({frame.f_code.co_name})")
        awaiting = getattr(awaiting, "cr_await", None) or getattr(awaiting, "ag_await", None)
    return found
