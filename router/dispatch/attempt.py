"""One upstream call and its claim on the deployment, from admission to its end.

A round begins an ``Attempt`` when it decides to call a deployment (``Calls.begin`` takes
the breaker's probe if the deployment is half-open). The attempt is then admitted (rate
limit, concurrency slot, perhaps a queue), makes its call, and is ended exactly once by
``Attempt.end``: the one place that gives back the probe or records the breaker's
verdict, frees the slot, settles the token estimate and keeps the in-flight count true,
whatever happened: success, failure, a race loser cancelled (perhaps before it even
started), or a stream that ended, was cut, or was abandoned (a stream's attempt is one of its
leg's observers, ``StreamBookkeeping``: it ends when the leg's result is known).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from router.dispatch.completion import Answers, Call, Completion
from router.dispatch.legs import Leg, open_stream
from router.dispatch.stream_end import StreamObserver, StreamResult
from router.errors import Saturated, UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.fleet.breaker import State
from router.fleet.fleet import Member
from router.providers.correlation import Correlation
from router.spend.pricing import cost_usd
from router.telemetry.labels import StreamOutcome, UpstreamOutcome
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import NO_ATTEMPT, AttemptSpan
from router.wire.formats import WireFormat
from router.wire.sse import Batches
from router.wire.usage import Usage


class Verdict(enum.Enum):
    """What an attempt says about its deployment's health."""

    SUCCESS = "success"
    FAILURE = "failure"  # a retryable failure: counts toward a cooldown
    NONE = "none"  # no verdict: cancelled, refused before the call, or the request's own fault


def outcome_label(error: UpstreamError) -> UpstreamOutcome:
    if isinstance(error, Saturated):
        return UpstreamOutcome.REJECTED
    if isinstance(error, UpstreamTimeout):
        return UpstreamOutcome.TIMEOUT
    if isinstance(error, UpstreamRateLimited):
        return UpstreamOutcome.RATE_LIMITED
    if isinstance(error, UpstreamRejected):
        return UpstreamOutcome.REQUEST_ERROR
    if error.code == "upstream_connect_error":
        return UpstreamOutcome.CONNECT_ERROR
    return UpstreamOutcome.ERROR


class Attempt:
    """One call's claim on ``member``: the breaker's probe, a rate-limit charge, a concurrency slot."""

    __slots__ = (
        "_admitted",
        "_calls",
        "_ended",
        "_holds_probe",
        "_tokens",
        "answered_in",
        "member",
        "span",
        "started",
    )

    def __init__(self, calls: Calls, member: Member, *, holds_probe: bool) -> None:
        self._calls = calls
        self.member = member
        self._holds_probe = holds_probe
        self._admitted = False
        self._ended = False
        self._tokens = 0
        self.started = 0.0  # perf_counter when the call itself started (after admission)
        self.answered_in = 0.0  # seconds from its start to its answer (a stream's: its first content)
        self.span: AttemptSpan = NO_ATTEMPT  # its trace span, set by the round that starts it

    async def admit(self, tokens: int) -> None:
        """Rate limit, then a concurrency slot (queueing if the deployment allows it).

        A refusal is a retryable ``Saturated``: try another deployment, or answer 429."""
        member, metrics = self.member, self._calls.metrics
        self.span.admitting()
        queued = 0.0
        try:
            await member.rate.admit(tokens, owner=f"deployment {member.name}")
            if member.gate.has_capacity():
                await member.gate.enter()
            else:
                queued = time.perf_counter()
                metrics.queue_depth.labels(member.name).inc()
                try:
                    await member.gate.enter()
                finally:
                    metrics.queue_depth.labels(member.name).dec()
                    metrics.queue_wait.labels(member.name).observe(time.perf_counter() - queued)
        except Saturated as exc:
            exc.deployment = member.name
            metrics.rejected.labels(member.name, exc.reason).inc()
            self.span.admitted(queued=bool(queued), refused=exc.reason)
            raise
        self.span.admitted(queued=bool(queued))
        self._tokens, self._admitted = tokens, True
        member.stats.in_flight += 1
        metrics.inflight.labels(member.name).inc()
        self.started = time.perf_counter()

    @property
    def admitted(self) -> bool:
        return self._admitted

    @property
    def ended(self) -> bool:
        return self._ended

    def succeeded(self, *, stream: bool) -> float:
        """The call answered (for a stream: its first content): the deployment is healthy. Seconds taken."""
        elapsed = self.answered_in = time.perf_counter() - self.started
        self.member.stats.observe(elapsed, stream=stream)
        self.member.breaker.record_success()
        self._holds_probe = False  # the probe succeeded: the breaker is closed
        self._calls.publish_state(self.member)
        return elapsed

    def end(self, verdict: Verdict, *, retry_after: float | None = None, usage: Usage | None = None) -> None:
        """Give everything back, once; ``usage``: the tokens the call really used, if known."""
        if self._ended:
            return
        self._ended = True
        member = self.member
        if self._admitted:
            member.stats.in_flight -= 1
            self._calls.metrics.inflight.labels(member.name).dec()
            member.gate.leave()
            if usage is not None:
                member.rate.settle(self._tokens, usage.total)
        if verdict is Verdict.FAILURE:
            member.breaker.record_failure(retry_after)
            self._calls.publish_state(member)
        elif self._holds_probe:
            member.breaker.release()
        self.span.ended()


class Calls:
    """The calls of one dispatcher: begins attempts and runs them, JSON or stream."""

    def __init__(self, metrics: Metrics, on_cooldown: Callable[[Member], None] | None = None) -> None:
        """``on_cooldown``: told when a deployment's breaker opens (to share the cooldown)."""
        self.metrics = metrics
        self._on_cooldown = on_cooldown

    def begin(self, member: Member, *, check_breaker: bool = True) -> Attempt | None:
        """An attempt on ``member``, or None while its breaker refuses calls (or another probe runs)."""
        if not check_breaker:
            return Attempt(self, member, holds_probe=False)
        probing = member.breaker.state is State.HALF_OPEN
        if not member.breaker.acquire():
            return None
        return Attempt(self, member, holds_probe=probing)

    async def complete(
        self,
        attempt: Attempt,
        call: Callable[[Member, Correlation], Awaitable[bytes]],
        tokens: int,
        answers: Answers,
        correlation: Correlation,
    ) -> Completion:
        """A non-streaming call; ``attempts`` is filled in by the dispatcher.

        A 200 that is not one of ``answers`` (an HTML page from a proxy, JSON without
        ``choices``) is the deployment's failure, retried elsewhere like a 5xx."""
        member = attempt.member
        try:
            await attempt.admit(tokens)
            correlation.trace = attempt.span.propagate(correlation.trace)
            answer = await call(member, correlation)
            document = _loads(answer)
            if not answers.holds_answer(document):
                raise UpstreamError(
                    f"deployment {member.name} answered 200 with something that is not {answers.described}",
                    deployment=member.name,
                    code="upstream_invalid_answer",
                )
        except BaseException as exc:
            self._failed(attempt, exc, correlation)
            raise
        elapsed = attempt.succeeded(stream=False)
        usage = answers.answer_usage(document)
        if usage is not None and usage.cache_read:
            member.stats.observe_warm(elapsed, stream=False)
        attempt.span.answered(document, usage)
        attempt.end(Verdict.SUCCESS, usage=usage)
        self.metrics.upstream_requests.labels(member.name, UpstreamOutcome.SUCCESS).inc()
        self.metrics.upstream_duration.labels(member.name).observe(elapsed)
        cost = cost_usd(member.price, usage) if usage else 0.0
        return Completion(answer, member.name, 0, elapsed, usage, cost, correlation)

    async def stream(
        self, attempt: Attempt, call: Call, client: WireFormat, tokens: int, correlation: Correlation
    ) -> Leg:
        """A stream (its events in the ``client``'s format), committed once it delivers content;
        the attempt ends when the stream's leg does (``StreamBookkeeping``)."""
        member = attempt.member
        observers: list[StreamObserver] = [StreamBookkeeping(self, attempt)]
        watch = attempt.span.stream_watcher(client)
        if watch is not None:
            observers.append(SpanWatcher(watch))
        try:
            await attempt.admit(tokens)
            correlation.trace = attempt.span.propagate(correlation.trace)
            events: Batches = call.stream(member.provider, member.target, correlation)
            leg = await open_stream(
                member.deployment,
                events,
                member.scrubber,
                client,
                correlation=correlation,
                price=member.price,
                span=attempt.span,
                observers=observers,
            )
        except BaseException as exc:
            self._failed(attempt, exc, correlation)
            raise
        first_token = attempt.succeeded(stream=True)
        self.metrics.upstream_first_chunk.labels(member.name).observe(first_token)
        attempt.span.opened(first_token, leg.head)
        return leg

    def _failed(self, attempt: Attempt, exc: BaseException, correlation: Correlation) -> None:
        admitted = attempt.admitted
        attempt.span.failed(exc)
        if isinstance(exc, UpstreamError) and not isinstance(exc, Saturated):
            exc.upstream_request_id = correlation.request_id
            retry_after = exc.retry_after if isinstance(exc, UpstreamRateLimited) else None
            attempt.end(Verdict.FAILURE if exc.retryable else Verdict.NONE, retry_after=retry_after)
            if admitted:
                self.metrics.upstream_requests.labels(attempt.member.name, outcome_label(exc)).inc()
            return
        # Refused at admission, cancelled (a race loser, a client gone), or a bug: no verdict.
        attempt.end(Verdict.NONE)
        if admitted and isinstance(exc, asyncio.CancelledError):
            self.metrics.upstream_requests.labels(attempt.member.name, UpstreamOutcome.CANCELLED).inc()

    def publish_state(self, member: Member) -> None:
        state = int(member.breaker.state)
        if state != member.published_state:  # a gauge write only when the state moves
            member.published_state = state
            self.metrics.deployment_state.labels(member.name).set(state)
            if state == State.COOLED_DOWN and self._on_cooldown is not None:
                self._on_cooldown(member)


class StreamBookkeeping:
    """The attempt that opened a stream, told how its call ended: the deployment's slot and
    breaker verdict (a cut is a failure), its warm-latency figures, its span and its metrics."""

    __slots__ = ("_attempt", "_calls")

    def __init__(self, calls: Calls, attempt: Attempt) -> None:
        self._calls = calls
        self._attempt = attempt

    def on_event(self, event: bytes) -> None:
        return None

    def on_end(self, result: StreamResult) -> None:
        attempt, metrics = self._attempt, self._calls.metrics
        member, usage, outcome = attempt.member, result.usage, result.outcome
        if usage is not None and usage.cache_read:
            member.stats.observe_warm(attempt.answered_in, stream=True)
        attempt.span.stream_ended(outcome, usage)
        attempt.end(Verdict.FAILURE if outcome is StreamOutcome.CUT else Verdict.NONE, usage=usage)
        metrics.upstream_requests.labels(member.name, outcome.upstream_label).inc()
        metrics.upstream_duration.labels(member.name).observe(time.perf_counter() - attempt.started)


class SpanWatcher:
    """The attempt's trace span, shown the stream's events (its finish reasons); the span hears
    the end from ``StreamBookkeeping``, which ends the attempt and with it the span."""

    __slots__ = ("_watch",)

    def __init__(self, watch: Callable[[bytes], None]) -> None:
        self._watch = watch

    def on_event(self, event: bytes) -> None:
        self._watch(event)

    def on_end(self, result: StreamResult) -> None:
        return None


def _loads(answer: bytes) -> Any:
    try:
        return orjson.loads(answer)
    except orjson.JSONDecodeError:
        return None
