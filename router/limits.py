"""Admission: per-deployment concurrency caps with bounded queues, and rate limits (aiolimiter).

The ``Limiter`` protocol is what a deployment or key is admitted by: this worker's
``RateLimit`` here, or the state backend's shared one (``router.state.redis.limits``); every
refusal is a ``Saturated`` with a ``SaturationReason``.

Everything here belongs to one worker's event loop and is built inside it. Rate limits
are configured for the whole gateway; each of the N workers enforces 1/N of each limit
(``share``), so the gateway as a whole stays within it whichever worker a request lands on.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from typing import TYPE_CHECKING, Protocol

from router.errors import Saturated

if TYPE_CHECKING:
    from aiolimiter import AsyncLimiter


class SaturationReason(enum.StrEnum):
    """Why a deployment or key had no room for a request (``raceway_rejected_total{reason}``)."""

    QUEUE_FULL = "queue_full"  # the deployment's concurrency queue is full
    QUEUE_TIMEOUT = "queue_timeout"  # waited ``queue_timeout`` for a free slot
    RATE_LIMITED = "rate_limited"  # over its rpm or tpm (for longer than ``limit_wait``)
    TOKENS_EXCEED_LIMIT = "tokens_exceed_limit"  # larger than a whole minute of its tpm


QUEUE_REASONS = (SaturationReason.QUEUE_FULL, SaturationReason.QUEUE_TIMEOUT)  # a concurrency gate's
RATE_LIMIT_REASONS = (SaturationReason.RATE_LIMITED, SaturationReason.TOKENS_EXCEED_LIMIT)  # a rate limit's


class Limiter(Protocol):
    """Requests and tokens per minute: this worker's share, or the whole gateway's (Redis)."""

    rpm: int | None
    tpm: int | None

    def has_capacity(self, tokens: int = 0) -> bool: ...

    async def admit(self, tokens: int, *, owner: str) -> None: ...

    def settle(self, estimated: int, used: int) -> None: ...


class ConcurrencyGate:
    """At most ``limit`` holders; up to ``max_queue`` wait in order, each at most ``queue_timeout``.

    A full queue refuses at once. A released slot goes straight to the oldest waiter,
    so a newcomer cannot overtake the queue. Safe under cancellation: a waiter cancelled
    just as it was handed a slot passes the slot on.
    """

    __slots__ = ("_waiters", "active", "limit", "max_queue", "queue_timeout")

    def __init__(self, limit: int | None, max_queue: int = 0, queue_timeout: float = 30.0) -> None:
        self.limit = limit
        self.max_queue = max_queue
        self.queue_timeout = queue_timeout
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def has_capacity(self) -> bool:
        return self.limit is None or (self.active < self.limit and not self._waiters)

    async def enter(self) -> None:
        if self.has_capacity():
            self.active += 1
            return
        if len(self._waiters) >= self.max_queue:
            raise Saturated(
                "the deployment's queue is full", reason=SaturationReason.QUEUE_FULL, retry_after=1.0
            )
        loop = asyncio.get_running_loop()
        granted: asyncio.Future[None] = loop.create_future()
        self._waiters.append(granted)
        expiry = loop.call_later(self.queue_timeout, _expire, granted)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled() and granted.exception() is None:
                self.leave()  # handed a slot in the same instant we gave up: pass it on
            elif granted in self._waiters:
                self._waiters.remove(granted)
            raise
        finally:
            expiry.cancel()

    def leave(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot changes hands; ``active`` stays the same
                return
        self.active -= 1


def _expire(granted: asyncio.Future[None]) -> None:
    if not granted.done():
        granted.set_exception(
            Saturated(
                "waited too long for a free slot", reason=SaturationReason.QUEUE_TIMEOUT, retry_after=1.0
            )
        )


class RateLimit:
    """Requests and tokens per minute for one worker, over aiolimiter's leaky buckets.

    Tokens are estimated before a call; once the upstream reports its usage the
    difference is carried over (``settle``) and charged to, or credited on, the next
    request, so the limit follows the tokens actually used.
    """

    __slots__ = ("_balance", "requests", "rpm", "tokens", "tpm", "wait")

    def __init__(self, rpm: int | None, tpm: int | None, *, share: int = 1, wait: float = 0.0) -> None:
        self.rpm = per_worker(rpm, share)
        self.tpm = per_worker(tpm, share)
        self.requests = _per_minute_bucket(self.rpm)
        self.tokens = _per_minute_bucket(self.tpm)
        self.wait = wait
        self._balance = 0  # tokens used beyond (or, negative, below) what was charged

    @property
    def enabled(self) -> bool:
        return self.requests is not None or self.tokens is not None

    def has_capacity(self, tokens: int = 0) -> bool:
        if self.requests is not None and not self.requests.has_capacity(1):
            return False
        return self.tokens is None or self.tokens.has_capacity(self._charge(tokens))

    def _charge(self, tokens: int) -> int:
        """What to take from the token bucket: the estimate plus any debt, less any credit."""
        charge = max(0, tokens + self._balance)
        return min(charge, self.tpm) if self.tpm else charge

    async def admit(self, tokens: int, *, owner: str) -> None:
        """Take one request and about ``tokens`` tokens from the buckets, waiting at most ``wait``."""
        refuse_if_larger_than_limit(tokens, self.tpm, owner, where=" in this worker")
        charge = self._charge(tokens) if self.tokens is not None else 0
        if not self.wait and not self.has_capacity(tokens):
            raise Saturated(
                f"{owner} is over its rate limit",
                reason=SaturationReason.RATE_LIMITED,
                retry_after=self.seconds_until_capacity(tokens),
            )
        try:
            async with asyncio.timeout(self.wait or None):
                if self.requests is not None:
                    await self.requests.acquire(1)
                if self.tokens is not None and charge:
                    await self.tokens.acquire(charge)
        except TimeoutError as exc:
            raise Saturated(
                f"{owner} stayed over its rate limit for {self.wait:g}s",
                reason=SaturationReason.RATE_LIMITED,
                retry_after=self.seconds_until_capacity(tokens),
            ) from exc
        if self.tokens is not None:
            self._balance += tokens - charge  # what the charge left over: debt or credit

    def settle(self, estimated: int, used: int) -> None:
        """Carry the difference between the tokens estimated and those the upstream reported."""
        if self.tokens is not None:
            self._balance += used - estimated

    def seconds_until_capacity(self, tokens: int = 0) -> float:
        """How long until a request of about ``tokens`` tokens would fit: its ``Retry-After``."""
        wait = 0.0
        if self.requests is not None:
            wait = _refill_time(self.requests, 1)
        if self.tokens is not None:
            wait = max(wait, _refill_time(self.tokens, self._charge(tokens)))
        return wait


def _per_minute_bucket(rate: int | None) -> AsyncLimiter | None:
    """A leaky bucket of ``rate`` per minute, none without a rate. aiolimiter is imported with
    the first one: its import reads every installed distribution's metadata (~10 ms)."""
    if not rate:
        return None
    from aiolimiter import AsyncLimiter

    return AsyncLimiter(rate, 60)


def _refill_time(bucket: AsyncLimiter, amount: float) -> float:
    """Seconds until ``amount`` fits in ``bucket``: its excess leaks out at the bucket's rate.

    aiolimiter keeps its level private; ``has_capacity`` first leaks it up to the loop's
    present time, so the level read after it is current."""
    if bucket.has_capacity(amount):
        return 0.0
    excess = bucket._level + amount - bucket.max_rate
    return excess * bucket.time_period / bucket.max_rate


def refuse_if_larger_than_limit(tokens: int, tpm: int | None, owner: str, *, where: str = "") -> None:
    """A request bigger than a whole minute of ``tpm`` could never be admitted: refuse it at once."""
    if tpm is not None and tokens > tpm:
        raise Saturated(
            f"the request (about {tokens} tokens) is larger than {owner}'s whole per-minute token "
            f"limit{where} ({tpm})",
            reason=SaturationReason.TOKENS_EXCEED_LIMIT,
        )


def per_worker(limit: int | None, share: int, *, minimum: int = 1) -> int | None:
    """This worker's part of a gateway-wide limit (at least ``minimum``)."""
    if limit is None:
        return None
    return max(minimum, math.floor(limit / max(1, share)))
