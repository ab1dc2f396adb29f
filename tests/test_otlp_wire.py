"""router/telemetry/otlp_wire.py: the bytes it writes decode to what the exporter's own encoder builds."""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as reference
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)
from opentelemetry.trace.span import TraceState

from router.telemetry.otlp_wire import encode_spans


class _Keep(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def test_the_same_request_as_the_exporters_encoder() -> None:
    kept = _Keep()
    provider = TracerProvider(resource=Resource({"service.name": "raceway", "raceway.worker": 3}))
    provider.add_span_processor(kept)
    tracer = provider.get_tracer("raceway")
    other = provider.get_tracer("other", "1.2", schema_url="https://opentelemetry.io/schemas/1.26.0")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C,
        0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(1),
        trace_state=TraceState([("vendor", "value")]),
    )
    server = tracer.start_span(
        "POST /v1/chat/completions",
        context=set_span_in_context(NonRecordingSpan(remote)),
        kind=SpanKind.SERVER,
        attributes={"url.path": "/v1/chat/completions", "http.response.status_code": 200},
    )
    attempt = tracer.start_span(
        "chat gpt-4o",
        context=set_span_in_context(server),
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.response.finish_reasons": ["stop", "length"],
            "raceway.attempt.hedge": False,
            "raceway.hedge.delay_s": 0.25,
            "negative": -5,
            "large": 2**40,
            "text": "é" * 200,  # a length past one varint byte
        },
        links=[Link(remote, {"why": "retry"})],
    )
    attempt.add_event("raceway.fallback", {"from": "a", "to": "b"})
    attempt.set_status(Status(StatusCode.ERROR, "upstream failed"))
    attempt.end()
    server.end()
    lone = other.start_span("admission", kind=SpanKind.INTERNAL)
    lone.end()
    spans = kept.spans
    decoded = ExportTraceServiceRequest()
    decoded.ParseFromString(encode_spans(spans))
    assert decoded == reference(spans)
    again = ExportTraceServiceRequest()
    again.ParseFromString(encode_spans(spans))  # the second time from the cache of string attributes
    assert again == reference(spans)
