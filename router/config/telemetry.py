"""The ``telemetry`` section as frozen objects: where request traces go, if anywhere.

Parsing it is ``router.config.sections.telemetry_settings``; what the settings do is
``router.telemetry.tracing``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from router.config.secret import Secret


class TraceProtocol(enum.StrEnum):
    """How spans travel to the collector. Only OTLP over HTTP with protobuf bodies is
    installed (the gRPC exporter would pull in grpcio, a large native dependency)."""

    HTTP_PROTOBUF = "http/protobuf"


@dataclass(frozen=True, kw_only=True)
class TraceSettings:
    """OpenTelemetry traces of every request (sampled), exported to an OTLP/HTTP collector.

    Left unset, ``endpoint``, ``headers`` and ``timeout`` come from the standard
    ``OTEL_EXPORTER_OTLP_TRACES_*`` / ``OTEL_EXPORTER_OTLP_*`` environment variables.
    """

    # The collector's base URL (``http://collector:4318``; ``/v1/traces`` is appended), or the
    # full URL of its traces endpoint. None: the environment's, else http://localhost:4318.
    endpoint: str | None = None
    protocol: TraceProtocol = TraceProtocol.HTTP_PROTOBUF
    # Share of requests traced when the client sent no sampled trace context (a client's
    # sampling decision, in its ``traceparent``, is followed).
    sample_ratio: float = 1.0
    headers: Mapping[str, Secret] = field(default_factory=dict)  # sent to the collector only
    timeout: float | None = None  # of one export request; None: the environment's, else 10 s
    # Put prompts and completions on the spans (``gen_ai.input.messages``, ``gen_ai.output.messages``).
    capture_content: bool = False


@dataclass(frozen=True, kw_only=True)
class TelemetrySettings:
    traces: TraceSettings | None = None  # None: no tracing, and the OpenTelemetry SDK is never imported
