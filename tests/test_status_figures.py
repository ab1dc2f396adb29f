"""The status page's arithmetic: totals as /metrics sums them, rates between two snapshots, and
Prometheus' histogram_quantile over the buckets a window added."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram

from router.status.figures import History, Snapshot, histogram_quantile


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_histogram_quantile_interpolates_inside_the_bucket_as_prometheus_does() -> None:
    buckets = {0.1: 10.0, 0.5: 30.0, 1.0: 40.0, math.inf: 40.0}
    assert histogram_quantile(0.25, buckets) == 0.1  # rank 10: the top of the first bucket
    assert histogram_quantile(0.5, buckets) == 0.1 + 0.4 * (20 - 10) / (30 - 10)
    assert histogram_quantile(0.95, buckets) == 0.5 + 0.5 * (38 - 30) / (40 - 30)
    assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None  # nothing observed
    assert histogram_quantile(0.99, {1.0: 1.0, math.inf: 3.0}) == 1.0  # beyond the last bound


def test_rates_and_quantiles_cover_what_happened_between_two_snapshots() -> None:
    registry = CollectorRegistry()
    calls = Counter("calls", "", ["deployment"], registry=registry)
    latency = Histogram("latency_seconds", "", ["deployment"], buckets=(0.1, 1.0), registry=registry)
    clock = Clock()
    history = History(clock)
    calls.labels("a").inc(5)
    latency.labels("a").observe(5.0)  # before the window: not in its quantiles
    first = history.take(registry.collect())
    assert first.rate("calls_total", deployment="a") is None  # one snapshot: no rate yet
    assert first.now.total("calls_total", deployment="a") == 5
    clock.now += 2.0
    calls.labels("a").inc(4)
    calls.labels("b").inc(10)
    for seconds in (0.05, 0.05, 0.5, 0.5):
        latency.labels("a").observe(seconds)
    window = history.take(registry.collect())
    assert window.rate("calls_total", deployment="a") == 2.0
    assert window.rate("calls_total") == 7.0
    assert window.quantile(0.5, "latency_seconds", deployment="a") == 0.1
    assert window.quantile(0.75, "latency_seconds", deployment="a") == 0.1 + 0.9 * 0.5
    assert window.mean("latency_seconds", deployment="a") == pytest.approx(1.1 / 4)
    assert window.now.by("calls_total", "deployment") == {"a": 9.0, "b": 10.0}


def test_the_window_forgets_snapshots_older_than_a_minute() -> None:
    registry = CollectorRegistry()
    calls = Counter("calls", "", registry=registry)
    clock = Clock()
    history = History(clock)
    history.take(registry.collect())
    clock.now += 30
    calls.inc(30)
    history.take(registry.collect())
    clock.now += 40  # the first snapshot is 70 s old now
    calls.inc(80)
    window = history.take(registry.collect())
    assert window.seconds == 40 and window.rate("calls_total") == 2.0


def test_a_snapshot_sums_samples_that_differ_only_by_labels_it_was_not_asked_about() -> None:
    registry = CollectorRegistry()
    upstream = Counter("upstream", "", ["deployment", "outcome"], registry=registry)
    upstream.labels("a", "success").inc(3)
    upstream.labels("a", "error").inc(2)
    snapshot = Snapshot.of(registry.collect(), 0.0)
    assert snapshot.total("upstream_total", deployment="a") == 5
    assert snapshot.by("upstream_total", "outcome", deployment="a") == {"success": 3.0, "error": 2.0}
