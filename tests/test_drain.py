"""The end of a drain stops exactly the tasks waiting under it, and they see it as DrainEnded."""

from __future__ import annotations

import asyncio

import pytest

from router.runtime.drain import Drain, DrainEnded
from tests.virtual_time import run


async def wait_under(drain: Drain, seconds: float) -> str:
    try:
        with drain.stops():
            await asyncio.sleep(seconds)
    except DrainEnded:
        return "stopped"
    return "done"


def test_the_end_stops_the_waiters_and_no_one_else() -> None:
    async def main() -> list[str]:
        drain = Drain()
        short = asyncio.create_task(wait_under(drain, 1.0))
        long = asyncio.create_task(wait_under(drain, 60.0))
        bystander = asyncio.create_task(asyncio.sleep(60.0, "bystander"))
        asyncio.get_running_loop().call_later(30.0, drain.end)
        return await asyncio.gather(short, long, bystander)

    assert run(main()) == ["done", "stopped", "bystander"]


def test_after_the_end_a_new_wait_is_refused_at_once() -> None:
    async def main() -> str:
        drain = Drain()
        drain.end()
        return await wait_under(drain, 60.0)

    assert run(main()) == "stopped"


def test_a_task_cancelled_by_someone_else_as_well_is_cancelled_not_stopped() -> None:
    async def main() -> None:
        drain = Drain()
        waiter = asyncio.create_task(wait_under(drain, 60.0))
        await asyncio.sleep(1.0)
        waiter.cancel()  # say, the client left
        drain.end()
        await waiter

    with pytest.raises(asyncio.CancelledError):
        run(main())


def test_waiters_leave_no_trace() -> None:
    async def main() -> Drain:
        drain = Drain()
        await asyncio.gather(*(wait_under(drain, 1.0) for _ in range(100)))
        return drain

    drain = run(main())
    assert not drain._waiting and not drain._stopped
