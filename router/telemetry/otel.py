"""Tracing on: each request's OpenTelemetry spans (``otel_spans``), exported over OTLP/HTTP in
the background (``otel_export``).

Imported only when the config has ``telemetry.traces`` (``traces.start_tracing``). This
module decides which requests are traced and stops the export when the worker stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from router.telemetry.metrics import Metrics
from router.telemetry.otel_export import exporting_provider
from router.telemetry.otel_spans import OtelRequestTrace
from router.telemetry.tracing import NO_TRACE, RequestTrace, make_current

if TYPE_CHECKING:
    from router.config.telemetry import TraceSettings

logger = logging.getLogger("raceway.tracing")

_SHUTDOWN_GRACE = 5.0  # seconds a stopping worker waits for its last spans to leave


class OtelTracing:
    """Request traces through the OpenTelemetry SDK, exported by a batch thread of this worker."""

    __slots__ = ("_capture", "_propagator", "_provider", "_random", "_ratio", "tracer")

    enabled = True

    def __init__(self, settings: TraceSettings, metrics: Metrics, *, worker: int = 0) -> None:
        self._provider = exporting_provider(settings, metrics, worker=worker)
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
        trace = OtelRequestTrace(self.tracer, parent, request_id, path, capture=self._capture)
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
