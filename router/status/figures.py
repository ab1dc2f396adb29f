"""Figures over the whole instance from the metric families ``/metrics`` exposes: totals now, and
rates and latency quantiles over the last minute from two snapshots.

A ``Snapshot`` is every sample at one moment, summed over the workers exactly as ``/metrics``
sums them (``router.telemetry.metrics.families``), so a total here is the number a scrape at
the same moment shows. A rate is the difference of two snapshots over the time between them;
a quantile is Prometheus' ``histogram_quantile`` over the difference of a histogram's buckets
(linear interpolation inside the bucket where the rank falls).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.metrics_core import Metric

WINDOW = 60.0  # seconds that rates and quantiles cover
_KEPT = 2 * int(WINDOW)  # snapshots kept at most (one a second or so is plenty)

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: float  # wall-clock seconds
    samples: Mapping[str, Mapping[Labels, float]]  # by sample name (``_total``, ``_bucket``...), then labels

    @classmethod
    def of(cls, families: Iterable[Metric], at: float) -> Snapshot:
        samples: dict[str, dict[Labels, float]] = {}
        for family in families:
            for sample in family.samples:
                by_labels = samples.setdefault(sample.name, {})
                labels = tuple(sorted(sample.labels.items()))
                by_labels[labels] = by_labels.get(labels, 0.0) + sample.value
        return cls(at, samples)

    def total(self, name: str, **labels: str) -> float:
        """The sum of ``name``'s samples whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(value for key, value in self.samples.get(name, {}).items() if wanted <= set(key))

    def by(self, name: str, label: str, **labels: str) -> dict[str, float]:
        """``name``'s samples that include ``labels``, summed by the value of ``label``."""
        wanted = set(labels.items())
        found: dict[str, float] = {}
        for key, value in self.samples.get(name, {}).items():
            if wanted <= set(key):
                named = dict(key).get(label)
                if named is not None:
                    found[named] = found.get(named, 0.0) + value
        return found

    def buckets(self, histogram: str, **labels: str) -> dict[float, float]:
        """Cumulative count by upper bound (``le``) of ``histogram``'s series that include ``labels``."""
        counts: dict[float, float] = {}
        for bound, value in self.by(f"{histogram}_bucket", "le", **labels).items():
            counts[float(bound)] = value
        return counts


class History:
    """The snapshots of the last minute, taken as the status is asked for (never in the background)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._snapshots: deque[Snapshot] = deque(maxlen=_KEPT)

    def take(self, families: Iterable[Metric]) -> Window:
        now = Snapshot.of(families, self._clock())
        while self._snapshots and now.at - self._snapshots[0].at > WINDOW:
            self._snapshots.popleft()
        base = self._snapshots[0] if self._snapshots else None
        self._snapshots.append(now)
        return Window(now, base)


@dataclass(frozen=True, slots=True)
class Window:
    """The figures between ``base`` (the oldest snapshot of the last minute, if any) and ``now``."""

    now: Snapshot
    base: Snapshot | None

    @property
    def seconds(self) -> float | None:
        if self.base is None or self.now.at <= self.base.at:
            return None
        return self.now.at - self.base.at

    def rate(self, name: str, **labels: str) -> float | None:
        """Per second over the window; None before there are two snapshots."""
        seconds = self.seconds
        if seconds is None or self.base is None:
            return None
        return max(0.0, self.now.total(name, **labels) - self.base.total(name, **labels)) / seconds

    def quantile(self, q: float, histogram: str, **labels: str) -> float | None:
        """``histogram``'s ``q`` quantile over the window; None when nothing was observed in it."""
        if self.base is None:
            return None
        before = self.base.buckets(histogram, **labels)
        delta = {
            bound: count - before.get(bound, 0.0)
            for bound, count in self.now.buckets(histogram, **labels).items()
        }
        return histogram_quantile(q, delta)

    def mean(self, histogram: str, **labels: str) -> float | None:
        if self.base is None:
            return None
        count = self.now.total(f"{histogram}_count", **labels) - self.base.total(
            f"{histogram}_count", **labels
        )
        total = self.now.total(f"{histogram}_sum", **labels) - self.base.total(f"{histogram}_sum", **labels)
        return total / count if count > 0 else None


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative ``buckets`` (upper bound -> count)."""
    bounds = sorted(buckets)
    if not bounds or bounds[-1] != math.inf:
        return None
    total = buckets[math.inf]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if bound == math.inf:
                return lower  # beyond the highest finite bound: Prometheus answers that bound
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower
