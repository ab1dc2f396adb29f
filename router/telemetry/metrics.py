"""Every metric Raceway exports, defined in one place, and their exposition across workers.

With several workers, each process writes its samples to files in the directory named
by ``PROMETHEUS_MULTIPROC_DIR`` (set by ``raceway serve`` before the workers start)
and ``/metrics`` on any worker sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics import exposition as openmetrics

from router.telemetry.exemplars import ExemplarBook, with_exemplars

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

# Label value for a model name that is not in the config: client input never becomes a label.
UNKNOWN_MODEL = "(unknown)"

# The closed sets of label values beside a deployment, model or key name: with them, every
# series the config can produce is created at start and reload (``Gateway`` declares them),
# so a dashboard shows 0 before the first request instead of "No data".
STATUS_CLASSES = ("2xx", "4xx", "5xx")
UPSTREAM_OUTCOMES = (
    "success",
    "cancelled",
    "timeout",
    "connect_error",
    "rate_limited",
    "request_error",
    "error",
    "stream_cut",
    "rejected",
)
QUEUE_REASONS = ("queue_full", "queue_timeout")  # refusals of a deployment's concurrency queue
RATE_LIMIT_REASONS = ("rate_limited", "tokens_exceed_limit")  # of a deployment's or key's rpm / tpm
TOKEN_KINDS = ("prompt", "completion", "cache_read", "cache_write")  # cache: prompt tokens read / written
SPAN_DROP_REASONS = ("export_failed", "queue_full")  # of raceway_trace_spans_dropped_total
REQUEST_LOG_DROP_REASONS = ("queue_full", "write_failed")  # of raceway_request_log_dropped_total


def multiprocess_dir() -> str | None:
    # The environment is the only channel prometheus-client offers: it picks its file-backed
    # values when ``prometheus_client.values`` is imported, from this variable.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Off:
    """Stands in for any metric when metrics are switched off (to measure what they cost)."""

    def labels(self, *values: str) -> _Off:
        return self

    def inc(self, amount: float = 1, exemplar: dict[str, str] | None = None) -> None:
        return None

    def dec(self, amount: float = 1) -> None:
        return None

    def set(self, value: float) -> None:
        return None

    def observe(self, value: float, exemplar: dict[str, str] | None = None) -> None:
        return None

    def remove(self, *values: str) -> None:
        return None


class Metrics:
    """The gateway's metrics. ``registry`` is None in multiprocess mode (samples go to files)."""

    def __init__(self, registry: CollectorRegistry | None, *, worker: int = 0, enabled: bool = True) -> None:
        self.registry = registry
        self.worker = str(worker)
        # Exemplars shared through files: in multiprocess mode prometheus-client keeps none.
        directory = multiprocess_dir()
        self.exemplars = ExemplarBook(directory) if registry is None and directory else None
        self._define(registry if enabled else CollectorRegistry())
        if not enabled:
            for name, value in list(vars(self).items()):
                if isinstance(value, Counter | Gauge | Histogram):
                    setattr(self, name, _Off())

    def _define(self, registry: CollectorRegistry | None) -> None:
        self.requests = Counter(
            "raceway_requests",
            "Client requests answered, by model and status class.",
            ["model", "status_class"],
            registry=registry,
        )
        self.dialects = Counter(
            "raceway_dialect_requests",
            "Client requests by the client's dialect (chat, messages, responses, completions) and the "
            "wire API of the deployment that answered (the same: passed through; another: translated; "
            "none: no deployment did).",
            ["dialect", "upstream_api"],
            registry=registry,
        )
        self.request_duration = Histogram(
            "raceway_request_duration_seconds",
            "Time from request received to response complete.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.first_token = Histogram(
            "raceway_time_to_first_token_seconds",
            "Time from request received to the first content chunk.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "raceway_tokens",
            "Tokens the upstreams reported, by kind: prompt, completion, and cache_read and "
            "cache_write (the prompt tokens the provider's prompt cache served or stored).",
            ["model", "deployment", "kind"],
            registry=registry,
        )
        self.cost = Counter(
            "raceway_cost_usd",
            "Cost of the answers in US dollars, from the deployments' prices.",
            ["model", "deployment"],
            registry=registry,
        )
        self.overhead = Histogram(
            "raceway_overhead_seconds",
            "Time spent in Raceway, excluding the winning upstream call.",
            buckets=OVERHEAD_BUCKETS,
            registry=registry,
        )
        self.upstream_requests = Counter(
            "raceway_upstream_requests",
            "Upstream calls, by deployment and outcome.",
            ["deployment", "outcome"],
            registry=registry,
        )
        self.upstream_duration = Histogram(
            "raceway_upstream_duration_seconds",
            "Upstream call time (whole stream for streams).",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.upstream_first_chunk = Histogram(
            "raceway_upstream_time_to_first_token_seconds",
            "Upstream time to the first content chunk.",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.deployment_state = Gauge(
            "raceway_deployment_state",
            "0 healthy, 1 half-open, 2 cooled down (worst over workers).",
            ["deployment"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.race_outcomes = Counter(
            "raceway_race_outcomes",
            "Winners of race and hedge rounds.",
            ["model", "winner"],
            registry=registry,
        )
        self.hedges = Counter(
            "raceway_hedges",
            "Hedged calls started because the first had not answered in time.",
            ["model"],
            registry=registry,
        )
        self.hedges_skipped = Counter(
            "raceway_hedges_skipped",
            "Second calls a race or hedge did not start: budget spent, warm session, key near its budget.",
            ["model", "reason"],
            registry=registry,
        )
        self.affinity = Counter(
            "raceway_affinity",
            "Requests of groups with affinity, by placement.",
            ["model", "result"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "raceway_fallbacks",
            "Requests handed to a fallback model group.",
            ["model", "from", "to"],
            registry=registry,
        )
        self.stream_resumes = Counter(
            "raceway_stream_resumes",
            "Streams that broke after content: continued on another deployment and spliced, refused "
            "(the answer cannot be continued: a tool call or thinking), or exhausted (no deployment left).",
            ["model", "from", "to", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "raceway_retries",
            "Retryable upstream failures (the request moves on to its next attempt while any is left).",
            ["deployment"],
            registry=registry,
        )
        self.inflight = Gauge(
            "raceway_inflight",
            "Upstream calls in flight (streams until they end).",
            ["deployment"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.queue_depth = Gauge(
            "raceway_queue_depth",
            "Requests waiting for a concurrency slot of a deployment.",
            ["deployment"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.queue_wait = Histogram(
            "raceway_queue_wait_seconds",
            "Time spent waiting for a concurrency slot.",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "raceway_rejected",
            "Calls refused by admission control, by deployment (or key) and reason.",
            ["deployment", "reason"],
            registry=registry,
        )
        self.auth_failures = Counter(
            "raceway_auth_failures",
            "Requests refused authentication, by reason (missing, invalid, admin, blocked).",
            ["reason"],
            registry=registry,
        )
        self.key_rejected = Counter(
            "raceway_key_rejected",
            "Requests refused by a gateway key's own rate limit.",
            ["key", "reason"],
            registry=registry,
        )
        self.workers_up = Gauge(
            "raceway_workers_up",
            "Worker processes serving (1 per live worker).",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.worker_limit = Gauge(
            "raceway_worker_limit",
            "The share of a gateway-wide limit that each worker enforces.",
            ["scope", "name", "kind"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.loop_lag = Histogram(
            "raceway_event_loop_lag_seconds",
            "How late each worker's event loop woke up (sampled).",
            ["worker"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.cache_lookups = Counter(
            "raceway_cache_lookups",
            "Response-cache lookups, by result (hit, miss).",
            ["result"],
            registry=registry,
        )
        self.cache_evictions = Counter(
            "raceway_cache_evictions",
            "Entries removed from the response cache, by reason (size, expired).",
            ["reason"],
            registry=registry,
        )
        self.cache_bytes = Gauge(
            "raceway_cache_bytes",
            "Bytes held by the response caches of the live workers.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.cache_entries = Gauge(
            "raceway_cache_entries",
            "Entries held by the response caches of the live workers.",
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.coalesced = Counter(
            "raceway_coalesced_requests",
            "Requests answered by an identical request's upstream call instead of their own.",
            ["model"],
            registry=registry,
        )
        self.budget_requests = Counter(
            "raceway_budget_requests",
            "Requests of keys with a budget, by the budget tier they were served in.",
            ["key", "tier"],
            registry=registry,
        )
        self.key_spend = Gauge(
            "raceway_key_spend_usd",
            "Spend of each key in the current period (day, month), as the ledger last reported it.",
            ["key", "period"],
            registry=registry,
            multiprocess_mode="max",
        )
        self.state_backend_up = Gauge(
            "raceway_state_backend_up",
            "1 while the shared state backend (Redis) is usable, 0 while workers fall back to local state.",
            ["backend"],
            registry=registry,
            multiprocess_mode="livemin",
        )
        self.config_reloads = Counter(
            "raceway_config_reloads",
            "Config reload attempts by result (applied, invalid, unreadable).",
            ["result"],
            registry=registry,
        )
        self.spans_dropped = Counter(
            "raceway_trace_spans_dropped",
            "Trace spans not delivered to the collector, by reason (export_failed, queue_full).",
            ["reason"],
            registry=registry,
        )
        self.request_log_written = Counter(
            "raceway_request_log_written",
            "Request records written to the request log (server.request_log).",
            registry=registry,
        )
        self.request_log_dropped = Counter(
            "raceway_request_log_dropped",
            "Request records the request log did not keep, by reason (queue_full: the worker's writes "
            "lag behind; write_failed: the store refused them: a full or read-only disk, Redis down).",
            ["reason"],
            registry=registry,
        )
        self.config_info = Gauge(
            "raceway_config_info",
            "The active config's hash (value 1 per worker).",
            ["hash"],
            registry=registry,
            multiprocess_mode="livesum",
        )

    def show_config(self, active: str, previous: str | None = None) -> None:
        """``raceway_config_info``: this worker serves ``active`` now, and no longer ``previous``.

        Only the live hash of each worker is exported. In multiprocess mode a process cannot
        delete a label set from its file, so the old hash is set to 0 and ``render`` leaves
        the series out; in a single process it is removed.
        """
        if previous is not None and previous != active:
            self.config_info.labels(previous).set(0)
            if self.registry is not None:
                self.config_info.remove(previous)
        self.config_info.labels(active).set(1)


# Gauges whose 0 means "nothing of the kind now" (a config no worker serves): left out of the
# exposition in multiprocess mode, where a process cannot delete a series from its file.
_ABSENT_AT_ZERO = frozenset({"raceway_config_info"})


class _WorkerFiles:
    """Every worker's samples, summed as ``MultiProcessCollector`` does, minus the series of
    ``_ABSENT_AT_ZERO`` that are 0."""

    def __init__(self, path: str, *, exemplars: bool = False) -> None:
        self._files = MultiProcessCollector(None, path)  # type: ignore[no-untyped-call]
        self._path = path
        self._exemplars = exemplars

    def collect(self) -> Iterator[Metric]:
        metrics: Iterator[Metric] = self._files.collect()  # type: ignore[no-untyped-call]
        if self._exemplars:
            metrics = with_exemplars(metrics, self._path)
        for metric in metrics:
            if metric.name in _ABSENT_AT_ZERO:
                metric.samples = [sample for sample in metric.samples if sample.value != 0]
            yield metric


def build_metrics(worker: int = 0, *, enabled: bool = True) -> tuple[Metrics, CollectorRegistry | None]:
    """The worker's metrics and, outside multiprocess mode, the registry that holds them."""
    if multiprocess_dir():
        return Metrics(None, worker=worker, enabled=enabled), None
    registry = CollectorRegistry()
    return Metrics(registry, worker=worker, enabled=enabled), registry


def families(registry: CollectorRegistry | None) -> list[Metric]:
    """Every metric family as ``/metrics`` exposes it at this moment: in multiprocess mode,
    summed over the workers' files (for the status page, whose figures must be the same)."""
    if registry is None:
        path = multiprocess_dir()
        assert path is not None, "a worker without a registry writes to PROMETHEUS_MULTIPROC_DIR"
        return list(_WorkerFiles(path).collect())
    return list(registry.collect())


def render(
    registry: CollectorRegistry | None, *, accept: str = "", exemplars: bool = False
) -> tuple[bytes, str]:
    """The exposition text; in multiprocess mode, summed over every worker's files.

    With ``exemplars`` (tracing is on) and a scraper that accepts OpenMetrics (``accept``:
    its Accept header), the exposition is OpenMetrics, the only format that carries
    exemplars (the trace ids on the latency histograms); in multiprocess mode they come from
    the workers' exemplar files (``router.telemetry.exemplars``). Otherwise it is the
    classic text format, exactly as with tracing off.
    """
    wants_exemplars = exemplars and openmetrics.CONTENT_TYPE_LATEST.split(";")[0] in accept
    if registry is None:
        path = multiprocess_dir()
        assert path is not None, "a worker without a registry writes to PROMETHEUS_MULTIPROC_DIR"
        registry = CollectorRegistry()
        registry.register(_WorkerFiles(path, exemplars=wants_exemplars))
    if wants_exemplars:
        return openmetrics.generate_latest(registry), openmetrics.CONTENT_TYPE_LATEST  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST
