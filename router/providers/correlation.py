"""What ties an upstream call to the client's request: trace context out, the upstream's ids back.

The client's W3C trace context (``traceparent``, ``tracestate``) goes upstream with every
call, so a trace spans the gateway; the upstream's ``x-request-id`` comes back, so a
provider's support ticket can be tied to a Raceway request; and, when the operator wants
them relayed, so do its ``x-ratelimit-*`` headers. Only these two header names ever go
from a client to an upstream, and only when well-formed — and, to an Anthropic upstream, the
client's ``anthropic-version`` and ``anthropic-beta`` (``forwarded``): nothing else a client
sends can set an upstream header.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# No headers to send upstream: no (well-formed) trace context, no forwarded client header.
NO_HEADERS: Mapping[str, str] = MappingProxyType({})

# version-trace_id-parent_id-flags; version ff, an all-zero trace id or parent id are invalid.
_TRACEPARENT = re.compile(r"(?!ff)([0-9a-f]{2})-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_TRACESTATE = re.compile(r"[\x20-\x7e]{1,512}")  # printable ASCII, at most 512 characters
_UPSTREAM_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_REQUEST_ID_HEADERS = ("x-request-id", "request-id")  # OpenAI and most others; Anthropic
_RATELIMIT_PREFIX = "x-ratelimit-"
_ANTHROPIC_HEADERS = ("anthropic-version", "anthropic-beta")
_HEADER_VALUE = re.compile(r"[\x20-\x7e]{1,1024}")
_PLAIN_VALUE = re.compile(r"[\x20-\x7e]{1,128}")


def trace_context(headers: Mapping[str, str]) -> Mapping[str, str]:
    """The client's trace context to pass upstream: ``traceparent`` (and ``tracestate`` with it)
    when well-formed, else nothing (as W3C Trace Context says of an invalid ``traceparent``)."""
    traceparent = headers.get(TRACEPARENT)
    if traceparent is None or not _valid_traceparent(traceparent):
        return NO_HEADERS
    tracestate = headers.get(TRACESTATE)
    if tracestate is None or not _TRACESTATE.fullmatch(tracestate):
        return {TRACEPARENT: traceparent}
    return {TRACEPARENT: traceparent, TRACESTATE: tracestate}


def anthropic_headers(headers: Mapping[str, str]) -> Mapping[str, str]:
    """The client's ``anthropic-version`` and ``anthropic-beta``, for an Anthropic upstream (plain
    printable values only)."""
    found = {name: headers[name] for name in _ANTHROPIC_HEADERS if name in headers}
    if not found:
        return NO_HEADERS
    return {name: value for name, value in found.items() if _HEADER_VALUE.fullmatch(value)}


def _valid_traceparent(value: str) -> bool:
    found = _TRACEPARENT.match(value)
    if found is None or len(value) > 512:
        return False
    if found.group(1) == "00":
        return found.end() == len(value)
    # A later version may append fields after another dash.
    return found.end() == len(value) or value[found.end()] == "-"


class Correlation:
    """One upstream call's ties to the client's request: the trace context it sends, and what
    its answer's headers said about it (success or error): the upstream's request id, and its
    rate-limit headers when they are to be relayed."""

    __slots__ = ("forwarded", "ratelimit", "request_id", "trace")

    def __init__(
        self,
        trace: Mapping[str, str] = NO_HEADERS,
        *,
        keep_ratelimit: bool = False,
        forwarded: Mapping[str, str] = NO_HEADERS,
    ) -> None:
        """``forwarded``: the client's headers meant for an upstream of its own dialect."""
        self.trace = trace
        self.forwarded = forwarded
        self.request_id: str | None = None
        self.ratelimit: dict[str, str] | None = {} if keep_ratelimit else None

    def headers(self, own: dict[str, str]) -> dict[str, str]:
        """The call's headers: the trace context, and the deployment's own (which win)."""
        return {**self.trace, **own} if self.trace else own

    def answered(self, headers: Mapping[str, str]) -> None:
        """Note what the upstream's answer said about itself (``headers``: case-insensitive)."""
        for name in _REQUEST_ID_HEADERS:
            found = headers.get(name)
            if found is not None:
                if _UPSTREAM_ID.fullmatch(found):
                    self.request_id = found
                break
        if self.ratelimit is not None:  # passed on as they are: only plain, short values
            self.ratelimit = {
                lowered: value
                for name, value in headers.items()
                if (lowered := name.lower()).startswith(_RATELIMIT_PREFIX) and _PLAIN_VALUE.fullmatch(value)
            }
