"""An event loop on virtual time, for tests of code that waits: ``asyncio.sleep``, timeouts and
``loop.call_later`` fire in order, at once, and ``loop.time()`` says when they were due.

When nothing is ready, the loop jumps to the next scheduled callback instead of sleeping.
Only for code that waits on timers and on other tasks, never on sockets (the in-memory
upstream, ``tests/memory_upstream.py``, stands for one).
"""

from __future__ import annotations

import asyncio
import functools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")


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


def on_virtual_time(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """An async test run by ``run``: pytest sees a plain test with the same arguments, so the
    fixtures it takes are plain ones, and whatever it starts it ends before it returns."""

    @functools.wraps(test)
    def on_its_own_loop(*args: P.args, **kwargs: P.kwargs) -> None:
        run(test(*args, **kwargs))

    return on_its_own_loop
