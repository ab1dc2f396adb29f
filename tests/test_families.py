"""Metric families that remember their children: the same series as prometheus-client's, found faster."""

import pytest
from prometheus_client import CollectorRegistry

from router.telemetry import families
from router.telemetry.families import RememberingCounter, RememberingGauge, RememberingHistogram
from router.telemetry.labels import UpstreamOutcome


def test_a_child_asked_for_again_is_the_same_series() -> None:
    registry = CollectorRegistry()
    calls = RememberingCounter("calls_total", "calls", ("deployment", "outcome"), registry=registry)
    calls.labels("a", UpstreamOutcome.SUCCESS).inc()
    calls.labels("a", "success").inc(2)  # the enum and its string name one series
    calls.labels(deployment="a", outcome="success").inc()
    assert calls.labels("a", UpstreamOutcome.SUCCESS) is calls.labels("a", "success")
    assert registry.get_sample_value("calls_total", {"deployment": "a", "outcome": "success"}) == 4


def test_a_removed_series_starts_again_from_nothing() -> None:
    registry = CollectorRegistry()
    info = RememberingGauge("info", "info", ("hash",), registry=registry)
    info.labels("old").set(1)
    info.remove("old")
    assert registry.get_sample_value("info", {"hash": "old"}) is None
    info.labels("old").inc()
    assert registry.get_sample_value("info", {"hash": "old"}) == 1  # a new child, exported again
    info.clear()
    assert registry.get_sample_value("info", {"hash": "old"}) is None
    info.labels("old").set(5)
    assert registry.get_sample_value("info", {"hash": "old"}) == 5


def test_histograms_remember_too_and_each_family_remembers_a_bounded_number(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(families, "REMEMBERED", 2)
    registry = CollectorRegistry()
    latency = RememberingHistogram(
        "latency_seconds", "latency", ("model",), buckets=(0.1, 1.0), registry=registry
    )
    for model in ("a", "b", "c", "c"):
        latency.labels(model).observe(0.5)
    assert len(latency._children) == 2
    assert (
        registry.get_sample_value("latency_seconds_count", {"model": "c"}) == 2
    )  # not remembered, still counted
