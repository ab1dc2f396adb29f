"""Serving one request from a model group: rounds of calls, retries, fallback groups, a deadline.

For each group in turn (the routed group, then its ``fallbacks``), the usable
deployments (breaker not open, context window large enough) are ordered by the group's
strategy and called at its pace (see ``router.fanout``). A round whose calls all failed
with retryable errors is retried after an exponential backoff with full jitter; when a
group is exhausted the next fallback group takes over. The request's attempt budget and
deadline bound the whole thing.

A stream is committed to a deployment only once it has delivered its first content
chunk; until then a failure counts like any other and nothing reaches the client.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from router.config import GatewayConfig, ModelGroup
from router.errors import (
    InvalidRequest,
    NoDeploymentAvailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.fanout import AttemptBudget, Pace, RoundFailed, run_round
from router.fleet import Fleet, Member
from router.metrics import Metrics
from router.routing import RoutedRequest
from router.strategies import RequestTraits, Strategy, strategy_for
from router.streaming import event_json, has_content, is_done

T = TypeVar("T")

_HEDGE_MIN_SAMPLES = 20  # below this, ``hedge_delay: auto`` waits _HEDGE_COLD_DELAY
_HEDGE_COLD_DELAY = 1.0


@dataclass(slots=True)
class Completion:
    """A finished non-streaming answer."""

    body: bytes
    deployment: str
    attempts: int
    upstream_seconds: float


@dataclass(slots=True)
class OpenedStream:
    """A stream committed to one deployment: ``head`` is held back, ``tail`` still upstream."""

    deployment: str
    head: list[bytes]
    tail: AsyncGenerator[bytes, None]
    upstream_started: float
    finished: bool = False
    attempts: int = 1
    on_close: Callable[[UpstreamError | None], None] | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    async def events(self) -> AsyncGenerator[bytes, None]:
        for event in self.head:
            yield event
        if self.finished:
            self._settle(None)
            return
        try:
            async for event in self.tail:
                yield event
        except UpstreamError as exc:
            self._settle(exc)
            raise
        self._settle(None)

    async def aclose(self) -> None:
        await self.tail.aclose()
        self._settle(None)

    def _settle(self, error: UpstreamError | None) -> None:
        if not self._closed:
            self._closed = True
            if self.on_close is not None:
                self.on_close(error)


def outcome_label(error: UpstreamError) -> str:
    if isinstance(error, UpstreamTimeout):
        return "timeout"
    if isinstance(error, UpstreamRateLimited):
        return "rate_limited"
    if isinstance(error, UpstreamRejected):
        return "rejected"
    if error.code == "upstream_connect_error":
        return "connect_error"
    return "error"


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
    ) -> None:
        self._config = config
        self._fleet = fleet
        self._metrics = metrics
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._strategies: dict[str, Strategy] = {
            name: strategy_for(group.strategy, self._rng) for name, group in config.models.items()
        }

    # -- the three kinds of call ----------------------------------------------------

    async def chat(self, request: RoutedRequest, body: dict[str, Any]) -> Completion:
        return await self._complete(request, lambda member: member.provider.chat(body))

    async def embeddings(self, request: RoutedRequest, body: dict[str, Any]) -> Completion:
        return await self._complete(request, lambda member: member.provider.embeddings(body))

    async def _complete(
        self, request: RoutedRequest, call: Callable[[Member], Awaitable[bytes]]
    ) -> Completion:
        async def timed(member: Member) -> tuple[bytes, float]:
            started = time.perf_counter()
            answer = await self._tracked(member, call, stream=False)
            return answer, time.perf_counter() - started

        (answer, upstream_seconds), member, attempts = await self._dispatch(request, timed, _nothing)
        return Completion(answer, member.name, attempts, upstream_seconds)

    async def open_stream(self, request: RoutedRequest, body: dict[str, Any]) -> OpenedStream:
        async def open_one(member: Member) -> OpenedStream:
            return await self._tracked(member, lambda m: _open_stream(m, body), stream=True)

        opened, _member, attempts = await self._dispatch(request, open_one, _close_stream)
        opened.attempts = attempts
        return opened

    # -- bookkeeping around every upstream call ---------------------------------------

    async def _tracked(self, member: Member, call: Callable[[Member], Awaitable[T]], *, stream: bool) -> T:
        """One upstream call with its effect on in-flight, breaker, stats and metrics."""
        metrics, name = self._metrics, member.name
        member.stats.in_flight += 1
        started = time.perf_counter()
        try:
            value = await call(member)
        except UpstreamError as exc:
            member.stats.in_flight -= 1
            if exc.retryable:
                member.breaker.record_failure(
                    exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
                )
            else:
                member.breaker.release()
            metrics.upstream_requests.labels(name, outcome_label(exc)).inc()
            self._publish_state(member)
            raise
        except asyncio.CancelledError:
            member.stats.in_flight -= 1
            member.breaker.release()
            metrics.upstream_requests.labels(name, "cancelled").inc()
            raise
        elapsed = time.perf_counter() - started
        member.stats.observe(elapsed, stream=stream)
        member.breaker.record_success()
        self._publish_state(member)
        if not stream:
            member.stats.in_flight -= 1
            metrics.upstream_requests.labels(name, "success").inc()
            metrics.upstream_duration.labels(name).observe(elapsed)
            return value
        metrics.upstream_first_chunk.labels(name).observe(elapsed)
        assert isinstance(value, OpenedStream)

        def closed(error: UpstreamError | None) -> None:
            member.stats.in_flight -= 1
            if error is not None:
                member.breaker.record_failure()
                self._publish_state(member)
            metrics.upstream_requests.labels(name, "stream_cut" if error else "success").inc()
            metrics.upstream_duration.labels(name).observe(time.perf_counter() - started)

        value.on_close = closed
        return value

    def _publish_state(self, member: Member) -> None:
        self._metrics.deployment_state.labels(member.name).set(int(member.breaker.state))

    # -- groups, rounds, retries, fallbacks -----------------------------------------

    async def _dispatch(
        self,
        request: RoutedRequest,
        call: Callable[[Member], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
    ) -> tuple[T, Member, int]:
        budget = AttemptBudget(request.group.max_attempts)
        failures: list[UpstreamError] = []
        try:
            async with asyncio.timeout(request.group.deadline):
                if request.pinned is not None:
                    return await self._pinned(request, call, discard, budget)
                return await self._through_groups(request, call, discard, budget, failures)
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"the request's deadline of {request.group.deadline:g}s passed "
                f"after {budget.used} upstream call(s)"
            ) from exc

    async def _pinned(
        self,
        request: RoutedRequest,
        call: Callable[[Member], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        budget: AttemptBudget,
    ) -> tuple[T, Member, int]:
        """An override pins one deployment: no strategy, no breaker, no fallback."""
        assert request.pinned is not None
        member = self._fleet[request.pinned]
        try:
            won = await run_round([member], call, Pace(), budget, admit=_always, discard=discard)
        except RoundFailed as failed:
            raise exhausted(request.group, failed.failures) from None
        return won.value, won.winner, budget.used

    async def _through_groups(
        self,
        request: RoutedRequest,
        call: Callable[[Member], Awaitable[T]],
        discard: Callable[[T], Awaitable[None]],
        budget: AttemptBudget,
        failures: list[UpstreamError],
    ) -> tuple[T, Member, int]:
        traits = RequestTraits(stream=request.stream, prompt_tokens=request.prompt_tokens)
        groups = [request.group, *(self._config.models[name] for name in request.group.fallbacks)]
        too_long = 0
        previous: str | None = None
        for group in groups:
            for round_index in range(group.retries.attempts + 1):
                candidates, skipped_for_length = self._candidates(group, request.prompt_tokens)
                too_long += skipped_for_length
                if not candidates or budget.remaining <= 0:
                    break
                if previous is not None:
                    self._metrics.fallbacks.labels(request.group.name, previous, group.name).inc()
                    previous = None
                if round_index:
                    await self._sleep(_backoff(group, round_index, self._rng))
                ordered = self._strategies[group.name].order(candidates, traits)
                try:
                    won = await run_round(
                        ordered, call, _pace(group, request.stream), budget, admit=_admit, discard=discard
                    )
                except RoundFailed as failed:
                    failures.extend(failed.failures)
                    for failure in failed.failures:
                        self._metrics.retries.labels(failure.deployment or group.name).inc()
                    continue
                if group.fans_out:
                    self._metrics.race_outcomes.labels(group.name, won.winner.name).inc()
                if won.hedges:
                    self._metrics.hedges.labels(group.name).inc(won.hedges)
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

    def _candidates(self, group: ModelGroup, prompt_tokens: int) -> tuple[list[Member], int]:
        """Usable members in configured order, and how many were skipped for a short context."""
        usable: list[Member] = []
        too_long = 0
        for name in group.deployments:
            member = self._fleet.get(name)
            if member is None or not member.breaker.available():
                continue
            limit = member.deployment.max_input_tokens
            if limit is not None and prompt_tokens > limit:
                too_long += 1
                continue
            usable.append(member)
        return usable, too_long

    def _unavailable(self, groups: list[ModelGroup]) -> NoDeploymentAvailable:
        waits = [
            member.breaker.seconds_until_available()
            for group in groups
            for name in group.deployments
            if (member := self._fleet.get(name)) is not None
        ]
        headers = {"retry-after": str(max(1, round(min(waits))))} if waits else None
        return NoDeploymentAvailable(
            f"no deployment of model {groups[0].name!r} is available right now (all cooling down)",
            headers=headers,
        )


def _pace(group: ModelGroup, stream: bool) -> Pace:
    if group.strategy == "race":
        return Pace(parallel=group.parallelism(), all_at_once=True)
    if group.strategy == "hedge":
        return Pace(parallel=group.parallelism(), hedge_delay=_hedge_delay(group, stream))
    return Pace()


def _hedge_delay(group: ModelGroup, stream: bool) -> Callable[[Member], float]:
    """A fixed delay, or ``auto``: the deployment's recent p95, never below the floor."""
    if group.hedge_delay is not None:
        fixed = group.hedge_delay
        return lambda member: fixed

    def auto(member: Member) -> float:
        window = member.stats.window(stream)
        if len(window) < _HEDGE_MIN_SAMPLES:
            return max(group.hedge_min_delay, _HEDGE_COLD_DELAY)
        return max(group.hedge_min_delay, window.percentile(95) or 0.0)

    return auto


def _backoff(group: ModelGroup, round_index: int, rng: random.Random) -> float:
    ceiling = min(group.retries.max_backoff, group.retries.backoff * 2.0 ** (round_index - 1))
    return ceiling * rng.random()


def _admit(member: Member) -> bool:
    return member.breaker.acquire()


def _always(member: Member) -> bool:
    return True


async def _nothing(value: object) -> None:
    return None


async def _close_stream(stream: OpenedStream) -> None:
    await stream.aclose()


async def _open_stream(member: Member, body: dict[str, Any]) -> OpenedStream:
    events = member.provider.chat_stream(body)
    started = time.perf_counter()
    try:
        head, finished = await _read_until_content(events, member.name)
    except BaseException:
        await events.aclose()
        raise
    return OpenedStream(member.name, head, events, started, finished)


async def _read_until_content(
    events: AsyncGenerator[bytes, None], deployment: str
) -> tuple[list[bytes], bool]:
    """Events up to and including the first content chunk; True when the stream already ended."""
    head: list[bytes] = []
    async for event in events:
        head.append(event)
        if is_done(event):
            return head, True
        payload = event_json(event)
        if isinstance(payload, dict) and "error" in payload:
            raise UpstreamError(f"deployment {deployment} sent an error event", deployment=deployment)
        if has_content(payload):
            return head, False
    raise UpstreamError(f"deployment {deployment} ended the stream before any content", deployment=deployment)


def exhausted(group: ModelGroup, failures: list[UpstreamError]) -> UpstreamError:
    """The error for a request whose every attempt failed: the most telling class wins."""
    summary = "; ".join(f"{failure.deployment}: {failure.message}" for failure in failures[-6:])
    message = f"every attempt to serve model {group.name!r} failed ({summary})"
    if failures and all(isinstance(f, UpstreamRateLimited) for f in failures):
        waits = [f.retry_after for f in failures if isinstance(f, UpstreamRateLimited) and f.retry_after]
        return UpstreamRateLimited(message, retry_after=min(waits) if waits else None)
    if failures and isinstance(failures[-1], UpstreamTimeout):
        return UpstreamTimeout(message)
    return UpstreamError(message)
