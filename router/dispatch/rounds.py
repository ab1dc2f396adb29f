"""One round of calls over ordered candidates: one at a time, all at once, or staggered.

The same loop serves every strategy: ``fallback`` and the balancing strategies start the
next candidate only when the previous one failed; ``race`` starts them all at once;
``hedge`` starts the next one when no answer has come after a delay (if its budget allows
a hedge, ``Pace.may_hedge``). The first success wins and every other call is cancelled
(closing its upstream connection) before the round returns. Every attempt the round begins
is ended, even one cancelled before its task ever ran.

The sequential pace runs its calls in the caller's own task. The others run theirs in one
``asyncio.TaskGroup``, each wrapped by ``outcome_of`` so that it returns what it came to
(``Answered`` or ``Failed``) instead of raising: the round alone decides what a failure means,
and when it returns or raises, every call it started is over.
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
A = TypeVar("A")


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
    return await _Round(candidates, call, pace, budget, begin).run(discard)


@dataclass(frozen=True, slots=True)
class Answered(Generic[T]):
    """A call of the round answered."""

    value: T


@dataclass(frozen=True, slots=True)
class Failed:
    """A call of the round raised ``error``."""

    error: Exception


async def outcome_of(call: Callable[[A], Awaitable[T]], argument: A) -> Answered[T] | Failed:
    """What ``call(argument)`` came to, returned instead of raised: the round decides what a
    failure means (and its task group is never torn down by one). The call is made in the
    wrapper's task: one cancelled before it ever ran leaves no call unawaited."""
    try:
        return Answered(await call(argument))
    except Exception as exc:
        return Failed(exc)


class _Round(Generic[T]):
    """A round at a parallel pace: its calls run in one task group, each wrapped by ``outcome_of``."""

    __slots__ = (
        "_begin",
        "_budget",
        "_call",
        "_hedge_wait",
        "_hedging",
        "_left",
        "_next_hedge_at",
        "_pace",
        "_running",
        "_trace",
        "hedges",
        "launched",
    )

    def __init__(
        self,
        candidates: list[Member],
        call: Callable[[Attempt], Awaitable[T]],
        pace: Pace,
        budget: AttemptBudget,
        begin: Callable[[Member], Attempt | None],
    ) -> None:
        self._left = deque(candidates)
        self._call = call
        self._pace = pace
        self._budget = budget
        self._begin = begin
        self._running: dict[asyncio.Task[Answered[T] | Failed], Attempt] = {}
        self._trace = current_trace()
        self._hedging = pace.hedge_delay is not None
        self._next_hedge_at = self._hedge_wait = 0.0
        self.launched = self.hedges = 0

    async def run(self, discard: Callable[[T], Awaitable[None]]) -> RoundWon[T]:
        failures: list[UpstreamError] = []
        won: RoundWon[T] | None = None
        fatal: Exception | None = None
        late: list[T] = []  # successes that lost to the winner, to release
        returning = False
        try:
            async with asyncio.TaskGroup() as group:
                self._launch(group)
                self._fill(group)
                while self._running and won is None and fatal is None:
                    done, _ = await asyncio.wait(
                        self._running, timeout=self._until_hedge(), return_when=asyncio.FIRST_COMPLETED
                    )
                    if not done:
                        if self._pace.may_hedge is not None and not self._pace.may_hedge():
                            self._hedging = False
                        elif self._launch(group, hedge=True):
                            self.hedges += 1
                        continue
                    # Successes first, so a failure that finished in the same instant cannot mask a win.
                    for task in sorted(done, key=lambda t: isinstance(t.result(), Failed)):
                        attempt = self._running.pop(task)
                        outcome = task.result()
                        if isinstance(outcome, Answered):
                            if won is None:
                                attempt.span.won()
                                won = RoundWon(outcome.value, attempt.member, self.launched, self.hedges)
                            else:
                                attempt.span.lost()
                                late.append(outcome.value)
                        elif isinstance(outcome.error, UpstreamError) and outcome.error.retryable:
                            failures.append(self._budget.failed(outcome.error))
                        elif won is None and fatal is None:
                            fatal = outcome.error
                    if won is None and fatal is None:
                        if not self._running:
                            self._launch(group)
                        self._fill(group)
                self._stop(lost=won is not None)
            returning = True
        finally:
            if won is not None and not returning:  # the request is over after all: release the winner too
                late.append(won.value)
            await self._settle(late, discard)
        if fatal is not None:
            raise fatal
        if won is not None:
            return won
        raise RoundFailed(failures)

    def _launch(self, group: asyncio.TaskGroup, *, hedge: bool = False) -> bool:
        """Start the next candidate that may be called; False when none is left."""
        budget, pace = self._budget, self._pace
        while self._left:
            member = self._left.popleft()
            if not budget.has_room():
                self._left.clear()
                return False
            attempt = self._begin(member)
            if attempt is None:
                continue
            budget.take(member.name)
            attempt.span = self._trace.attempt(
                member.deployment, number=budget.used, hedge_delay=self._hedge_wait if hedge else None
            )
            self._running[group.create_task(outcome_of(self._call, attempt))] = attempt
            self.launched += 1
            if pace.hedge_delay is not None:
                self._hedge_wait = pace.hedge_delay(member)
                self._next_hedge_at = asyncio.get_running_loop().time() + self._hedge_wait
            return True
        return False

    def _fill(self, group: asyncio.TaskGroup) -> None:
        """A race keeps ``parallel`` calls running while candidates are left."""
        while self._pace.all_at_once and len(self._running) < self._pace.parallel and self._launch(group):
            pass

    def _until_hedge(self) -> float | None:
        """Seconds until the next hedge is due (None: no hedge to wait for)."""
        if self._hedging and self._left and len(self._running) < self._pace.parallel:
            return max(0.0, self._next_hedge_at - asyncio.get_running_loop().time())
        return None

    def _stop(self, *, lost: bool) -> None:
        """Cancel the calls still running (the task group then waits until their connections are
        closed); ``lost``: because another call won (else the round is over for another reason:
        a call failed for good)."""
        for task, attempt in self._running.items():
            if lost:
                attempt.span.losing()
            task.cancel()

    async def _settle(self, late: list[T], discard: Callable[[T], Awaitable[None]]) -> None:
        """Every call is over: end the attempts whose task was cancelled before it ever ran, and
        release every success that did not win (``late``, and those that finished before their
        cancel landed)."""
        for task, attempt in self._running.items():
            if task.cancelled():
                attempt.end(Verdict.NONE)  # a no-op unless the task was cancelled before it ran
                continue
            outcome = task.result()
            if isinstance(outcome, Answered):
                attempt.span.lost()
                late.append(outcome.value)
        self._running.clear()
        for value in late:
            await discard(value)


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
