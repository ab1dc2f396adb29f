"""What the request log keeps of a request beyond its access-log line: each upstream attempt
with its outcome, the trace id when traced, and (``server.request_log.bodies``) its body.

It is told through the tracing facade the dispatch code already reports to
(``router.telemetry.tracing``): ``JournalTracing`` wraps the worker's tracing (on or off) and
hands each request a ``JournalTrace`` that notes what it hears and passes everything on to
the real trace. Dispatch needs no new argument and learns nothing about the request log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from router.errors import GatewayError, Saturated
from router.telemetry.labels import StreamOutcome, UpstreamOutcome
from router.telemetry.tracing import (
    AttemptOutcome,
    AttemptSpan,
    RequestTrace,
    Span,
    Tracing,
    make_current,
)

if TYPE_CHECKING:
    from router.config.model import Deployment
    from router.telemetry.tracing import FinishedRequest
    from router.wire.formats import WireFormat
    from router.wire.usage import Usage

# What a failed attempt's error becomes for the status page's "last error" of its deployment.
FailureNote = Callable[[str, str, str], None]  # (deployment, code, message)


class JournalTracing(Tracing):
    """The worker's ``tracing``, with every request's trace wrapped in a ``JournalTrace``."""

    __slots__ = ("_bodies", "_failure", "inner")

    def __init__(self, inner: Tracing, *, bodies: bool, on_failure: FailureNote) -> None:
        self.inner = inner
        self._bodies = bodies
        self._failure = on_failure

    # A property over the facade's class attribute (a Protocol's property once tracing is Protocols).
    @property
    def enabled(self) -> bool:  # type: ignore[override, unused-ignore]
        return self.inner.enabled

    def begin(self, headers: Mapping[str, str], request_id: str, path: str) -> RequestTrace:
        trace = JournalTrace(self.inner.begin(headers, request_id, path), self._bodies, self._failure)
        make_current(trace)
        return trace

    def shutdown(self) -> None:
        self.inner.shutdown()

    async def close(self) -> None:
        await self.inner.close()


class JournalTrace(RequestTrace):
    __slots__ = ("_bodies", "_failure", "attempts", "body", "inner")

    def __init__(self, inner: RequestTrace, bodies: bool, on_failure: FailureNote) -> None:
        self.inner = inner
        self._bodies = bodies
        self._failure = on_failure
        self.attempts: list[JournalAttempt] = []
        self.body: Mapping[str, Any] | None = None

    def attempt(
        self, deployment: Deployment, *, number: int, hedge_delay: float | None = None
    ) -> AttemptSpan:
        span = self.inner.attempt(deployment, number=number, hedge_delay=hedge_delay)
        attempt = JournalAttempt(span, deployment.name, number, hedge_delay is not None, self._failure)
        self.attempts.append(attempt)
        return attempt

    def child(self, name: str) -> Span:
        return self.inner.child(name)

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        self.inner.event(name, attributes)

    def request_body(self, body: Mapping[str, Any]) -> None:
        if self._bodies:
            self.body = body
        self.inner.request_body(body)

    def exemplar(self) -> dict[str, str] | None:
        return self.inner.exemplar()

    def finish(self, request: FinishedRequest, status: int) -> None:
        self.inner.finish(request, status)

    def trace_id(self) -> str | None:
        found = self.inner.exemplar()
        return found["trace_id"] if found else None

    def described(self) -> list[dict[str, Any]]:
        """The attempts as the request log keeps them, in the order they started."""
        return [attempt.described() for attempt in self.attempts]


class JournalAttempt(AttemptSpan):
    """One attempt's outcome, decided as the trace's attempt span decides it (``AttemptOutcome``)."""

    __slots__ = (
        "_failure",
        "_losing",
        "deployment",
        "ended_at",
        "error",
        "hedge",
        "inner",
        "number",
        "outcome",
        "started_at",
    )

    def __init__(
        self, inner: AttemptSpan, deployment: str, number: int, hedge: bool, on_failure: FailureNote
    ) -> None:
        self.inner = inner
        self.deployment = deployment
        self.number = number
        self.hedge = hedge
        self._failure = on_failure
        self._losing = False
        self.outcome: AttemptOutcome | None = None
        self.error: str | None = None
        self.started_at = time.perf_counter()
        self.ended_at: float | None = None

    def described(self) -> dict[str, Any]:
        outcome = self.outcome
        if outcome is None:  # never told: stopped by whatever ended the request
            outcome = AttemptOutcome.LOST_CANCELLED if self._losing else AttemptOutcome.CANCELLED
        ended = self.ended_at if self.ended_at is not None else time.perf_counter()
        return {
            "number": self.number,
            "deployment": self.deployment,
            "hedge": self.hedge,
            "outcome": outcome.value,
            "error": self.error,
            "ms": round((ended - self.started_at) * 1000, 3),
        }

    def propagate(self, trace: Mapping[str, str]) -> Mapping[str, str]:
        return self.inner.propagate(trace)

    def admitting(self) -> None:
        self.inner.admitting()

    def admitted(self, *, queued: bool = False, refused: str | None = None) -> None:
        self.inner.admitted(queued=queued, refused=refused)

    def answered(self, document: Any, usage: Usage | None) -> None:
        self.inner.answered(document, usage)

    def opened(self, first_token: float, head: list[bytes]) -> None:
        self.inner.opened(first_token, head)

    def stream_watcher(self, wire_format: WireFormat) -> Callable[[bytes], None] | None:
        return self.inner.stream_watcher(wire_format)

    def resumes(self, broken: AttemptSpan, at_chars: int) -> None:
        self.inner.resumes(broken.inner if isinstance(broken, JournalAttempt) else broken, at_chars)

    def stream_ended(self, outcome: StreamOutcome, usage: Usage | None) -> None:
        if outcome is StreamOutcome.CUT:
            self.error = UpstreamOutcome.STREAM_CUT.value
            self._failure(self.deployment, self.error, "the stream ended before it was complete")
        self.inner.stream_ended(outcome, usage)

    def failed(self, error: BaseException) -> None:
        if isinstance(error, asyncio.CancelledError):
            self.outcome = AttemptOutcome.LOST_CANCELLED if self._losing else AttemptOutcome.CANCELLED
        else:
            self.outcome = AttemptOutcome.REJECTED if isinstance(error, Saturated) else AttemptOutcome.FAILED
            code = error.code if isinstance(error, GatewayError) else None
            self.error = code or type(error).__name__
            if self.outcome is AttemptOutcome.FAILED:
                message = error.message if isinstance(error, GatewayError) else ""
                self._failure(self.deployment, self.error, message)
        self.inner.failed(error)

    def losing(self) -> None:
        self._losing = True
        self.inner.losing()

    def won(self) -> None:
        self.outcome = AttemptOutcome.WON
        self.inner.won()

    def lost(self) -> None:
        self.outcome = AttemptOutcome.LOST
        self.inner.lost()

    def ended(self) -> None:
        if self.ended_at is None:
            self.ended_at = time.perf_counter()
        self.inner.ended()
