"""One round of calls over ordered candidates: one at a time, all at once, or staggered.

The same loop serves every strategy: ``fallback`` and the balancing strategies start the
next candidate only when the previous one failed; ``race`` starts them all at once;
``hedge`` starts the next one when no answer has come after a delay (if its budget allows
a hedge, ``Pace.may_hedge``). The first success
wins and every other call is cancelled (closing its upstream connection) before the
round returns. Every attempt the round begins is ended, even one cancelled before its
task ever ran.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from router.dispatch.attempt import Attempt, Verdict
from router.errors import UpstreamError
from router.fleet.fleet import Member
from router.telemetry.tracing import current_trace

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Pace:
    parallel: int = 1  # calls in flight at most
    all_at_once: bool = False  # race: start ``parallel`` calls immediately
    hedge_delay: Callable[[Member], float] | None = None  # hedge: wait this long for the last started
    # hedge: asked when a delay ran out; False stops hedging for the round (its budget is spent).
    # A call started because every running one failed is not a hedge and is not asked about.
    may_hedge: Callable[[], bool] | None = None


class AttemptBudget:
    """Upstream calls a request may still make, over every round and fallback group."""

    __slots__ = ("failed_ids", "last", "remaining", "used")

    def __init__(self, limit: int) -> None:
        self.remaining = limit
        self.used = 0
        self.last = ""  # the deployment of the latest call
        # The upstream's ids of the calls that failed so far, in order: an error the request
        # ends with for another reason (its deadline) still names them.
        self.failed_ids: list[str] = []

    def has_room(self) -> bool:
        return self.remaining > 0

    def take(self, deployment: str) -> None:
        assert self.remaining > 0
        self.remaining -= 1
        self.used += 1
        self.last = deployment

    def failed(self, error: UpstreamError) -> UpstreamError:
        """Note a call's retryable failure; returns it."""
        if error.upstream_request_id:
            self.failed_ids.append(error.upstream_request_id)
        return error


class RoundFailed(Exception):
    """Every call of the round failed with a retryable error."""

    def __init__(self, failures: list[UpstreamError]) -> None:
        super().__init__(f"{len(failures)} calls failed")
        self.failures = failures


@dataclass(slots=True)
class RoundWon(Generic[T]):
    value: T
    winner: Member
    launched: int
    hedges: int


async def run_round(
    candidates: list[Member],
    call: Callable[[Attempt], Awaitable[T]],
    pace: Pace,
    budget: AttemptBudget,
    *,
    begin: Callable[[Member], Attempt | None],
    discard: Callable[[T], Awaitable[None]],
) -> RoundWon[T]:
    """Call candidates in order at the given pace; the first success wins.

    ``begin`` may refuse a candidate at the moment it would be started (a half-open
    breaker already probing); ``discard`` releases a success that lost by a hair.
    Non-retryable errors propagate at once; retryable ones are collected into
    ``RoundFailed`` when nothing is left to try.
    """
    if pace.parallel == 1:
        return await _one_at_a_time(candidates, call, budget, begin)
    loop = asyncio.get_running_loop()
    queue = deque(candidates)
    running: dict[asyncio.Task[T], Attempt] = {}
    failures: list[UpstreamError] = []
    launched = hedges = 0
    next_hedge_at = hedge_wait = 0.0
    hedging = pace.hedge_delay is not None
    trace = current_trace()

    def launch(hedge: bool = False) -> bool:
        nonlocal launched, next_hedge_at, hedge_wait
        while queue:
            member = queue.popleft()
            if not budget.has_room():
                queue.clear()
                return False
            attempt = begin(member)
            if attempt is None:
                continue
            budget.take(member.name)
            attempt.span = trace.attempt(
                member.deployment, number=budget.used, hedge_delay=hedge_wait if hedge else None
            )
            running[asyncio.ensure_future(call(attempt))] = attempt
            launched += 1
            if pace.hedge_delay is not None:
                hedge_wait = pace.hedge_delay(member)
                next_hedge_at = loop.time() + hedge_wait
            return True
        return False

    launch()
    while pace.all_at_once and len(running) < pace.parallel and launch():
        pass
    won: RoundWon[T] | None = None
    try:
        while running:
            timeout = None
            if hedging and queue and len(running) < pace.parallel:
                timeout = max(0.0, next_hedge_at - loop.time())
            done, _ = await asyncio.wait(running, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not done:
                if pace.may_hedge is not None and not pace.may_hedge():
                    hedging = False
                    continue
                if launch(hedge=True):
                    hedges += 1
                continue
            # Successes first, so a failure that finished in the same instant cannot mask a win.
            for task in sorted(done, key=lambda t: t.exception() is not None):
                attempt = running.pop(task)
                member = attempt.member
                error = task.exception()
                if error is None:
                    if won is None:
                        attempt.span.won()
                        won = RoundWon(task.result(), member, launched, hedges)
                    else:
                        attempt.span.lost()
                        await discard(task.result())
                elif isinstance(error, UpstreamError) and error.retryable:
                    failures.append(budget.failed(error))
                elif won is None:
                    raise error
            if won is not None:
                return won
            if not running:
                launch()
            while pace.all_at_once and len(running) < pace.parallel and launch():
                pass
    finally:
        await _cancel(running, discard, lost=won is not None)
    raise RoundFailed(failures)


async def _one_at_a_time(
    candidates: list[Member],
    call: Callable[[Attempt], Awaitable[T]],
    budget: AttemptBudget,
    begin: Callable[[Member], Attempt | None],
) -> RoundWon[T]:
    """The sequential pace, in the caller's own task: no task to spawn, nothing to cancel."""
    failures: list[UpstreamError] = []
    launched = 0
    trace = current_trace()
    for member in candidates:
        if not budget.has_room():
            break
        attempt = begin(member)
        if attempt is None:
            continue
        budget.take(member.name)
        attempt.span = trace.attempt(member.deployment, number=budget.used)
        launched += 1
        try:
            value = await call(attempt)
        except UpstreamError as exc:
            if not exc.retryable:
                raise
            failures.append(budget.failed(exc))
            continue
        attempt.span.won()
        return RoundWon(value, member, launched, 0)
    raise RoundFailed(failures)


async def _cancel(
    running: dict[asyncio.Task[T], Attempt], discard: Callable[[T], Awaitable[None]], *, lost: bool = True
) -> None:
    """Cancel the calls still running and wait until their connections are closed; ``lost``:
    because another call won (else the request itself is over: its client left, its deadline
    passed, or a call failed for good)."""
    if not running:
        return
    for task, attempt in running.items():
        if lost:
            attempt.span.losing()
        task.cancel()
    await asyncio.wait(running)
    for task, attempt in running.items():
        if task.cancelled():
            attempt.end(Verdict.NONE)  # a no-op unless the task was cancelled before it ran
        elif task.exception() is None:
            attempt.span.lost()
            await discard(task.result())  # finished successfully before the cancel landed
