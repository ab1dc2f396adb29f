"""Tracing on, the export side: ended spans leave for an OTLP/HTTP collector in the background.

Export never holds up a request: an ended span goes into a bounded queue that a
``BatchSpanProcessor`` thread drains to the collector. When the queue is full, or an export
fails (collector down, slow, refusing), the spans are dropped and counted in
``raceway_trace_spans_dropped_total{reason}``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from router.telemetry.labels import SpanDrop
from router.telemetry.metrics import Metrics

if TYPE_CHECKING:
    from router.config.telemetry import TraceSettings

logger = logging.getLogger("raceway.tracing")

_TRACES_PATH = "/v1/traces"
_DEFAULT_QUEUE = 2048  # OTEL_BSP_MAX_QUEUE_SIZE's default
_DEFAULT_BATCH = 512  # OTEL_BSP_MAX_EXPORT_BATCH_SIZE's


def exporting_provider(settings: TraceSettings, metrics: Metrics, *, worker: int = 0) -> TracerProvider:
    """A tracer provider whose ended spans are exported to the collector by a batch thread, every
    dropped span counted."""
    for reason in SpanDrop:  # 0, not "No data", until the first drop
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
    # ALWAYS_ON: ``OtelTracing.begin`` already sampled (a client's unsampled trace never reaches
    # the SDK), and a span of ours always follows its request's (the parent's trace state too)
    provider = TracerProvider(sampler=ALWAYS_ON, resource=_resource(worker))
    provider.add_span_processor(_BoundedBatches(batches, backlog, metrics))
    return provider


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
        self._failed = metrics.spans_dropped.labels(SpanDrop.EXPORT_FAILED)

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
        self._full = metrics.spans_dropped.labels(SpanDrop.QUEUE_FULL)

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
