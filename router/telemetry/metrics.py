"""Every metric Raceway exports, declared in one table: the class body of ``Metrics``.

Each line names a metric, its help text, its labels and (histograms) its buckets or (gauges)
how the workers' values combine; ``Metrics(registry)`` makes them all, in this order. The
label values beside a deployment, model or key name are the enums of
``router.telemetry.labels``; ``router.telemetry.series`` creates every series the config can
have at 0. How ``/metrics`` shows them, summed over the workers: ``router.telemetry.exposition``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Literal, TypeVar, overload

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from router.telemetry import deferred_values
from router.telemetry.exemplars import ExemplarBook
from router.telemetry.exposition import multiprocess_dir
from router.telemetry.families import RememberingCounter, RememberingGauge, RememberingHistogram

LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

# Label value for a model name that is not in the config: client input never becomes a label.
UNKNOWN_MODEL = "(unknown)"

_M = TypeVar("_M", Counter, Gauge, Histogram)
# How a gauge combines the workers' values in multiprocess mode (prometheus-client's names).
_Mode = Literal["max", "livesum", "livemin"]


class _Declared(Generic[_M]):
    """One metric of the table: made in the worker's registry by ``Metrics.__init__``, which
    sets it on the instance under the same name (a plain attribute from then on)."""

    __slots__ = ("make", "name")

    def __init__(self, make: Callable[[CollectorRegistry | None], _M]) -> None:
        self.make: Callable[[CollectorRegistry | None], _M] = make
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> _Declared[_M]: ...

    @overload
    def __get__(self, instance: Metrics, owner: type) -> _M: ...

    def __get__(self, instance: Metrics | None, owner: type) -> _Declared[_M] | _M:
        if instance is None:
            return self
        raise AttributeError(f"metric {self.name} is made by Metrics.__init__")


def _counter(name: str, documentation: str, labels: tuple[str, ...] = ()) -> _Declared[Counter]:
    return _Declared(lambda registry: RememberingCounter(name, documentation, labels, registry=registry))


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = (), *, mode: _Mode) -> _Declared[Gauge]:
    return _Declared(
        lambda registry: RememberingGauge(
            name, documentation, labels, registry=registry, multiprocess_mode=mode
        )
    )


def _histogram(
    name: str, documentation: str, labels: tuple[str, ...] = (), *, buckets: tuple[float, ...]
) -> _Declared[Histogram]:
    return _Declared(
        lambda registry: RememberingHistogram(name, documentation, labels, buckets=buckets, registry=registry)
    )


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

    requests = _counter(
        "raceway_requests", "Client requests answered, by model and status class.", ("model", "status_class")
    )
    dialects = _counter(
        "raceway_dialect_requests",
        "Client requests by the client's dialect (chat, messages, responses, completions) and the wire API "
        "of the deployment that answered (the same: passed through; another: translated; none: no "
        "deployment did).",
        ("dialect", "upstream_api"),
    )
    request_duration = _histogram(
        "raceway_request_duration_seconds",
        "Time from request received to response complete.",
        ("model",),
        buckets=LATENCY_BUCKETS,
    )
    first_token = _histogram(
        "raceway_time_to_first_token_seconds",
        "Time from request received to the first content chunk.",
        ("model",),
        buckets=LATENCY_BUCKETS,
    )
    tokens = _counter(
        "raceway_tokens",
        "Tokens the upstreams reported, by kind: prompt, completion, and cache_read and cache_write (the "
        "prompt tokens the provider's prompt cache served or stored).",
        ("model", "deployment", "kind"),
    )
    cost = _counter(
        "raceway_cost_usd",
        "Cost of the answers in US dollars, from the deployments' prices.",
        ("model", "deployment"),
    )
    overhead = _histogram(
        "raceway_overhead_seconds",
        "Time spent in Raceway, excluding the winning upstream call.",
        buckets=OVERHEAD_BUCKETS,
    )
    upstream_requests = _counter(
        "raceway_upstream_requests", "Upstream calls, by deployment and outcome.", ("deployment", "outcome")
    )
    upstream_duration = _histogram(
        "raceway_upstream_duration_seconds",
        "Upstream call time (whole stream for streams).",
        ("deployment",),
        buckets=LATENCY_BUCKETS,
    )
    upstream_first_chunk = _histogram(
        "raceway_upstream_time_to_first_token_seconds",
        "Upstream time to the first content chunk.",
        ("deployment",),
        buckets=LATENCY_BUCKETS,
    )
    deployment_state = _gauge(
        "raceway_deployment_state",
        "0 healthy, 1 half-open, 2 cooled down (worst over workers).",
        ("deployment",),
        mode="max",
    )
    race_outcomes = _counter(
        "raceway_race_outcomes", "Winners of race and hedge rounds.", ("model", "winner")
    )
    hedges = _counter(
        "raceway_hedges", "Hedged calls started because the first had not answered in time.", ("model",)
    )
    hedges_skipped = _counter(
        "raceway_hedges_skipped",
        "Second calls a race or hedge did not start: budget spent, warm session, key near its budget.",
        ("model", "reason"),
    )
    affinity = _counter(
        "raceway_affinity", "Requests of groups with affinity, by placement.", ("model", "result")
    )
    fallbacks = _counter(
        "raceway_fallbacks", "Requests handed to a fallback model group.", ("model", "from", "to")
    )
    stream_resumes = _counter(
        "raceway_stream_resumes",
        "Streams that broke after content: continued on another deployment and spliced, refused (the "
        "answer cannot be continued: a tool call or thinking), or exhausted (no deployment left).",
        ("model", "from", "to", "outcome"),
    )
    retries = _counter(
        "raceway_retries",
        "Retryable upstream failures (the request moves on to its next attempt while any is left).",
        ("deployment",),
    )
    inflight = _gauge(
        "raceway_inflight",
        "Upstream calls in flight (streams until they end).",
        ("deployment",),
        mode="livesum",
    )
    queue_depth = _gauge(
        "raceway_queue_depth",
        "Requests waiting for a concurrency slot of a deployment.",
        ("deployment",),
        mode="livesum",
    )
    queue_wait = _histogram(
        "raceway_queue_wait_seconds",
        "Time spent waiting for a concurrency slot.",
        ("deployment",),
        buckets=LATENCY_BUCKETS,
    )
    rejected = _counter(
        "raceway_rejected",
        "Calls refused by admission control, by deployment (or key) and reason.",
        ("deployment", "reason"),
    )
    auth_failures = _counter(
        "raceway_auth_failures",
        "Requests refused authentication, by reason (missing, invalid, admin, blocked).",
        ("reason",),
    )
    key_rejected = _counter(
        "raceway_key_rejected", "Requests refused by a gateway key's own rate limit.", ("key", "reason")
    )
    workers_up = _gauge("raceway_workers_up", "Worker processes serving (1 per live worker).", mode="livesum")
    worker_limit = _gauge(
        "raceway_worker_limit",
        "The share of a gateway-wide limit that each worker enforces.",
        ("scope", "name", "kind"),
        mode="max",
    )
    loop_lag = _histogram(
        "raceway_event_loop_lag_seconds",
        "How late each worker's event loop woke up (sampled).",
        ("worker",),
        buckets=LAG_BUCKETS,
    )
    cache_lookups = _counter(
        "raceway_cache_lookups", "Response-cache lookups, by result (hit, miss).", ("result",)
    )
    cache_evictions = _counter(
        "raceway_cache_evictions",
        "Entries removed from the response cache, by reason (size, expired).",
        ("reason",),
    )
    cache_bytes = _gauge(
        "raceway_cache_bytes", "Bytes held by the response caches of the live workers.", mode="livesum"
    )
    cache_entries = _gauge(
        "raceway_cache_entries", "Entries held by the response caches of the live workers.", mode="livesum"
    )
    coalesced = _counter(
        "raceway_coalesced_requests",
        "Requests answered by an identical request's upstream call instead of their own.",
        ("model",),
    )
    budget_requests = _counter(
        "raceway_budget_requests",
        "Requests of keys with a budget, by the budget tier they were served in.",
        ("key", "tier"),
    )
    key_spend = _gauge(
        "raceway_key_spend_usd",
        "Spend of each key in the current period (day, month), as the ledger last reported it.",
        ("key", "period"),
        mode="max",
    )
    state_backend_up = _gauge(
        "raceway_state_backend_up",
        "1 while the shared state backend (Redis) is usable, 0 while workers fall back to local state.",
        ("backend",),
        mode="livemin",
    )
    config_reloads = _counter(
        "raceway_config_reloads",
        "Config reload attempts by result (applied, invalid, unreadable).",
        ("result",),
    )
    spans_dropped = _counter(
        "raceway_trace_spans_dropped",
        "Trace spans not delivered to the collector, by reason (export_failed, queue_full).",
        ("reason",),
    )
    request_log_written = _counter(
        "raceway_request_log_written",
        "Request records written to the request log (server.request_log).",
    )
    request_log_dropped = _counter(
        "raceway_request_log_dropped",
        "Request records the request log did not keep, by reason (queue_full: the worker's writes lag "
        "behind; write_failed: the store refused them: a full or read-only disk, Redis down).",
        ("reason",),
    )
    config_info = _gauge(
        "raceway_config_info", "The active config's hash (value 1 per worker).", ("hash",), mode="livesum"
    )

    def __init__(self, registry: CollectorRegistry | None, *, worker: int = 0, enabled: bool = True) -> None:
        self.registry = registry
        self.worker = str(worker)
        # Exemplars shared through files: in multiprocess mode prometheus-client keeps none.
        directory = multiprocess_dir()
        self.exemplars = ExemplarBook(directory) if registry is None and directory else None
        for name, declared in vars(Metrics).items():
            if isinstance(declared, _Declared):
                setattr(self, name, declared.make(registry) if enabled else _Off())

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


def build_metrics(worker: int = 0, *, enabled: bool = True) -> tuple[Metrics, CollectorRegistry | None]:
    """The worker's metrics and, outside multiprocess mode, the registry that holds them."""
    if multiprocess_dir():
        deferred_values.install()
        return Metrics(None, worker=worker, enabled=enabled), None
    registry = CollectorRegistry()
    return Metrics(registry, worker=worker, enabled=enabled), registry
