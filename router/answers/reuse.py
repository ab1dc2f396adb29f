"""Answers used more than once: cache lookups, single flights, and where a fresh answer goes.

``look_up`` finds a request's answer in the cache (the worker's, then the state backend's)
or in an identical request's call in flight (in this worker, then, with the Redis
backend, in any instance), or makes the request the leader of a new flight; the leader then hands its
outcome to a ``Keeper`` (an answer: into the caches and to its followers) or to
``ground`` (no answer: its error to the followers, or a new leader among them).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from router.answers.cache import CachedAnswer, CachePlan, CacheStatus, ResponseCache
from router.answers.flights import Flight, Flights
from router.config.model import GatewayConfig
from router.errors import ClientGone, GatewayError, ShuttingDown, UpstreamTimeout
from router.state.backend import AnswerStore
from router.telemetry.exchange import Exchange

MAX_LEASE = 60.0  # a shared flight's lock outlives a crashed leader by at most this long


class SharedAnswers(Protocol):
    """The state backend's part here: answers and flights beyond this worker."""

    @property
    def answers(self) -> AnswerStore: ...


class Reuse(Protocol):
    """Where answers are reused from (the worker's ``Gateway``): its config, cache, flights and state."""

    @property
    def config(self) -> GatewayConfig: ...

    @property
    def cache(self) -> ResponseCache: ...

    @property
    def flights(self) -> Flights: ...

    @property
    def state(self) -> SharedAnswers: ...


async def look_up(
    gateway: Reuse, plan: CachePlan, exchange: Exchange, deadline: float
) -> CachedAnswer | Flight:
    """A cached answer, the answer of an identical request in flight, or a flight for this one to lead.

    A follower waits for the leader no longer than its own ``deadline``; when the leader's
    call fails, the follower raises its error, marked ``coalesced`` on ``exchange``. The
    request's trace shows the lookup (and the wait for a leader) as its ``cache lookup`` span.
    """
    span = exchange.trace.child("cache lookup")
    try:
        found = await _find(gateway, plan, exchange, deadline)
    except BaseException as exc:
        span.end(exc)
        raise
    if isinstance(found, Flight):
        span.set("raceway.cache.result", "miss")
    else:
        span.set("raceway.cache.result", "coalesced" if exchange.coalesced else "hit")
    span.end()
    return found


async def _find(
    gateway: Reuse, plan: CachePlan, exchange: Exchange, deadline: float
) -> CachedAnswer | Flight:
    assert plan.key is not None
    answer = gateway.cache.get(plan, count=False)
    if answer is None:
        answer = await gateway.state.answers.get(plan.key)
    gateway.cache.count(answer is not None)
    if answer is not None:
        exchange.cache = CacheStatus.HIT
        return answer
    try:
        async with asyncio.timeout(deadline):
            found = await gateway.flights.lead_or_follow(plan.key)
            if isinstance(found, Flight):
                found = await gateway.state.answers.lead(found, min(deadline, MAX_LEASE))
    except GatewayError:
        exchange.coalesced = True  # the leader's error, shared: this request made no call
        raise
    except TimeoutError as exc:
        raise UpstreamTimeout(
            f"an identical request in flight did not answer within the deadline of {deadline:g}s"
        ) from exc
    if isinstance(found, CachedAnswer):
        exchange.cache = CacheStatus.HIT
        exchange.coalesced = True
    return found


def ground(flight: Flight, error: BaseException) -> None:
    """The leader's call ended without an answer: its followers share the error, or lead themselves.

    An error about the leader's own request rather than the call — its client left, or its
    worker's drain ended — is no verdict: the followers (some in healthy workers or other
    instances) elect a new leader instead of sharing it.
    """
    if isinstance(error, GatewayError) and not isinstance(error, ClientGone | ShuttingDown):
        flight.fail(error)
    else:
        flight.abandon()


class Keeper:
    """Where a fresh answer goes besides its client: the caches, and the requests that followed it."""

    __slots__ = ("flight", "gateway", "plan")

    def __init__(self, gateway: Reuse, plan: CachePlan, flight: Flight | None) -> None:
        self.gateway, self.plan, self.flight = gateway, plan, flight

    @property
    def wanted(self) -> bool:
        return self.flight is not None or (self.plan.key is not None and self.plan.write)

    def keep(self, answer: CachedAnswer) -> None:
        self.gateway.cache.put(self.plan, answer)
        if self.plan.key is not None and self.plan.write:
            self.gateway.state.answers.keep(self.plan.key, answer, self.plan.ttl)
        if self.flight is not None:
            self.flight.finish(answer)
