"""An event loop on virtual time, for tests of code that waits: ``asyncio.sleep``, timeouts and
``loop.call_later`` fire in order, at once, and ``loop.time()`` says when they were due.

When nothing is ready, the loop jumps to the next scheduled callback instead of sleeping.
Only for code that waits on timers and on other tasks, never on sockets.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:  # nothing scheduled and nothing ready: the test would hang forever
            raise RuntimeError("deadlock: every task waits and no timer is scheduled")
        self._loop.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(_JumpingSelector(self))

    def time(self) -> float:
        return self.now


def block(seconds: float) -> None:
    """Stand for blocking work (CPU-bound, a blocking call) on the running virtual-time loop:
    its clock moves on while nothing else runs."""
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop), "only on a loop started by run()"
    loop.now += seconds


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on a fresh virtual-time loop."""
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()
