"""How late the event loop wakes up: the asyncio counterpart of thread starvation.

A task sleeps for a fixed interval and measures how much later than asked it woke. Lag
means something held the loop (CPU-bound work, a blocking call) and every request on
this worker waited for it.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import Histogram

logger = logging.getLogger("raceway.looplag")

INTERVAL = 0.25
_WARN_EVERY = 10.0  # seconds between two warnings, so a stalled loop does not flood the log


async def watch_loop_lag(histogram: Histogram, warning: float, *, interval: float = INTERVAL) -> None:
    """Run until cancelled, observing each wake-up's lateness into ``histogram``."""
    loop = asyncio.get_running_loop()
    last_warning = -_WARN_EVERY
    while True:
        expected = loop.time() + interval
        await asyncio.sleep(interval)
        now = loop.time()
        lag = max(0.0, now - expected)
        histogram.observe(lag)
        if lag >= warning and now - last_warning >= _WARN_EVERY:
            last_warning = now
            logger.warning("event loop woke %.0f ms late: something is blocking this worker", lag * 1000)
