"""Which tracing a worker runs: ``OFF`` without ``telemetry.traces``, else OpenTelemetry's.

Apart from ``router.telemetry.tracing`` (the protocols and the "off" side), so that the
OpenTelemetry side, which implements those protocols, is imported from here and only here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from router.telemetry.tracing import OFF, Tracing

if TYPE_CHECKING:
    from router.config.telemetry import TraceSettings
    from router.telemetry.metrics import Metrics


def start_tracing(settings: TraceSettings | None, metrics: Metrics, *, worker: int = 0) -> Tracing:
    """The worker's tracing: ``OFF`` without settings, else exporting spans in the background."""
    if settings is None:
        return OFF
    from router.telemetry.otel import OtelTracing  # the SDK is imported here, and only here

    return OtelTracing(settings, metrics, worker=worker)
