"""When a ``hedge`` group may start a second call: its hedge budget (why a hedge was skipped:
``router.telemetry.labels.HedgeSkip``).

A hedge doubles a request's cost and, on a cold deployment, pays for a prompt the other
deployment had cached. ``hedge_budget`` caps them: over the last minute at most ``share`` of
the group's requests (counted in this worker, as every local limit is) may start a
hedge, and ``minimum`` hedges a minute are always allowed so that a quiet group still
rescues a stalled call. A key in its budget's ``near`` tier never hedges.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from router.config.model_groups import HedgeBudget

_BUCKETS = 12  # the last minute in five-second buckets
_BUCKET_SECONDS = 60.0 / _BUCKETS


class HedgeAllowance:
    """A group's requests and hedges over the last minute, in buckets, on ``clock``."""

    __slots__ = ("_bucket", "_clock", "_hedges", "_requests", "budget")

    def __init__(self, budget: HedgeBudget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._requests = [0] * _BUCKETS
        self._hedges = [0] * _BUCKETS
        self._bucket = self._now_bucket()

    def _now_bucket(self) -> int:
        return int(self._clock() // _BUCKET_SECONDS)

    def _advance(self) -> int:
        """The current bucket's index, after clearing the buckets that fell out of the minute."""
        now = self._now_bucket()
        passed = now - self._bucket
        if passed > 0:
            for step in range(1, min(passed, _BUCKETS) + 1):
                index = (self._bucket + step) % _BUCKETS
                self._requests[index] = self._hedges[index] = 0
            self._bucket = now
        return now % _BUCKETS

    def request(self) -> None:
        """A request of the group began."""
        self._requests[self._advance()] += 1

    def allows(self) -> bool:
        """May one more hedge start now?"""
        self._advance()
        hedges = sum(self._hedges)
        return hedges < self.budget.minimum or hedges < self.budget.share * sum(self._requests)

    def hedged(self) -> None:
        self._hedges[self._advance()] += 1

    @property
    def share(self) -> float:
        """Hedges per request over the last minute."""
        self._advance()
        return sum(self._hedges) / max(1, sum(self._requests))
