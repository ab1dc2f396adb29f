"""``/metrics``: the exposition of every metric, summed across workers.

With several workers, each process writes its samples to files in the directory named
by ``PROMETHEUS_MULTIPROC_DIR`` (set by ``raceway serve`` before the workers start)
and ``/metrics`` on any worker sums them all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.openmetrics import exposition as openmetrics

from router.telemetry.exemplars import with_exemplars


def multiprocess_dir() -> str | None:
    # The environment is the only channel prometheus-client offers: it picks its file-backed
    # values when ``prometheus_client.values`` is imported, from this variable.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


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
