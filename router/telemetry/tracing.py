"""Request traces, as the rest of the gateway sees them: protocols, and the "off" side that does nothing.

A request's trace (``RequestTrace``) has a server span, and child spans for the cache
lookup, each upstream attempt (with its admission) and the stream relay. Callers never ask
whether tracing is on: with tracing off every object is a shared no-op (``OFF``,
``NO_TRACE``, ``NO_ATTEMPT``, ``NO_SPAN``) whose methods return at once, and the
OpenTelemetry SDK is never imported (``router.telemetry.otel``, the real side, is imported
only by ``router.telemetry.traces.start_tracing`` when the config has ``telemetry.traces``). A
trace is told how its request ended (``finish``) through ``FinishedRequest``: what it reads of
the request's record, without knowing the record (``Exchange``) itself. Both sides implement
the protocols without inheriting from them, so a method one of them lacks is a type error
(mypy), not a silent no-op.

The request's trace is found by whatever runs on its behalf through ``current_trace()``
(a context variable: tasks a round starts for its calls inherit it), so the dispatch code
needs no extra argument to reach it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from router.answers.cache import CacheStatus
    from router.config.model import Deployment
    from router.routing.rules import Decided
    from router.telemetry.labels import ClientApi, StreamOutcome, UpstreamApi
    from router.wire.formats import WireFormat
    from router.wire.usage import Usage


class AttemptOutcome(enum.StrEnum):
    """What became of one upstream attempt (``raceway.attempt.outcome``)."""

    WON = "won"  # its answer (or stream) is the request's
    LOST = "lost"  # it answered, but another call of its round had won a moment before
    LOST_CANCELLED = "lost-cancelled"  # cancelled because another call of its round won
    FAILED = "failed"  # the upstream failed (``error.type`` says how)
    REJECTED = "rejected"  # refused at admission: rate limit or full queue
    CANCELLED = "cancelled"  # stopped for another reason: the client left, the deadline passed


class Span(Protocol):
    """A child span of a request (the cache lookup)."""

    def set(self, key: str, value: str | bool | int | float) -> None: ...

    def end(self, error: BaseException | None = None) -> None: ...


class AttemptSpan(Protocol):
    """One upstream attempt's span. ``Attempt`` and the round report to it."""

    def propagate(self, trace: Mapping[str, str]) -> Mapping[str, str]:
        """The trace context the call sends upstream (given: the client's, when well-formed)."""

    def admitting(self) -> None:
        """Admission (rate limit, concurrency slot, queue) begins."""

    def admitted(self, *, queued: bool = False, refused: str | None = None) -> None:
        """Admission is over: ``queued`` if it waited for a slot; ``refused``: the reason it was refused."""

    def answered(self, document: Any, usage: Usage | None) -> None:
        """A non-streaming call answered 200 with ``document`` (parsed JSON, in the client's
        dialect: translated already when the deployment speaks another) that used ``usage``."""

    def opened(self, first_token: float, head: list[bytes]) -> None:
        """A stream delivered its first content after ``first_token`` seconds; ``head``: its events so far."""

    def stream_watcher(self, wire_format: WireFormat) -> Callable[[bytes], None] | None:
        """What should see each event of the stream this attempt opened (events in
        ``wire_format``); None: nothing (tracing off, or the request is not traced)."""

    def resumes(self, broken: AttemptSpan, at_chars: int) -> None:
        """This call continues the stream ``broken``'s call broke (``resume``): a link to its span."""

    def stream_ended(self, outcome: StreamOutcome, usage: Usage | None) -> None:
        """The stream this attempt serves ended."""

    def failed(self, error: BaseException) -> None:
        """The call raised ``error`` (an upstream error, a refusal, a cancellation)."""

    def losing(self) -> None:
        """Another call of the round won: this one is being cancelled."""

    def won(self) -> None:
        """The round picked this call's answer."""

    def lost(self) -> None:
        """This call answered too, but the round had picked another."""

    def ended(self) -> None:
        """The attempt gave back its claim on the deployment (``Attempt.end``)."""


class FinishedRequest(Protocol):
    """What a trace reads of its request once it is answered (``router.telemetry.exchange.Exchange``)."""

    @property
    def model(self) -> str: ...
    @property
    def dialect(self) -> ClientApi: ...
    @property
    def upstream_api(self) -> UpstreamApi: ...
    @property
    def deployment(self) -> str | None: ...
    @property
    def attempts(self) -> int: ...
    @property
    def key(self) -> str | None: ...
    @property
    def stream(self) -> bool: ...
    @property
    def first_token(self) -> float | None: ...
    @property
    def ending(self) -> StreamOutcome | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def cache(self) -> CacheStatus | None: ...
    @property
    def coalesced(self) -> bool: ...
    @property
    def decided(self) -> Decided | None: ...
    @property
    def session(self) -> str | None: ...


class RequestTrace(Protocol):
    """One request's trace."""

    def attempt(
        self, deployment: Deployment, *, number: int, hedge_delay: float | None = None
    ) -> AttemptSpan:
        """A span for the ``number``-th upstream call; ``hedge_delay``: the wait before this hedge."""

    def child(self, name: str) -> Span: ...

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        """Something that happened to the request (a fallback hand-over)."""

    def request_body(self, body: Mapping[str, Any]) -> None:
        """The parsed request (its messages go on the spans only with ``capture_content``)."""

    def exemplar(self) -> dict[str, str] | None:
        """``{"trace_id": ...}`` for a latency histogram, when this request is sampled."""

    def finish(self, request: FinishedRequest, status: int) -> None:
        """The request is answered (for a stream: the stream ended): end its spans."""


class Tracing(Protocol):
    """Starts request traces."""

    @property
    def enabled(self) -> bool: ...

    def begin(self, headers: Mapping[str, str], request_id: str, path: str) -> RequestTrace:
        """The trace of a request that just arrived (continuing its ``traceparent``), made current."""

    def shutdown(self) -> None:
        """Export what is still queued and stop (blocking)."""

    async def close(self) -> None:
        """``shutdown`` without blocking the event loop, for a bounded time (a worker stopping)."""


# -- tracing off: one shared no-op object of each kind ------------------------------------


class UntracedSpan:
    __slots__ = ()

    def set(self, key: str, value: str | bool | int | float) -> None:
        return None

    def end(self, error: BaseException | None = None) -> None:
        return None


class UntracedAttempt:
    __slots__ = ()

    def propagate(self, trace: Mapping[str, str]) -> Mapping[str, str]:
        return trace  # the client's own context goes upstream unchanged

    def admitting(self) -> None:
        return None

    def admitted(self, *, queued: bool = False, refused: str | None = None) -> None:
        return None

    def answered(self, document: Any, usage: Usage | None) -> None:
        return None

    def opened(self, first_token: float, head: list[bytes]) -> None:
        return None

    def stream_watcher(self, wire_format: WireFormat) -> Callable[[bytes], None] | None:
        return None

    def resumes(self, broken: AttemptSpan, at_chars: int) -> None:
        return

    def stream_ended(self, outcome: StreamOutcome, usage: Usage | None) -> None:
        return None

    def failed(self, error: BaseException) -> None:
        return None

    def losing(self) -> None:
        return None

    def won(self) -> None:
        return None

    def lost(self) -> None:
        return None

    def ended(self) -> None:
        return None


class UntracedRequest:
    __slots__ = ()

    def attempt(
        self, deployment: Deployment, *, number: int, hedge_delay: float | None = None
    ) -> AttemptSpan:
        return NO_ATTEMPT

    def child(self, name: str) -> Span:
        return NO_SPAN

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        return None

    def request_body(self, body: Mapping[str, Any]) -> None:
        return None

    def exemplar(self) -> dict[str, str] | None:
        return None

    def finish(self, request: FinishedRequest, status: int) -> None:
        return None


class TracingOff:
    __slots__ = ()

    enabled = False

    def begin(self, headers: Mapping[str, str], request_id: str, path: str) -> RequestTrace:
        return NO_TRACE

    def shutdown(self) -> None:
        return None

    async def close(self) -> None:
        return None


NO_SPAN: Span = UntracedSpan()
NO_ATTEMPT: AttemptSpan = UntracedAttempt()
NO_TRACE: RequestTrace = UntracedRequest()
OFF: Tracing = TracingOff()

_current: ContextVar[RequestTrace] = ContextVar("raceway_request_trace", default=NO_TRACE)


def current_trace() -> RequestTrace:
    """The trace of the request this task works for (``NO_TRACE`` outside one, or with tracing off)."""
    return _current.get()


def make_current(trace: RequestTrace) -> None:
    """Make ``trace`` the current request's (in this task and the tasks it starts from now on)."""
    _current.set(trace)
