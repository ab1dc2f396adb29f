"""Tracing on: each request's OpenTelemetry spans, exported over OTLP/HTTP in the background.

Imported only when the config has ``telemetry.traces`` (``tracing.start_tracing``). Spans
follow the GenAI semantic conventions on the upstream attempts (``gen_ai.*``), and carry
Raceway's own story of the request under ``raceway.*``: which deployments were tried, which
call won its round, what happened to the others, how long a hedge waited.

Export never holds up a request: an ended span goes into a bounded queue that a
``BatchSpanProcessor`` thread drains to the collector. When the queue is full, or an export
fails (collector down, slow, refusing), the spans are dropped and counted in
``raceway_trace_spans_dropped_total{reason}``. No key, secret or header value ever goes on a
span; prompts and completions only with ``capture_content``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from router.errors import GatewayError, Saturated
from router.sse import event_json
from router.telemetry.metrics import SPAN_DROP_REASONS, Metrics
from router.telemetry.tracing import (
    NO_TRACE,
    AttemptOutcome,
    AttemptSpan,
    RequestTrace,
    Span,
    Tracing,
    make_current,
)

if TYPE_CHECKING:
    from router.config.model import Deployment
    from router.config.telemetry import TraceSettings
    from router.dialects.formats import WireFormat
    from router.dialects.usage import Usage
    from router.telemetry.exchange import Exchange

logger = logging.getLogger("raceway.tracing")

_TRACES_PATH = "/v1/traces"
_DEFAULT_QUEUE = 2048  # OTEL_BSP_MAX_QUEUE_SIZE's default
_DEFAULT_BATCH = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE's
_ADMISSION_WAIT_NS = 1_000_000  # an admission shorter than 1 ms, not queued nor refused, gets no span
_SHUTDOWN_GRACE = 5.0  # seconds a stopping worker waits for its last spans to leave

# ``gen_ai.provider.name``: the conventions' well-known values; other providers keep their name.
_PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "gemini": "gcp.gemini",
    "groq": "groq",
    "mistral": "mistral_ai",
    "vertex_ai": "gcp.vertex_ai",
    "xai": "x_ai",
}

# How a request ended, as the access log's ``error`` says it, for the stream relay's span.
_STREAM_ENDINGS = {
    None: "complete",
    "stream_cut": "cut",
    "client_closed_request": "abandoned",
    "server_shutting_down": "stopped",
}


def traces_url(endpoint: str | None) -> str | None:
    """The collector's traces URL: a base URL gets ``/v1/traces``, as ``OTEL_EXPORTER_OTLP_ENDPOINT``
    does; None leaves it to the exporter (the environment's, else localhost)."""
    if endpoint is None:
        return None
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(_TRACES_PATH) else endpoint + _TRACES_PATH


def _resource(worker: int) -> Resource:
    """``service.name`` raceway unless the environment names the service (OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES), which also adds its own attributes."""
    from_environment = Resource.create()
    own: dict[str, str | int] = {
        SERVICE_VERSION: importlib.metadata.version("raceway"),
        "raceway.worker": worker,
    }
    if str(from_environment.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        own[SERVICE_NAME] = "raceway"
    return from_environment.merge(Resource(own))


class _Backlog:
    """Spans handed to the batch processor and not yet through an export: bounded, so the
    processor's own queue never overflows silently (every drop is counted here)."""

    __slots__ = ("_count", "_limit", "_lock")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._count = 0
        self._lock = threading.Lock()

    def add(self) -> bool:
        with self._lock:
            if self._count >= self._limit:
                return False
            self._count += 1
            return True

    def done(self, spans: int) -> None:
        with self._lock:
            self._count = max(0, self._count - spans)


class _CountingExporter(SpanExporter):
    """The OTLP exporter, counting the spans of every batch it could not deliver."""

    def __init__(self, inner: SpanExporter, backlog: _Backlog, metrics: Metrics) -> None:
        self._inner = inner
        self._backlog = backlog
        self._failed = metrics.spans_dropped.labels("export_failed")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._inner.export(spans)
        except Exception:  # the batch thread would log and go on: count the batch as lost too
            logger.exception("exporting %d spans failed", len(spans))
            result = SpanExportResult.FAILURE
        finally:
            self._backlog.done(len(spans))
        if result is not SpanExportResult.SUCCESS:
            self._failed.inc(len(spans))
        return result

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class _BoundedBatches(SpanProcessor):
    """A ``BatchSpanProcessor`` behind the backlog's bound: a span that finds it full is
    dropped and counted instead of queued."""

    def __init__(self, batches: BatchSpanProcessor, backlog: _Backlog, metrics: Metrics) -> None:
        self._batches = batches
        self._backlog = backlog
        self._full = metrics.spans_dropped.labels("queue_full")

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled):
            return
        if not self._backlog.add():
            self._full.inc()
            return
        self._batches.on_end(span)

    def shutdown(self) -> None:
        self._batches.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batches.force_flush(timeout_millis)


class OtelTracing(Tracing):
    """Request traces through the OpenTelemetry SDK, exported by a batch thread of this worker."""

    __slots__ = ("_capture", "_propagator", "_provider", "_random", "_ratio", "tracer")

    enabled = True

    def __init__(self, settings: TraceSettings, metrics: Metrics, *, worker: int = 0) -> None:
        for reason in SPAN_DROP_REASONS:  # 0, not "No data", until the first drop
            metrics.spans_dropped.labels(reason)
        exporter = OTLPSpanExporter(
            endpoint=traces_url(settings.endpoint),
            headers={name: value.reveal() for name, value in settings.headers.items()} or None,
            timeout=settings.timeout,
        )
        queue = int(os.environ.get("OTEL_BSP_MAX_QUEUE_SIZE") or _DEFAULT_QUEUE)
        batch = min(queue, int(os.environ.get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") or _DEFAULT_BATCH))
        backlog = _Backlog(queue)
        batches = BatchSpanProcessor(
            _CountingExporter(exporter, backlog, metrics), max_queue_size=queue, max_export_batch_size=batch
        )
        # ALWAYS_ON: ``begin`` already sampled (a client's unsampled trace never reaches the SDK),
        # and a span of ours always follows its request's (the parent's trace state too)
        self._provider = TracerProvider(sampler=ALWAYS_ON, resource=_resource(worker))
        self._provider.add_span_processor(_BoundedBatches(batches, backlog, metrics))
        self.tracer = self._provider.get_tracer("raceway")
        self._propagator = TraceContextTextMapPropagator()
        self._capture = settings.capture_content
        self._ratio = settings.sample_ratio
        self._random = random.Random()

    def begin(self, headers: Mapping[str, str], request_id: str, path: str) -> RequestTrace:
        """The request's trace, when it is sampled: the client's ``traceparent`` decides when it
        has one (W3C's sampled flag), else ``sample_ratio``.

        A request not sampled never reaches the SDK (no span object, no ids: the cost of
        tracing is then one draw and a header lookup) and is treated as with tracing off: the
        client's trace context, if any, goes upstream as it came, so a traced upstream still
        joins the client's trace.
        """
        parent = None
        traceparent = headers.get("traceparent")
        if traceparent is not None:
            parent = self._propagator.extract(headers)
            span_context = trace_api.get_current_span(parent).get_span_context()
            if not span_context.is_valid:
                parent = None
            elif not span_context.trace_flags.sampled:
                make_current(NO_TRACE)
                return NO_TRACE
        if parent is None:
            if self._random.random() >= self._ratio:
                make_current(NO_TRACE)
                return NO_TRACE
            parent = Context()
        trace = OtelRequestTrace(self, parent, request_id, path, capture=self._capture)
        make_current(trace)
        return trace

    def shutdown(self) -> None:
        self._provider.shutdown()

    async def close(self) -> None:
        """``shutdown`` off the event loop, waiting at most ``_SHUTDOWN_GRACE``: a collector that
        does not answer must not hold up the worker's exit (what is left is dropped)."""
        done = asyncio.get_running_loop().create_future()

        def run() -> None:
            try:
                self.shutdown()
            finally:
                with contextlib.suppress(RuntimeError):  # the loop closed after the grace ran out
                    done.get_loop().call_soon_threadsafe(_settle, done)

        threading.Thread(target=run, name="raceway-trace-shutdown", daemon=True).start()
        try:
            await asyncio.wait_for(done, _SHUTDOWN_GRACE)
        except TimeoutError:
            logger.warning("trace export did not end within %gs: what is left is dropped", _SHUTDOWN_GRACE)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class OtelRequestTrace(RequestTrace):
    """One request's server span and what hangs below it."""

    __slots__ = ("_capture", "_input", "_start_ns", "context", "operation", "recording", "span", "tracer")

    def __init__(
        self, tracing: OtelTracing, parent: Context, request_id: str, path: str, *, capture: bool
    ) -> None:
        self.tracer = tracing.tracer
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
        self.operation = _operation_of(path)
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

    def finish(self, exchange: Exchange, status: int) -> None:
        now = time.time_ns()
        span = self.span
        if self.recording:
            if exchange.stream and exchange.first_token is not None:
                self._relay(exchange, now)
            attributes: dict[str, str | bool | int] = {
                "http.response.status_code": status,
                "raceway.model": exchange.model,
                "raceway.dialect": exchange.dialect,
                "raceway.upstream_api": exchange.upstream_api,
                "raceway.attempts": exchange.attempts,
                "raceway.stream": exchange.stream,
            }
            if exchange.deployment is not None:
                attributes["raceway.deployment"] = exchange.deployment
            if exchange.cache is not None:
                attributes["raceway.cache"] = str(exchange.cache)
            if exchange.coalesced:
                attributes["raceway.coalesced"] = True
            decided = exchange.decided
            if decided is not None and exchange.session is not None:
                attributes["raceway.affinity"] = str(decided.affinity)
            if decided is not None and decided.alone is not None:
                attributes["raceway.alone"] = decided.alone  # why one call, not several
            if exchange.key is not None:
                attributes["raceway.key"] = exchange.key  # the key's name in the config, never the key
            if exchange.error is not None:
                attributes["error.type"] = exchange.error
            span.set_attributes(attributes)
            if status >= 500 or exchange.error == "stream_cut":
                span.set_status(Status(StatusCode.ERROR))
        span.end(end_time=now)

    def _relay(self, exchange: Exchange, now: int) -> None:
        """The stream relay: from the first content chunk to the stream's end."""
        assert exchange.first_token is not None
        ending = _STREAM_ENDINGS.get(exchange.error, "cut")
        relay = self.tracer.start_span(
            "stream relay",
            context=self.context,
            start_time=self._start_ns + int(exchange.first_token * 1e9),
            attributes={"raceway.stream.outcome": ending},
        )
        if ending == "cut":
            relay.set_status(Status(StatusCode.ERROR))
        relay.end(end_time=now)


class OtelSpan(Span):
    __slots__ = ("_span",)

    def __init__(self, span: trace_api.Span) -> None:
        self._span = span

    def set(self, key: str, value: str | bool | int | float) -> None:
        self._span.set_attribute(key, value)

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            self._span.set_attribute("error.type", _error_type(error))
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()


class OtelAttemptSpan(AttemptSpan):
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
        "span",
    )

    def __init__(
        self, trace: OtelRequestTrace, deployment: Deployment, number: int, hedge_delay: float | None
    ):
        self._trace = trace
        model = deployment.model or deployment.name
        attributes: dict[str, str | bool | int | float] | None = None
        if trace.recording:
            attributes = {
                "gen_ai.operation.name": trace.operation,
                "gen_ai.provider.name": _PROVIDER_NAMES.get(deployment.provider, deployment.provider),
                "gen_ai.request.model": model,
                "raceway.deployment": deployment.name,
                "raceway.upstream_api": deployment.api.value,
                "raceway.attempt.number": number,
                "raceway.attempt.hedge": hedge_delay is not None,
            }
            if hedge_delay is not None:
                attributes["raceway.hedge.delay_s"] = hedge_delay
            attributes.update(_server_of(deployment.base_url))
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
        attributes = _response_attributes(document) | _usage_attributes(usage) | _reasoning(document)
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
            found = _response_attributes(event_json(event))
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

    def stream_ended(self, outcome: str, usage: Usage | None) -> None:
        if not self._trace.recording:
            return
        if self._finish_reasons:
            self.span.set_attribute("gen_ai.response.finish_reasons", self._finish_reasons)
        self.span.set_attribute("raceway.stream.outcome", outcome)
        self.span.set_attributes(_usage_attributes(usage))
        if outcome == "cut":
            self.span.set_attribute("error.type", "stream_cut")
            self.span.set_status(Status(StatusCode.ERROR))

    def failed(self, error: BaseException) -> None:
        if isinstance(error, asyncio.CancelledError):
            self._outcome = AttemptOutcome.LOST_CANCELLED if self._losing else AttemptOutcome.CANCELLED
            return
        self._outcome = AttemptOutcome.REJECTED if isinstance(error, Saturated) else AttemptOutcome.FAILED
        if self._trace.recording:
            self.span.set_attribute("error.type", _error_type(error))
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


@functools.lru_cache(maxsize=1024)
def _server_of(base_url: str | None) -> tuple[tuple[str, str | int], ...]:
    """``server.address`` and ``server.port`` of the upstream (never its path, query or
    credentials), as attribute pairs; a deployment's are worked out once."""
    if not base_url:
        return ()
    parts = urlsplit(base_url)
    if parts.hostname is None:
        return ()
    address = ("server.address", parts.hostname)
    try:
        port = parts.port
    except ValueError:
        return (address,)
    return (address, ("server.port", port or (443 if parts.scheme == "https" else 80)))


def _operation_of(path: str) -> str:
    """``gen_ai.operation.name`` of an endpoint (the conventions' names; count_tokens is ours)."""
    if path.endswith("/embeddings"):
        return "embeddings"
    if path.endswith("/count_tokens"):
        return "count_tokens"
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        return "text_completion"
    return "chat"  # chat completions, Messages, Responses


def _response_attributes(document: Any) -> dict[str, Any]:
    """Model and id of an answer, or of the first event of a stream that names them (chat's
    chunks; Messages' ``message_start`` and Responses' ``response.created`` hold them inside)."""
    if not isinstance(document, dict):
        return {}
    for inner in ("message", "response"):
        if isinstance(nested := document.get(inner), dict) and "model" in nested:
            document = nested
    attributes: dict[str, Any] = {}
    model, ident = document.get("model"), document.get("id")
    if isinstance(model, str):
        attributes["gen_ai.response.model"] = model
    if isinstance(ident, str):
        attributes["gen_ai.response.id"] = ident
    return attributes


def _usage_attributes(usage: Usage | None) -> dict[str, int]:
    """Token counts as the conventions name them, whatever the dialect (``Usage`` is the same
    for all: input tokens include the prompt cache's reads and writes, as the conventions ask)."""
    if usage is None:
        return {}
    found = {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }
    if usage.cache_read:
        found["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read
    if usage.cache_write:
        found["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write
    return found


def _reasoning(document: dict[str, Any]) -> dict[str, int]:
    """``gen_ai.usage.reasoning.output_tokens``, from chat's or Responses' usage details."""
    usage = document.get("usage")
    if not isinstance(usage, dict):
        return {}
    for details in ("completion_tokens_details", "output_tokens_details"):
        found = usage.get(details)
        if isinstance(found, dict) and isinstance(reasoning := found.get("reasoning_tokens"), int):
            return {"gen_ai.usage.reasoning.output_tokens": reasoning}
    return {}


def _error_type(error: BaseException) -> str:
    """``error.type``: the gateway's error code, else the exception's class (never its message,
    which may quote an upstream)."""
    if isinstance(error, GatewayError) and error.code:
        return error.code
    return type(error).__qualname__
