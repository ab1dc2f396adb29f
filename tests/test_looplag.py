import asyncio
import logging
import time

import pytest
from prometheus_client import CollectorRegistry, Histogram

from router.telemetry.looplag import watch_loop_lag


async def test_a_blocked_loop_is_measured_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    histogram = Histogram("lag_seconds", "lag", registry=registry, buckets=(0.01, 0.1, 0.5, 1.0))
    watcher = asyncio.create_task(watch_loop_lag(histogram, warning=0.1, interval=0.02))
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING, logger="raceway.looplag"):
        time.sleep(0.3)  # noqa: ASYNC251 (blocking the loop is what the monitor must catch)
        await asyncio.sleep(0.05)
    watcher.cancel()
    assert registry.get_sample_value("lag_seconds_count") >= 2
    assert registry.get_sample_value("lag_seconds_bucket", {"le": "0.1"}) < registry.get_sample_value(
        "lag_seconds_count"
    )
    assert any("event loop woke" in record.message for record in caplog.records)
