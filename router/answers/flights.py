"""Request coalescing (single flight): identical requests in flight share one upstream call.

The first request for a cache key leads: it calls upstream and settles its ``Flight``.
Requests that arrive meanwhile follow: they wait for the leader's answer instead of
making their own call. If the leader's call fails, every follower gets the same error;
if the leader gives up without a verdict (its client went away, or the answer cannot be
shared), the followers elect a new leader among themselves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from router.answers.cache import CachedAnswer


class _Abandoned(Exception):
    """The leader left without an answer; a follower should lead instead."""


class Flight:
    """One upstream call that several identical requests wait for."""

    __slots__ = ("_flights", "_future", "key", "on_settled")

    def __init__(self, flights: Flights, key: bytes) -> None:
        self._flights = flights
        self.key = key
        self._future: asyncio.Future[CachedAnswer] = asyncio.get_running_loop().create_future()
        # Told the outcome once: the answer, the error, or None when the leader left without one.
        self.on_settled: Callable[[CachedAnswer | BaseException | None], None] | None = None

    @property
    def settled(self) -> bool:
        return self._future.done()

    def finish(self, answer: CachedAnswer) -> None:
        if self._settle(answer):
            self._future.set_result(answer)

    def fail(self, error: BaseException) -> None:
        """The call failed: followers get ``error`` too."""
        if self._settle(error):
            self._future.set_exception(error)
            self._future.exception()  # retrieved: no warning when nobody followed

    def abandon(self) -> None:
        """No verdict (the leader's client left, or the answer is not shareable): followers retry."""
        if self._settle(None):
            self._future.set_exception(_Abandoned())
            self._future.exception()

    def _settle(self, outcome: CachedAnswer | BaseException | None) -> bool:
        if self._future.done():
            return False
        self._flights.land(self)
        if self.on_settled is not None:
            self.on_settled(outcome)
        return True


class Flights:
    """The flights in progress in one worker, by cache key."""

    def __init__(self) -> None:
        self._by_key: dict[bytes, Flight] = {}

    async def lead_or_follow(self, key: bytes) -> Flight | CachedAnswer:
        """A ``Flight`` to lead (settle it!), or the answer of the flight this request followed."""
        while True:
            flight = self._by_key.get(key)
            if flight is None:
                flight = self._by_key[key] = Flight(self, key)
                return flight
            try:
                # shield: a follower that gives up must not cancel the others' wait.
                return await asyncio.shield(flight._future)
            except _Abandoned:
                continue

    def land(self, flight: Flight) -> None:
        if self._by_key.get(flight.key) is flight:
            del self._by_key[flight.key]

    def __len__(self) -> int:
        return len(self._by_key)
