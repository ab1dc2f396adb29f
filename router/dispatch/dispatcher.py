"""Serving one request from a model group: rounds of calls, retries, fallback groups, a deadline.

For each group in turn (the routed group, then its ``fallbacks``), the usable
deployments (breaker not open, context window large enough) are ordered by the group's
strategy (``router.dispatch.candidates``, which also orders a broken stream's continuations) and
called at its pace (see ``router.dispatch.rounds``). A round whose calls all failed
with retryable errors is retried after an exponential backoff with full jitter; when a
group is exhausted the next fallback group takes over. The request's attempt budget and
deadline bound the whole thing.

A group with ``affinity`` places a session's turn on its pinned deployment first (the pin
is looked up once per group, and follows the deployment that served the turn), or places a
new session as ``router.routing.affinity`` says; the pace of its round is the strategy's,
made cache-aware and bounded by the hedge budget (``router.dispatch.pacing``).

A stream is committed to a deployment only once it has delivered its first content
chunk; until then a failure counts like any other and nothing reaches the client. In a group
with ``resume``, a committed stream that breaks may continue on another of its deployments
(``router.dispatch.resume``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from router.config.model import GatewayConfig
from router.config.model_groups import ModelGroup
from router.config.strategies import Pacing, pacing_of
from router.dispatch.attempt import Attempt, Calls
from router.dispatch.candidates import Candidates
from router.dispatch.completion import Answers, Call, Completion
from router.dispatch.hedging import HedgeAllowance
from router.dispatch.legs import Leg
from router.dispatch.opened_stream import Committed
from router.dispatch.pacing import note_warm_wait, pace_of
from router.dispatch.resume import resumer_for
from router.dispatch.rounds import AttemptBudget, Pace, RoundFailed, run_round
from router.errors import (
    InvalidRequest,
    NoDeploymentAvailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from router.fleet.fleet import Fleet, Member
from router.providers.correlation import Correlation
from router.routing.affinity import Placement
from router.routing.budgets import KeyBudget
from router.routing.rules import RoutedRequest
from router.routing.sessions import AffinityResult
from router.routing.strategies import Strategy, strategy_for
from router.state.backend import PinStore
from router.telemetry.labels import StreamOutcome
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import current_trace
from router.wire.formats import WireFormat

T = TypeVar("T")

_ANSWER_ESTIMATE_CAP = 4096


class Dispatcher:
    """Runs requests against the fleet, following each group's strategy."""

    def __init__(
        self,
        config: GatewayConfig,
        fleet: Fleet,
        metrics: Metrics,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_cooldown: Callable[[Member], None] | None = None,
        pins: PinStore | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``pins``: where sessions' pins live (the state backend's); without it, no affinity.
        ``clock``: of the hedge budgets (monotonic seconds)."""
        self._config = config
        self._fleet = fleet
        self.metrics = metrics
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._on_cooldown = on_cooldown
        self._calls = Calls(metrics, on_cooldown)
        self._strategies: dict[str, Strategy] = {
            name: strategy_for(group.strategy, self._rng) for name, group in config.models.items()
        }
        self._pins = pins
        self.candidates = Candidates(config, fleet, self._strategies, pins)  # who a round calls, in order
        self._clock = clock
        self._allowances: dict[str, HedgeAllowance] = {
            name: HedgeAllowance(group.hedge_budget, clock)
            for name, group in config.models.items()
            if pacing_of(group.strategy) is Pacing.STAGGERED
        }

    def successor(self, config: GatewayConfig, fleet: Fleet) -> Dispatcher:
        """A dispatcher for a new config; groups whose settings did not change keep their strategy's state."""
        successor = Dispatcher(
            config,
            fleet,
            self.metrics,
            rng=self._rng,
            sleep=self._sleep,
            on_cooldown=self._on_cooldown,
            pins=self._pins,
            clock=self._clock,
        )
        for name, group in config.models.items():
            if self._config.models.get(name) == group:
                successor._strategies[name] = self._strategies[name]
                if name in self._allowances:
                    successor._allowances[name] = self._allowances[name]
        return successor

    def _unguarded(self, member: Member) -> Attempt | None:
        """An attempt whatever the deployment's breaker says (a pinned deployment)."""
        return self._calls.begin(member, check_breaker=False)

    def publish_state(self, member: Member) -> None:
        """Export a deployment's breaker state after it changed outside a call (a shared cooldown)."""
        self._calls.publish_state(member)

    # -- the two kinds of call ----------------------------------------------------------

    async def complete(
        self, request: RoutedRequest, body: dict[str, Any], call: Call, answers: Answers
    ) -> Completion:
        """A non-streaming answer to ``body``, made by ``call``; a 200 that is not one of ``answers``
        is the deployment's failure."""
        tokens = expected_tokens(request, body)
        completion, _member, attempts = await self._dispatch(
            request,
            lambda attempt: self._calls.complete(
                attempt,
                lambda member, correlation: call.complete(member.provider, member.target, correlation),
                tokens,
                answers,
                self._correlation(request),
            ),
            _nothing,
            tokens,
        )
        completion.attempts = attempts
        return completion

    async def open_stream(
        self,
        request: RoutedRequest,
        body: dict[str, Any],
        call: Call,
        client: WireFormat,
        *,
        budget: KeyBudget | None = None,
    ) -> Committed:
        """A stream of ``body``'s answer (its events in the ``client``'s format), committed to a
        deployment: the winning call, the calls it took, and its resumer if the group has one
        (``budget``: the key's, which a continuation asks again)."""
        tokens = expected_tokens(request, body)
        deadline_at = asyncio.get_running_loop().time() + request.group.deadline
        leg, _member, attempts = await self._dispatch(
            request,
            lambda attempt: self._calls.stream(attempt, call, client, tokens, self._correlation(request)),
            _close_stream,
            tokens,
        )
        resumer = None
        if request.group.resume is not None:
            resumer = resumer_for(
                request,
                call,
                client,
                leg,
                attempts=attempts,
                candidates=self.candidates,
                calls=self._calls,
                tokens=tokens,
                correlation=self._correlation,
                deadline_at=deadline_at,
                budget=budget,
            )
        return Committed(leg, attempts, resumer)

    def _correlation(self, request: RoutedRequest) -> Correlation:
        """A fresh one for each call: the request's trace context out, that call's headers back."""
        return Correlation(
            request.trace,
            keep_ratelimit=self._config.server.relay_ratelimit_headers,
            forwarded=request.forwarded,
        )

    # -- groups, rounds, retries, fallbacks -----------------------------------------

    async def _dispatch(
        self,
        request: RoutedRequest,
        call: Callable[[Attempt], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        tokens: int,
    ) -> tuple[T, Member, int]:
        """``tokens``: what each call will charge against token rate limits."""
        budget = AttemptBudget(request.group.max_attempts)
        try:
            async with asyncio.timeout(request.group.deadline):
                if request.pinned is not None:
                    return await self._pinned(request, call, discard, budget)
                return await self._through_groups(request, call, discard, budget, tokens)
        except TimeoutError as exc:
            late = UpstreamTimeout(
                f"the request's deadline of {request.group.deadline:g}s passed "
                f"after {budget.used} upstream call(s)",
                deployment=budget.last,
            )
            late.attempts = budget.used
            late.upstream_request_id = ", ".join(budget.failed_ids) or None  # the calls that failed first
            raise late from exc
        except UpstreamError as exc:  # the access log names who failed, and how many calls it took
            exc.attempts = budget.used
            exc.deployment = exc.deployment or budget.last
            raise

    async def _pinned(
        self,
        request: RoutedRequest,
        call: Callable[[Attempt], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        budget: AttemptBudget,
    ) -> tuple[T, Member, int]:
        """An override pins one deployment: no strategy, no breaker, no fallback."""
        assert request.pinned is not None
        member = self._fleet[request.pinned]
        try:
            won = await run_round([member], call, Pace(), budget, begin=self._unguarded, discard=discard)
        except RoundFailed as failed:
            raise exhausted(request.group, failed.failures) from None
        return won.value, won.winner, budget.used

    async def _through_groups(
        self,
        request: RoutedRequest,
        call: Callable[[Attempt], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        budget: AttemptBudget,
        tokens: int,
    ) -> tuple[T, Member, int]:
        failures: list[UpstreamError] = []
        groups = self._config.served_by(request.group)
        too_long = 0
        previous: str | None = None
        for group in groups:
            key, pinned = await self.candidates.pin_of(group, request)
            allowance = self._allowances.get(group.name)
            if allowance is not None:
                allowance.request()
            for round_index in range(group.retries.attempts + 1):
                ordered, placement, skipped = self.candidates.ordered(group, request, tokens, key, pinned)
                too_long += skipped
                if not ordered or budget.remaining <= 0:
                    break
                if previous is not None:
                    self.metrics.fallbacks.labels(request.group.name, previous, group.name).inc()
                    current_trace().event("raceway.fallback", {"from": previous, "to": group.name})
                    previous = None
                if round_index:
                    await self._sleep(_backoff(group, round_index, self._rng))
                pace = pace_of(self.metrics, group, request, placement, allowance, ordered)
                began = asyncio.get_running_loop().time()
                try:
                    won = await run_round(
                        ordered,
                        call,
                        pace,
                        budget,
                        begin=self._calls.begin,
                        discard=discard,
                    )
                except RoundFailed as failed:
                    failures.extend(failed.failures)
                    for failure in failed.failures:
                        self.metrics.retries.labels(failure.deployment or group.name).inc()
                    continue
                if pacing_of(group.strategy).fans_out:
                    self.metrics.race_outcomes.labels(group.name, won.winner.name).inc()
                if won.hedges:
                    self.metrics.hedges.labels(group.name).inc(won.hedges)
                if placement is not None and key is not None:
                    waited = asyncio.get_running_loop().time() - began
                    note_warm_wait(
                        self.metrics, group, request, pace, placement, won.winner, waited, won.hedges
                    )
                    self._settle(group, request, placement, won.winner, key)
                return won.value, won.winner, budget.used
            previous = group.name
        if failures:
            raise exhausted(request.group, failures)
        if too_long:
            raise InvalidRequest(
                f"the prompt (about {request.prompt_tokens} tokens) is longer than the context window "
                f"of every deployment of {request.group.name!r} and its fallbacks",
                param="messages",
                code="context_length_exceeded",
            )
        raise self._unavailable(groups)

    def _settle(
        self, group: ModelGroup, request: RoutedRequest, placement: Placement, winner: Member, key: bytes
    ) -> None:
        """The session is pinned where it was served; its record says how it was placed."""
        assert group.affinity is not None and self._pins is not None
        result = placement.result
        if result is AffinityResult.HIT and winner is not placement.pinned:
            result = AffinityResult.MOVED  # its deployment failed the turn: another served it
        request.decided.affinity = result
        self.metrics.affinity.labels(group.name, result).inc()
        self._pins.keep(key, winner.name, group.affinity.ttl)

    def _unavailable(self, groups: tuple[ModelGroup, ...]) -> NoDeploymentAvailable:
        waits = [
            member.breaker.seconds_until_available()
            for group in groups
            for name in group.deployments
            if (member := self._fleet.get(name)) is not None
        ]
        return NoDeploymentAvailable(
            f"no deployment of model {groups[0].name!r} is available right now (all cooling down)",
            retry_after=min(waits) if waits else None,
        )


def expected_tokens(request: RoutedRequest, body: dict[str, Any]) -> int:
    """Prompt plus the answer's likely size, charged against token rate limits before the call."""
    limit = body.get("max_completion_tokens") or body.get("max_tokens") or body.get("max_output_tokens")
    answer = limit if isinstance(limit, int) and limit > 0 else max(16, request.prompt_tokens)
    return request.prompt_tokens + min(answer, _ANSWER_ESTIMATE_CAP)


def _backoff(group: ModelGroup, round_index: int, rng: random.Random) -> float:
    ceiling = min(group.retries.max_backoff, group.retries.backoff * 2.0 ** (round_index - 1))
    return ceiling * rng.random()


async def _nothing(value: object) -> None:
    return None


async def _close_stream(stream: Leg) -> None:
    await stream.end(StreamOutcome.ABANDONED)


def exhausted(group: ModelGroup, failures: list[UpstreamError]) -> UpstreamError:
    """The error for a request whose every attempt failed: the most telling class wins."""
    if len(failures) == 1:
        return failures[0]  # one attempt: its own error says the most
    summary = "; ".join(f"{failure.deployment}: {failure.message}" for failure in failures[-6:])
    message = f"every attempt to serve model {group.name!r} failed ({summary})"
    last = failures[-1].deployment if failures else ""
    error: UpstreamError
    if failures and all(isinstance(f, UpstreamRateLimited) for f in failures):
        waits = [f.retry_after for f in failures if isinstance(f, UpstreamRateLimited) and f.retry_after]
        error = UpstreamRateLimited(message, retry_after=min(waits) if waits else None, deployment=last)
    elif failures and isinstance(failures[-1], UpstreamTimeout):
        error = UpstreamTimeout(message, deployment=last)
    else:
        error = UpstreamError(message, deployment=last)
    # Every call's id, in order, for a support ticket about any of them.
    ids = [failure.upstream_request_id for failure in failures if failure.upstream_request_id]
    error.upstream_request_id = ", ".join(ids) or None
    return error
