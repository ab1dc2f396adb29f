"""Background work never dies silently: a failing loop is logged and restarted with a growing
delay, a failing one-off job is logged, and closing stops everything. Time is virtual."""

from __future__ import annotations

import asyncio
import logging

import pytest

from router.background import CLOSE_PATIENCE, BackgroundWork
from tests.virtual_time import run


def test_a_loop_that_fails_is_logged_and_restarted_with_a_growing_delay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    starts: list[float] = []

    async def flaky() -> None:
        starts.append(asyncio.get_running_loop().time())
        if len(starts) < 4:
            raise RuntimeError("lost the connection")
        await asyncio.Event().wait()  # the fourth start holds

    async def main() -> int:
        work = BackgroundWork(first_delay=0.5, max_delay=1.0)
        work.keep_running("flaky", flaky)
        await asyncio.sleep(10)
        await work.close()
        return work.restarts

    with caplog.at_level(logging.ERROR, logger="raceway.background"):
        assert run(main()) == 3
    assert starts == [0.0, 0.5, 1.5, 2.5]  # 0.5, then doubled, then capped at 1.0
    failures = [r for r in caplog.records if "background loop 'flaky' failed" in r.getMessage()]
    assert len(failures) == 3 and all(r.exc_info for r in failures)


def test_a_loop_that_returns_is_started_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[float] = []

    async def returns() -> None:
        runs.append(asyncio.get_running_loop().time())

    async def main() -> None:
        work = BackgroundWork(first_delay=1.0, max_delay=1.0)
        work.keep_running("returns", returns)
        await asyncio.sleep(2.5)
        await work.close()

    run(main())
    assert runs == [0.0, 1.0, 2.0]
    assert "background loop 'returns' returned" in caplog.text


def test_a_failed_job_is_logged_and_settle_waits_for_the_others(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []

    async def fails() -> None:
        raise ValueError("no such key")

    async def writes() -> None:
        await asyncio.sleep(0.5)
        done.append("written")

    async def main() -> None:
        work = BackgroundWork()
        work.soon("fails", fails())
        work.soon("writes", writes())
        await work.settle(1.0)
        await work.close()

    run(main())
    assert done == ["written"]
    assert "background job 'fails' failed" in caplog.text and "no such key" in caplog.text


def test_closing_cancels_the_loops_and_unfinished_jobs() -> None:
    cancelled: list[str] = []

    async def forever(name: str) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def main() -> None:
        work = BackgroundWork()
        work.keep_running("loop", lambda: forever("loop"))
        work.soon("job", forever("job"))
        await asyncio.sleep(0)
        await work.close()

    run(main())
    assert sorted(cancelled) == ["job", "loop"]


def test_a_task_that_does_not_stop_when_cancelled_cannot_hold_the_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while not release.is_set():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # a loop that swallows its cancellation

    async def main() -> float:
        loop = asyncio.get_running_loop()
        work = BackgroundWork()
        work.keep_running("stubborn", stubborn)
        await asyncio.sleep(0)
        started = loop.time()
        await work.close()
        closed_after = loop.time() - started
        release.set()
        return closed_after

    assert run(main()) == CLOSE_PATIENCE
    assert f"background task 'stubborn' did not stop within {CLOSE_PATIENCE:g}s" in caplog.text
    assert "test_background.py" in caplog.text  # where it waits
