"""A worker's background work, supervised: nothing dies silently.

Two kinds, one owner:

- ``keep_running(name, loop)``: a loop that must run as long as the worker serves (the
  config watch, the spend sync, the loop-lag monitor, the shared-cooldown watch). If it
  raises, the error is logged with its traceback and the loop is started again after a
  delay that doubles up to ``max_delay``; if it returns, that is logged and it restarts too.
- ``soon(name, job)``: a one-off job off the request path (a write to Redis, draining
  retired deployments). Its failure is logged, never lost in an unretrieved task.

``close`` cancels everything and waits for it; ``settle`` lets one-off jobs finish first.

The periodic loops sleep with ``tick(interval)``: until the next multiple of their interval on
the event loop's clock, offset by a phase drawn once per process. Loops whose intervals divide
one another (0.25 s, 0.5 s, 1 s) so wake in the same turn of the loop, where each sleeping on its
own would wake the process once per loop (an idle worker woke 22 times a second, 12 now; on a
virtual machine a wake-up costs ~150 µs of CPU before anything runs: issue 27), and the
processes of the machine do not all wake in the same millisecond.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

logger = logging.getLogger("raceway.background")

Loop = Callable[[], Coroutine[Any, Any, None]]
GRID = 0.25  # the finest interval of the periodic loops; the others are its multiples


# This process's offset of the grid. The loop's clock is the machine's monotonic clock, the same
# in every process: on a grid without offset, every worker of every instance on the machine
# would poll Redis and write its files in the same millisecond.
_PHASE = random.SystemRandom().random()


def next_tick(now: float, interval: float, phase: float | None = None) -> float:
    """The first point after ``now`` of a grid of ``interval``: its multiples, offset by ``phase``
    (a fraction, this process's when None) of the finest step (``GRID``)."""
    offset = (_PHASE if phase is None else phase) * GRID
    return (math.floor((now - offset) / interval) + 1) * interval + offset


async def tick(interval: float) -> float:
    """Sleep until the next multiple of ``interval`` on the running loop's clock; returns that
    time (what a monitor of the loop's lag compares its wake-up with)."""
    loop = asyncio.get_running_loop()
    now = loop.time()
    due = next_tick(now, interval)
    await asyncio.sleep(due - now)
    return due


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
            await asyncio.wait(tasks)
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
