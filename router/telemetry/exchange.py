"""One client request's outcome, recorded once: request metrics and a JSON access-log line.

Label values and log fields come from the config (model group, deployment, key name) or
from the gateway itself; never from client input, apart from validated request ids (the
client's, and the upstream's for its call).
"""

from __future__ import annotations

import itertools
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from router.answers.cache import CacheStatus
from router.errors import GatewayError, UpstreamError
from router.routing.budgets import Tier
from router.routing.rules import Decided
from router.spend.book import SpendBook
from router.telemetry.access_log import AccessLog
from router.telemetry.labels import ClientApi, StreamOutcome, TokenKind, UpstreamApi
from router.telemetry.metrics import LATENCY_BUCKETS, OVERHEAD_BUCKETS, UNKNOWN_MODEL, Metrics
from router.telemetry.tracing import NO_TRACE, RequestTrace
from router.wire.dialect import Dialect
from router.wire.usage import Usage

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


_ID_PREFIX = uuid.uuid4().hex[:12]  # this process's; a counter makes each id unique
_id_counter = itertools.count(1)


def request_id_from(header: str | None) -> str:
    """The client's ``x-request-id`` when it is sane, else a fresh one."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return f"{_ID_PREFIX}{next(_id_counter):020d}"


@dataclass(slots=True)
class Exchange:
    request_id: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    key: str | None = None
    model: str = UNKNOWN_MODEL
    deployment: str | None = None
    attempts: int = 0
    stream: bool = False
    error: str | None = None  # the error's code (a stream's: its ending's, ``StreamOutcome.error_code``)
    ending: StreamOutcome | None = None  # how its stream ended, once it did
    usage: Usage | None = None
    cost: float = 0.0
    first_token: float | None = None  # seconds from arrival to the first content chunk
    overhead: float | None = None  # seconds spent in Raceway, not in the winning upstream call
    cache: CacheStatus | None = None  # once the cache was considered
    coalesced: bool = False  # answered (or failed) by an identical request's upstream call
    budget_tier: Tier | None = None  # for keys with a budget
    upstream_request_id: str | None = None  # the upstream's id of the call(s) that served or failed
    dialect: ClientApi = Dialect.CHAT  # the client's wire format
    upstream_api: UpstreamApi = "none"  # the wire API of the deployment that answered
    trace: RequestTrace = NO_TRACE  # its spans, ended with it
    decided: Decided | None = None  # what the dispatcher decided (affinity, a race or hedge sent alone)
    session: str | None = None  # the session key's hash, for groups with affinity
    # A stream continued past breaks: each break's deployment, its successor, the text's length there.
    resumed: list[dict[str, object]] | None = None

    def failed(self, error: GatewayError) -> None:
        """The request ends with ``error``: its code, and which deployment failed after how many calls.

        A coalesced request shares the error of another request's call and made none itself:
        it records no deployment, no attempts and no upstream request id (that call's line has them).
        """
        self.error = error.code
        if isinstance(error, UpstreamError) and not self.coalesced:
            self.deployment = error.deployment or None
            self.attempts = error.attempts
            self.upstream_request_id = error.upstream_request_id

    def stream_ended(self, outcome: StreamOutcome) -> None:
        """The request's stream ended so (its error, unless it was complete)."""
        self.ending = outcome
        if outcome.error_code is not None:
            self.error = outcome.error_code


class RecordSink(Protocol):
    """Where a finished request's access-log record goes besides the log (the request log)."""

    def add(self, exchange: Exchange, record: dict[str, Any]) -> None: ...


class Recorder:
    """Turns finished exchanges into metrics and (optionally) an access-log line and a request-log record."""

    def __init__(
        self, metrics: Metrics, *, access_log: AccessLog | None, spend: SpendBook | None = None
    ) -> None:
        self._metrics = metrics
        self._access_log = access_log
        self.spend = spend  # where the keys' spend is tallied (set once the worker runs)
        self.request_log: RecordSink | None = None  # server.request_log (set once the worker runs)

    def finish(self, exchange: Exchange, status: int) -> None:
        metrics, model = self._metrics, exchange.model
        elapsed = time.perf_counter() - exchange.started
        exchange.trace.finish(exchange, status)
        exemplar = exchange.trace.exemplar()  # the trace id, when the request is sampled
        metrics.requests.labels(model, f"{status // 100}xx").inc()
        metrics.dialects.labels(exchange.dialect, exchange.upstream_api).inc()
        if exemplar is not None and metrics.exemplars is not None:  # kept in files across workers
            self._note_exemplars(exchange, elapsed, exemplar)
            exemplar = None  # prometheus-client's multiprocess values would validate it, then drop it
        metrics.request_duration.labels(model).observe(elapsed, exemplar)
        if exchange.overhead is not None:
            metrics.overhead.observe(exchange.overhead, exemplar)
        if exchange.first_token is not None:
            metrics.first_token.labels(model).observe(exchange.first_token, exemplar)
        if exchange.coalesced:
            metrics.coalesced.labels(model).inc()
        usage, deployment = exchange.usage, exchange.deployment
        if usage is not None and deployment is not None:
            metrics.tokens.labels(model, deployment, TokenKind.PROMPT).inc(usage.prompt_tokens)
            metrics.tokens.labels(model, deployment, TokenKind.COMPLETION).inc(usage.completion_tokens)
            if usage.cache_read:
                metrics.tokens.labels(model, deployment, TokenKind.CACHE_READ).inc(usage.cache_read)
            if usage.cache_write:
                metrics.tokens.labels(model, deployment, TokenKind.CACHE_WRITE).inc(usage.cache_write)
            if exchange.cost:
                metrics.cost.labels(model, deployment).inc(exchange.cost)
        if exchange.key is not None:
            if exchange.budget_tier is not None:
                metrics.budget_requests.labels(exchange.key, exchange.budget_tier).inc()
            if self.spend is not None and (status < 400 or exchange.cost):
                self.spend.record(exchange.key, exchange.cost, usage)
        if self._access_log is not None or self.request_log is not None:
            record = self.record(exchange, status, elapsed)
            if self._access_log is not None:
                self._access_log.write(orjson.dumps(record))
            if self.request_log is not None:
                self.request_log.add(exchange, record)

    def _note_exemplars(self, exchange: Exchange, elapsed: float, exemplar: dict[str, str]) -> None:
        book, model = self._metrics.exemplars, {"model": exchange.model}
        assert book is not None
        book.note("raceway_request_duration_seconds", LATENCY_BUCKETS, model, elapsed, exemplar)
        if exchange.overhead is not None:
            book.note("raceway_overhead_seconds", OVERHEAD_BUCKETS, {}, exchange.overhead, exemplar)
        if exchange.first_token is not None:
            book.note(
                "raceway_time_to_first_token_seconds", LATENCY_BUCKETS, model, exchange.first_token, exemplar
            )

    def record(self, exchange: Exchange, status: int, elapsed: float) -> dict[str, Any]:
        """The request's access-log record (one JSON line of the access log)."""
        usage = exchange.usage
        return {
            "ts": round(time.time(), 3),
            "request_id": exchange.request_id,
            "worker": self._metrics.worker,
            "path": exchange.path,
            "dialect": exchange.dialect,
            "upstream_api": exchange.upstream_api,
            "key": exchange.key,
            "model": exchange.model,
            "deployment": exchange.deployment,
            "stream": exchange.stream,
            "status": status,
            "error": exchange.error,
            "attempts": exchange.attempts,
            "latency_ms": round(elapsed * 1000, 3),
            "ttft_ms": None if exchange.first_token is None else round(exchange.first_token * 1000, 3),
            "overhead_ms": None if exchange.overhead is None else round(exchange.overhead * 1000, 3),
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "cache_read_tokens": usage.cache_read if usage else None,
            "cache_write_tokens": usage.cache_write if usage else None,
            "cost_usd": round(exchange.cost, 8),
            "cache": exchange.cache,
            "budget_tier": exchange.budget_tier,
            "upstream_request_id": exchange.upstream_request_id,
            "affinity": exchange.decided.affinity if exchange.decided is not None else None,
            "session": exchange.session,
            "alone": exchange.decided.alone if exchange.decided is not None else None,
            "resumed": exchange.resumed,
        }
