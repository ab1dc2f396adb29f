"""Exemplars across workers: the trace id of a recent request in each latency-histogram bucket.

prometheus-client keeps exemplars only in memory, and not at all in its multiprocess mode
(``MultiProcessValue.set_exemplar`` does nothing), which ``raceway serve`` always uses. So
each worker notes its latest exemplar per bucket here and writes them, at most once a
second, to ``exemplars_<pid>.json`` beside prometheus-client's files; ``/metrics`` on any
worker reads them all and puts the newest of each bucket on that bucket's sample.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import glob
import os
import time
from collections.abc import Iterator
from typing import Any

import orjson
from prometheus_client.metrics_core import Metric
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

WRITE_INTERVAL = 1.0
_FILE_PREFIX = "exemplars_"

# (histogram name, its labels other than ``le`` as sorted pairs, the bucket's ``le``)
Key = tuple[str, tuple[tuple[str, str], ...], str]


class ExemplarBook:
    """One worker's latest exemplar per histogram bucket, written to ``directory``."""

    __slots__ = ("_directory", "_dirty", "_latest")

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._latest: dict[Key, tuple[str, float, float]] = {}
        self._dirty = False

    def note(
        self,
        histogram: str,
        buckets: tuple[float, ...],
        labels: dict[str, str],
        value: float,
        exemplar: dict[str, str],
    ) -> None:
        index = bisect.bisect_left(buckets, value)
        le = floatToGoString(buckets[index]) if index < len(buckets) else "+Inf"  # type: ignore[no-untyped-call]
        key = (histogram, tuple(sorted(labels.items())), le)
        self._latest[key] = (exemplar["trace_id"], value, time.time())
        self._dirty = True

    def write(self) -> None:
        """The book to its file (replaced whole, so a reader never sees half of it)."""
        if not self._dirty:
            return
        self._dirty = False
        rows = [
            [name, list(map(list, labels)), le, *found] for (name, labels, le), found in self._latest.items()
        ]
        path = os.path.join(self._directory, f"{_FILE_PREFIX}{os.getpid()}.json")
        temporary = f"{path}.tmp"
        with open(temporary, "wb") as file:
            file.write(orjson.dumps(rows))
        os.replace(temporary, path)

    async def run(self) -> None:
        """Write the book every ``WRITE_INTERVAL`` while the worker runs (a background loop)."""
        while True:
            await asyncio.sleep(WRITE_INTERVAL)
            self.write()


def read_exemplars(directory: str) -> dict[Key, tuple[str, float, float]]:
    """The newest exemplar of each bucket over every worker's file."""
    newest: dict[Key, tuple[str, float, float]] = {}
    for path in glob.glob(os.path.join(directory, f"{_FILE_PREFIX}*.json")):
        with contextlib.suppress(OSError, orjson.JSONDecodeError):
            with open(path, "rb") as file:
                rows: list[Any] = orjson.loads(file.read())
            for name, labels, le, trace_id, value, timestamp in rows:
                key = (name, tuple((str(k), str(v)) for k, v in labels), le)
                if key not in newest or newest[key][2] < timestamp:
                    newest[key] = (trace_id, value, timestamp)
    return newest


def with_exemplars(metrics: Iterator[Metric], directory: str) -> Iterator[Metric]:
    """``metrics`` with each histogram bucket's newest exemplar from the workers' files."""
    found = read_exemplars(directory)
    for metric in metrics:
        if metric.type == "histogram" and found:
            metric.samples = [
                sample._replace(exemplar=Exemplar({"trace_id": hit[0]}, hit[1], hit[2]))
                if sample.name.endswith("_bucket")
                and (hit := found.get(_key_of(metric.name, sample.labels))) is not None
                else sample
                for sample in metric.samples
            ]
        yield metric


def _key_of(name: str, labels: dict[str, str]) -> Key:
    return (name, tuple(sorted((k, v) for k, v in labels.items() if k != "le")), labels.get("le", ""))
