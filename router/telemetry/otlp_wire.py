"""Spans to OTLP protobuf bytes (an ``ExportTraceServiceRequest``), written directly.

The exporter's own encoder (``encode_spans``) builds a protobuf message object for every
span, attribute and value, then serializes the lot: about 60 µs a span of ours (a dozen
attributes), in the worker's process, for every sampled span. Writing the wire format
directly is the same bytes' worth of work without the objects: scalar attribute values
(nearly all of ours) are written here, and what is rare (a list value, the resource, the
instrumentation scope) is left to the exporter's encoder, whose bytes are spliced in.

The layout is ``opentelemetry/proto/trace/v1/trace.proto`` (fields of a message may come in
any order; proto3 leaves out zero values). ``tests/otlp_receiver.py`` decodes what this writes
with the official protobuf classes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_instrumentation_scope,
    _encode_key_value,
    _encode_resource,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

_FIXED64 = struct.Struct("<Q").pack
_DOUBLE = struct.Struct("<d").pack
_FIXED32 = struct.Struct("<I").pack

# Span.flags: SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK, | SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_FLAGS_LOCAL = b"\x85\x01" + _FIXED32(0x100)  # field 16, fixed32 (tag 133 = 16 << 3 | 5, as a varint)
_FLAGS_REMOTE = b"\x85\x01" + _FIXED32(0x300)
_KINDS = {kind: kind.value + 1 for kind in SpanKind}  # SpanKind.INTERNAL (0) is proto's 1, and so on


def _varint(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field (``tag`` already holds its number and wire type 2)."""
    size = len(payload)
    if size < 0x80:
        return bytes((tag, size)) + payload
    return bytes((tag,)) + _varint(size) + payload


def _string(tag: int, text: str) -> bytes:
    return _field(tag, text.encode())


def _any_value(value: Any) -> bytes | None:
    """An ``AnyValue`` of a scalar (None: not one, left to the exporter's encoder)."""
    if isinstance(value, str):  # string_value = 1
        return _string(0x0A, value)
    if isinstance(value, bool):  # bool_value = 2 (before int: a bool is an int)
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):  # int_value = 3 (int64: a negative one as its 64-bit two's complement)
        return b"\x18" + _varint(value & 0xFFFF_FFFF_FFFF_FFFF)
    if isinstance(value, float):  # double_value = 4
        return b"\x21" + _DOUBLE(value)
    return None


# A string attribute's encoded ``KeyValue``: most of ours repeat from request to request (the
# model, the deployment, the path). Bounded: emptied when full (ids never repeat).
_PAIRS: dict[tuple[str, str], bytes] = {}
_PAIRS_LIMIT = 4096


def _attributes(tag: int, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` fields numbered by ``tag``."""
    if not attributes:
        return b""
    out = []
    for key, value in attributes.items():
        if type(value) is str:
            pair = _PAIRS.get((key, value))
            if pair is None:
                if len(_PAIRS) >= _PAIRS_LIMIT:
                    _PAIRS.clear()
                pair = _PAIRS[key, value] = _string(0x0A, key) + _field(0x12, _string(0x0A, value))
            out.append(_field(tag, pair))
            continue
        encoded = _any_value(value)
        if encoded is None:  # a list, bytes, a mapping: rare, and the exporter knows them all
            pair = _encode_key_value(key, value).SerializePartialToString()
        else:
            pair = _string(0x0A, key) + _field(0x12, encoded)
        out.append(_field(tag, pair))
    return b"".join(out)


def _span(span: ReadableSpan) -> bytes:
    context = span.get_span_context()
    assert context is not None and span.start_time is not None and span.end_time is not None
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),  # trace_id = 1
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),  # span_id = 2
    ]
    if context.trace_state:  # trace_state = 3
        parts.append(_string(0x1A, ",".join(f"{key}={value}" for key, value in context.trace_state.items())))
    parent = span.parent
    if parent is not None:  # parent_span_id = 4
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    parts.append(_string(0x2A, span.name))  # name = 5
    parts.append(b"\x30" + _varint(_KINDS[span.kind]))  # kind = 6
    parts.append(b"\x39" + _FIXED64(span.start_time))  # start_time_unix_nano = 7
    parts.append(b"\x41" + _FIXED64(span.end_time))  # end_time_unix_nano = 8
    parts.append(_attributes(0x4A, span.attributes))  # attributes = 9
    if span.dropped_attributes:  # dropped_attributes_count = 10
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in span.events:  # events = 11
        event_parts = [b"\x09" + _FIXED64(event.timestamp), _string(0x12, event.name)]
        event_parts.append(_attributes(0x1A, event.attributes))
        if event.dropped_attributes:
            event_parts.append(b"\x20" + _varint(event.dropped_attributes))
        parts.append(_field(0x5A, b"".join(event_parts)))
    if span.dropped_events:  # dropped_events_count = 12
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in span.links:  # links = 13
        link_parts = [
            b"\x0a\x10" + link.context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + link.context.span_id.to_bytes(8, "big"),
            _attributes(0x22, link.attributes),
        ]
        if link.dropped_attributes:
            link_parts.append(b"\x28" + _varint(link.dropped_attributes))
        link_parts.append(b"\x35" + _FIXED32(0x300 if link.context.is_remote else 0x100))
        parts.append(_field(0x6A, b"".join(link_parts)))
    if span.dropped_links:  # dropped_links_count = 14
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status  # status = 15: message = 2, code = 3
    code = status.status_code.value
    status_parts = (_string(0x12, status.description) if status.description else b"") + (
        b"\x18" + _varint(code) if code else b""
    )
    parts.append(b"\x7a" + _varint(len(status_parts)) + status_parts)
    parts.append(_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)  # flags = 16
    return b"".join(parts)


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """``spans`` as a serialized ``ExportTraceServiceRequest``, grouped by resource and scope as
    the exporter's ``encode_spans`` groups them."""
    groups: dict[tuple[int, int], tuple[ReadableSpan, list[bytes]]] = {}
    for span in spans:
        key = (id(span.resource), id(span.instrumentation_scope))
        group = groups.get(key)
        if group is None:
            group = groups[key] = (span, [])
        group[1].append(_field(0x12, _span(span)))  # ScopeSpans.spans = 2
    by_resource: dict[int, tuple[ReadableSpan, list[bytes]]] = {}
    for first, encoded in groups.values():
        scope = first.instrumentation_scope
        scope_spans = [_field(0x0A, _encode_instrumentation_scope(scope).SerializePartialToString())]  # type: ignore[arg-type]
        scope_spans.extend(encoded)
        if scope is not None and scope.schema_url:  # ScopeSpans.schema_url = 3
            scope_spans.append(_string(0x1A, scope.schema_url))
        resource_group = by_resource.setdefault(id(first.resource), (first, []))
        resource_group[1].append(_field(0x12, b"".join(scope_spans)))  # ResourceSpans.scope_spans = 2
    out = []
    for first, scope_spans in by_resource.values():
        resource = first.resource
        parts = [_field(0x0A, _encode_resource(resource).SerializePartialToString()), *scope_spans]
        if resource.schema_url:  # ResourceSpans.schema_url = 3
            parts.append(_string(0x1A, resource.schema_url))
        out.append(_field(0x0A, b"".join(parts)))  # ExportTraceServiceRequest.resource_spans = 1
    return b"".join(out)
