"""The loop-lag monitor measures how late the loop wakes up. Time is virtual: ``block`` stands
for work that holds the loop, moving its clock on while nothing else runs."""

import asyncio
import logging

import pytest
from prometheus_client import CollectorRegistry, Histogram

from router.telemetry.looplag import watch_loop_lag
from tests.virtual_time import block, run


def test_a_blocked_loop_is_measured_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    histogram = Histogram("lag_seconds", "lag", registry=registry, buckets=(0.01, 0.1, 0.5, 1.0))

    async def main() -> None:
        watcher = asyncio.create_task(watch_loop_lag(histogram, warning=0.1, interval=0.02))
        await asyncio.sleep(0.05)  # two wake-ups on time
        block(0.3)  # the wake-up due at 0.06 comes at 0.35
        await asyncio.sleep(0.05)  # and two more on time
        watcher.cancel()

    with caplog.at_level(logging.WARNING, logger="raceway.looplag"):
        run(main())
    assert registry.get_sample_value("lag_seconds_count") == 5
    assert registry.get_sample_value("lag_seconds_bucket", {"le": "0.01"}) == 4
    assert registry.get_sample_value("lag_seconds_sum") == pytest.approx(0.29)
    assert [record.getMessage() for record in caplog.records] == [
        "event loop woke 290 ms late: something is blocking this worker"
    ]
