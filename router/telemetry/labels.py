"""The closed sets the gateway's records are written in: metric label values, access-log fields
and span attributes that do not come from the config.

Each is an enum, so a value is checked where it is written and every series a label can take
is created at 0 by iterating its enum (``router.telemetry.series``). The values are the
exposition's, the access log's and the spans' own words: they never change.
"""

from __future__ import annotations

import enum
from typing import Literal, TypeAlias

from router.errors import ClientGone, ShuttingDown
from router.wire.dialect import Dialect

# The ``dialect`` of a request (metric label, access log, span): the client's wire format, or
# "embeddings" (an endpoint with nothing to translate); ``upstream_api``: the wire API of the
# deployment that answered, or "none" when none did.
ClientApi: TypeAlias = Dialect | Literal["embeddings"]
UpstreamApi: TypeAlias = Dialect | Literal["none"]


class UpstreamOutcome(enum.StrEnum):
    """What became of one upstream call (``raceway_upstream_requests_total{outcome}``)."""

    SUCCESS = "success"
    CANCELLED = "cancelled"  # a race loser, a client gone, a stream abandoned or stopped
    TIMEOUT = "timeout"
    CONNECT_ERROR = "connect_error"
    RATE_LIMITED = "rate_limited"  # the upstream's 429
    REQUEST_ERROR = "request_error"  # the upstream refused the request itself (a 4xx)
    ERROR = "error"  # any other failure
    STREAM_CUT = "stream_cut"  # a stream failed after its first content
    REJECTED = "rejected"  # refused by Raceway's own admission (a rate limit, a full queue)


class StreamOutcome(enum.StrEnum):
    """How a stream ended: one vocabulary from the deployment's bookkeeping to the access log."""

    COMPLETE = "complete"  # relayed to its end
    CUT = "cut"  # the upstream failed midway; the client got an error event
    ABANDONED = "abandoned"  # closed before its end: the client left, or it lost a race
    STOPPED = "stopped"  # the worker's drain ran out first; the client got an error event

    @property
    def upstream_label(self) -> UpstreamOutcome:
        """The ``outcome`` of the call that served the stream (``raceway_upstream_requests_total``)."""
        return _UPSTREAM_OUTCOMES[self]

    @property
    def error_code(self) -> str | None:
        """The request's ``error`` in the access log when its stream ended so (None: complete)."""
        return _ERROR_CODES[self]


_UPSTREAM_OUTCOMES = {
    StreamOutcome.COMPLETE: UpstreamOutcome.SUCCESS,
    StreamOutcome.CUT: UpstreamOutcome.STREAM_CUT,
    StreamOutcome.ABANDONED: UpstreamOutcome.CANCELLED,
    StreamOutcome.STOPPED: UpstreamOutcome.CANCELLED,
}

_ERROR_CODES: dict[StreamOutcome, str | None] = {
    StreamOutcome.COMPLETE: None,
    StreamOutcome.CUT: UpstreamOutcome.STREAM_CUT.value,
    StreamOutcome.ABANDONED: ClientGone.default_code,
    StreamOutcome.STOPPED: ShuttingDown.default_code,
}


class StatusClass(enum.StrEnum):
    """The class of a status Raceway answers with (``raceway_requests_total{status_class}``)."""

    OK = "2xx"
    CLIENT_ERROR = "4xx"
    SERVER_ERROR = "5xx"


class TokenKind(enum.StrEnum):
    """What a count of ``raceway_tokens_total`` counts."""

    PROMPT = "prompt"
    COMPLETION = "completion"
    CACHE_READ = "cache_read"  # prompt tokens the provider's prompt cache served
    CACHE_WRITE = "cache_write"  # prompt tokens it stored


class LimitScope(enum.StrEnum):
    """Whose limit ``raceway_worker_limit`` shows a worker's share of."""

    DEPLOYMENT = "deployment"
    KEY = "key"


class LimitKind(enum.StrEnum):
    """Which limit ``raceway_worker_limit`` shows (a key has no concurrency limit)."""

    RPM = "rpm"
    TPM = "tpm"
    CONCURRENCY = "concurrency"


class HedgeSkip(enum.StrEnum):
    """Why a hedge that its delay called for was not started (``raceway_hedges_skipped_total``,
    the access log's ``alone``)."""

    BUDGET = "budget"  # the group's hedge budget for the last minute is spent
    WARM = "warm"  # a warm session's pinned deployment was trusted alone (or for its warm latency)
    TIER = "tier"  # the key is in its budget's near tier


class SpanDrop(enum.StrEnum):
    """Why trace spans did not reach the collector (``raceway_trace_spans_dropped_total``)."""

    EXPORT_FAILED = "export_failed"
    QUEUE_FULL = "queue_full"


class RecordDrop(enum.StrEnum):
    """Why the request log did not keep records (``raceway_request_log_dropped_total``)."""

    QUEUE_FULL = "queue_full"  # the worker's writes lag behind
    WRITE_FAILED = "write_failed"  # the store refused them: a full or read-only disk, Redis down


class Eviction(enum.StrEnum):
    """Why entries left the response cache (``raceway_cache_evictions_total``)."""

    SIZE = "size"
    EXPIRED = "expired"


class SpendPeriod(enum.StrEnum):
    """The periods of a key's spend (``raceway_key_spend_usd{period}``)."""

    DAY = "day"
    MONTH = "month"
