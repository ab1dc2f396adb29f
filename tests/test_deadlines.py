"""One timer for many deadlines: a wait past its deadline raises TimeoutError (at most a tick
late), one that ends in time is left alone, and a cancellation from elsewhere stays one."""

from __future__ import annotations

import asyncio

import pytest

from router.runtime.deadlines import Deadlines
from tests.virtual_time import run


async def waits(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


def test_a_wait_past_its_deadline_times_out_at_most_a_tick_late() -> None:
    async def main() -> float:
        loop, deadlines = asyncio.get_running_loop(), Deadlines(tick=0.25)
        with pytest.raises(TimeoutError):
            await deadlines.run(waits(3600), 10.0)
        return loop.time()

    assert 10.0 <= run(main()) <= 10.25


def test_waits_that_end_in_time_are_left_alone_and_the_timer_stops() -> None:
    async def main() -> None:
        deadlines = Deadlines(tick=0.25)
        assert await asyncio.gather(*(deadlines.run(waits(s), 10.0) for s in (0, 1, 9.5))) == ["done"] * 3
        await asyncio.sleep(1)
        assert deadlines._timer is None  # nothing pending: no timer left armed

    run(main())


def test_each_wait_has_its_own_deadline() -> None:
    async def one(deadlines: Deadlines, seconds: float) -> float:
        try:
            await deadlines.run(waits(3600), seconds)
        except TimeoutError:
            return asyncio.get_running_loop().time()
        raise AssertionError("no timeout")

    async def main() -> list[float]:
        deadlines = Deadlines(tick=0.25)
        return await asyncio.gather(one(deadlines, 5.0), one(deadlines, 1.0), one(deadlines, 30.0))

    assert [round(t) for t in run(main())] == [5, 1, 30]


def test_a_cancellation_from_elsewhere_is_not_a_timeout() -> None:
    async def main() -> None:
        deadlines = Deadlines(tick=0.25)
        task = asyncio.create_task(deadlines.run(waits(3600), 10.0))
        await asyncio.sleep(1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
