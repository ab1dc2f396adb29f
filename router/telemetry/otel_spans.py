"""Tracing on, the span side: a request's OpenTelemetry spans and what goes on them.

Spans follow the GenAI semantic conventions on the upstream attempts (``gen_ai.*``), and
carry Raceway's own story of the request under ``raceway.*``: which deployments were tried,
which call won its round, what happened to the others, how long a hedge waited. No key,
secret or header value ever goes on a span; prompts and completions only with
``capture_content``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from router.errors import Saturated
from router.telemetry.labels import StreamOutcome, UpstreamOutcome
from router.telemetry.otel_attributes import (
    error_type,
    operation_of,
    provider_name,
    reasoning_attributes,
    response_attributes,
    server_of,
    usage_attributes,
)
from router.telemetry.tracing import AttemptOutcome, AttemptSpan, FinishedRequest, Span
from router.wire.sse import event_json

if TYPE_CHECKING:
    from router.config.model import Deployment
    from router.wire.formats import WireFormat
    from router.wire.usage import Usage

_ADMISSION_WAIT_NS = 1_000_000  # an admission shorter than 1 ms, not queued nor refused, gets no span


class OtelRequestTrace:
    """One request's server span and what hangs below it."""

    __slots__ = ("_capture", "_input", "_start_ns", "context", "operation", "recording", "span", "tracer")

    def __init__(self, tracer: Tracer, parent: Context, request_id: str, path: str, *, capture: bool) -> None:
        self.tracer = tracer
        self._start_ns = time.time_ns()
        self.span = self.tracer.start_span(
            f"POST {path}",
            context=parent,
            kind=SpanKind.SERVER,
            start_time=self._start_ns,
            attributes={"http.request.method": "POST", "url.path": path, "raceway.request_id": request_id},
        )
        self.recording = self.span.is_recording()
        self.context = trace_api.set_span_in_context(self.span, parent)
        self.operation = operation_of(path)
        self._capture = capture and self.recording
        self._input: str | None = None  # the request's messages as JSON, with capture_content

    def attempt(
        self, deployment: Deployment, *, number: int, hedge_delay: float | None = None
    ) -> AttemptSpan:
        return OtelAttemptSpan(self, deployment, number, hedge_delay)

    def child(self, name: str) -> Span:
        return OtelSpan(self.tracer.start_span(name, context=self.context))

    def event(self, name: str, attributes: Mapping[str, str]) -> None:
        if self.recording:
            self.span.add_event(name, dict(attributes))

    def request_body(self, body: Mapping[str, Any]) -> None:
        if self._capture:
            messages = body.get("messages", body.get("input"))
            if messages is not None:
                self._input = orjson.dumps(messages).decode()

    def exemplar(self) -> dict[str, str] | None:
        if not self.recording:
            return None
        return {"trace_id": format(self.span.get_span_context().trace_id, "032x")}

    def finish(self, request: FinishedRequest, status: int) -> None:
        now = time.time_ns()
        span = self.span
        if self.recording:
            if request.stream and request.first_token is not None:
                self._relay(request, now)
            attributes: dict[str, str | bool | int] = {
                "http.response.status_code": status,
                "raceway.model": request.model,
                "raceway.dialect": str(request.dialect),
                "raceway.upstream_api": str(request.upstream_api),
                "raceway.attempts": request.attempts,
                "raceway.stream": request.stream,
            }
            if request.deployment is not None:
                attributes["raceway.deployment"] = request.deployment
            if request.cache is not None:
                attributes["raceway.cache"] = str(request.cache)
            if request.coalesced:
                attributes["raceway.coalesced"] = True
            decided = request.decided
            if decided is not None and request.session is not None:
                attributes["raceway.affinity"] = str(decided.affinity)
            if decided is not None and decided.alone is not None:
                attributes["raceway.alone"] = decided.alone  # why one call, not several
            if request.key is not None:
                attributes["raceway.key"] = request.key  # the key's name in the config, never the key
            if request.error is not None:
                attributes["error.type"] = request.error
            span.set_attributes(attributes)
            if status >= 500 or request.ending is StreamOutcome.CUT:
                span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=now)

    def _relay(self, request: FinishedRequest, now: int) -> None:
        """The stream relay: from the first content chunk to the stream's end."""
        assert request.first_token is not None
        ending = request.ending
        if ending is None:  # not told: it failed before its end, unless it had no error
            ending = StreamOutcome.COMPLETE if request.error is None else StreamOutcome.CUT
        relay = self.tracer.start_span(
            "stream relay",
            context=self.context,
            start_time=self._start_ns + int(request.first_token * 1e9),
            attributes={"raceway.stream.outcome": str(ending)},
        )
        if ending is StreamOutcome.CUT:
            relay.set_status(Status(StatusCode.ERROR))
        relay.end(end_time=now)


class OtelSpan:
    __slots__ = ("_span",)

    def __init__(self, span: trace_api.Span) -> None:
        self._span = span

    def set(self, key: str, value: str | bool | int | float) -> None:
        self._span.set_attribute(key, value)

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            self._span.set_attribute("error.type", error_type(error))
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()


class OtelAttemptSpan:
    """An upstream attempt: a CLIENT span named as the GenAI conventions say (``chat gpt-4o``).

    It ends when the attempt gives back its claim (``ended``); a call that answered waits, in
    addition, for its round to say whether it won (``won``/``lost``), so its outcome is known
    before the span is exported.
    """

    __slots__ = (
        "_admit_ns",
        "_answered",
        "_closed",
        "_end_ns",
        "_finish_reasons",
        "_losing",
        "_outcome",
        "_trace",
        "deployment",
        "span",
    )

    def __init__(
        self, trace: OtelRequestTrace, deployment: Deployment, number: int, hedge_delay: float | None
    ):
        self._trace = trace
        self.deployment = deployment.name
        model = deployment.model or deployment.name
        attributes: dict[str, str | bool | int | float] | None = None
        if trace.recording:
            attributes = {
                "gen_ai.operation.name": trace.operation,
                "gen_ai.provider.name": provider_name(deployment.provider),
                "gen_ai.request.model": model,
                "raceway.deployment": deployment.name,
                "raceway.upstream_api": deployment.api.value,
                "raceway.attempt.number": number,
                "raceway.attempt.hedge": hedge_delay is not None,
            }
            if hedge_delay is not None:
                attributes["raceway.hedge.delay_s"] = hedge_delay
            attributes.update(server_of(deployment.base_url))
            if trace._input is not None:
                attributes["gen_ai.input.messages"] = trace._input
        self.span = trace.tracer.start_span(
            f"{trace.operation} {model}", context=trace.context, kind=SpanKind.CLIENT, attributes=attributes
        )
        self._outcome: AttemptOutcome | None = None
        self._answered = self._losing = self._closed = False
        self._finish_reasons: list[str] = []
        self._end_ns = self._admit_ns = 0

    def propagate(self, trace: Mapping[str, str]) -> Mapping[str, str]:
        context = self.span.get_span_context()
        headers = {
            "traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
        }
        if context.trace_state:
            headers["tracestate"] = context.trace_state.to_header()
        return headers

    def admitting(self) -> None:
        self._admit_ns = time.time_ns()

    def admitted(self, *, queued: bool = False, refused: str | None = None) -> None:
        """An ``admission`` span when admission made the call wait (a queue, a rate limit's
        smoothing) or refused it; one that let it through at once would only cost its export."""
        started, self._admit_ns = self._admit_ns, 0
        if not self._trace.recording or not started:
            return
        now = time.time_ns()
        if not queued and refused is None and now - started < _ADMISSION_WAIT_NS:
            return
        admission = self._trace.tracer.start_span(
            "admission",
            context=trace_api.set_span_in_context(self.span),
            start_time=started,
            attributes={"raceway.admission.queued": queued},
        )
        if refused is not None:
            admission.set_attribute("error.type", refused)
            admission.set_status(Status(StatusCode.ERROR))
        admission.end(end_time=now)

    def answered(self, document: Any, usage: Usage | None) -> None:
        self._answered = True
        if not self._trace.recording or not isinstance(document, dict):
            return
        attributes = response_attributes(document) | usage_attributes(usage) | reasoning_attributes(document)
        choices = document.get("choices")  # chat and legacy completions
        reasons: list[str] = []
        if isinstance(choices, list):
            reasons = [
                str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")
            ]
        elif isinstance(stop := document.get("stop_reason"), str):  # Anthropic Messages
            reasons = [stop]
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
        if self._trace._capture:
            output = document.get("content", document.get("output"))  # Messages, Responses
            if isinstance(choices, list):
                output = [c.get("message", c.get("text")) for c in choices if isinstance(c, dict)]
            if output is not None:
                attributes["gen_ai.output.messages"] = orjson.dumps(output).decode()
        self.span.set_attributes(attributes)

    def opened(self, first_token: float, head: list[bytes]) -> None:
        self._answered = True
        if not self._trace.recording:
            return
        self.span.set_attribute("gen_ai.response.time_to_first_chunk", first_token)
        self.span.set_attribute("gen_ai.request.stream", True)
        for event in head:
            found = response_attributes(event_json(event))
            if found:
                self.span.set_attributes(found)
                break

    def stream_watcher(self, wire_format: WireFormat) -> Callable[[bytes], None] | None:
        if not self._trace.recording:
            return None
        reasons = self._finish_reasons = []

        def watch(event: bytes) -> None:
            reasons.extend(wire_format.finish_reasons(event))

        return watch

    def resumes(self, broken: AttemptSpan, at_chars: int) -> None:
        if not self._trace.recording or not isinstance(broken, OtelAttemptSpan):
            return
        self.span.set_attribute("raceway.resume.from", broken.deployment)
        self.span.add_link(
            broken.span.get_span_context(), {"raceway.link": "resumes", "raceway.resume.at_chars": at_chars}
        )

    def stream_ended(self, outcome: StreamOutcome, usage: Usage | None) -> None:
        if not self._trace.recording:
            return
        if self._finish_reasons:
            self.span.set_attribute("gen_ai.response.finish_reasons", self._finish_reasons)
        self.span.set_attribute("raceway.stream.outcome", str(outcome))
        self.span.set_attributes(usage_attributes(usage))
        if outcome is StreamOutcome.CUT:
            self.span.set_attribute("error.type", UpstreamOutcome.STREAM_CUT.value)
            self.span.set_status(Status(StatusCode.ERROR))

    def failed(self, error: BaseException) -> None:
        if isinstance(error, asyncio.CancelledError):
            self._outcome = AttemptOutcome.LOST_CANCELLED if self._losing else AttemptOutcome.CANCELLED
            return
        self._outcome = AttemptOutcome.REJECTED if isinstance(error, Saturated) else AttemptOutcome.FAILED
        if self._trace.recording:
            self.span.set_attribute("error.type", error_type(error))
            if self._outcome is AttemptOutcome.FAILED:
                self.span.set_status(Status(StatusCode.ERROR))

    def losing(self) -> None:
        self._losing = True

    def won(self) -> None:
        self._outcome = AttemptOutcome.WON
        if self._end_ns:
            self._close()

    def lost(self) -> None:
        self._outcome = AttemptOutcome.LOST
        if self._end_ns:
            self._close()

    def ended(self) -> None:
        if self._end_ns:
            return
        self._end_ns = time.time_ns()
        if self._admit_ns:  # cancelled while waiting for admission
            self.admitted(refused="cancelled")
        if self._answered and self._outcome is None:
            return  # the round has yet to say whether this answer won
        self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._outcome is None:
            self._outcome = AttemptOutcome.LOST_CANCELLED if self._losing else AttemptOutcome.CANCELLED
        if self._trace.recording:
            self.span.set_attribute("raceway.attempt.outcome", str(self._outcome))
        self.span.end(end_time=self._end_ns)
