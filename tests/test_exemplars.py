"""Exemplars across workers (router/telemetry/exemplars.py): noted per bucket, written to files,
the newest of each bucket put on its sample."""

from __future__ import annotations

from pathlib import Path

import orjson
from prometheus_client.metrics_core import HistogramMetricFamily

from router.telemetry.exemplars import ExemplarBook, read_exemplars, with_exemplars

BUCKETS = (0.1, 1.0, 10.0)


def histogram() -> HistogramMetricFamily:
    family = HistogramMetricFamily("raceway_request_duration_seconds", "h", labels=["model"])
    family.add_metric(["m"], buckets=[("0.1", 0), ("1.0", 1), ("10.0", 2), ("+Inf", 3)], sum_value=20.0)
    return family


def test_a_note_lands_on_its_bucket_and_the_newest_of_all_workers_wins(tmp_path: Path) -> None:
    book = ExemplarBook(str(tmp_path))
    book.note("raceway_request_duration_seconds", BUCKETS, {"model": "m"}, 0.5, {"trace_id": "a" * 32})
    book.note("raceway_request_duration_seconds", BUCKETS, {"model": "m"}, 42.0, {"trace_id": "b" * 32})
    book.write()
    # Another worker's file, with a newer exemplar for the 1.0 bucket and an older one for +Inf.
    assert {le for _, _, le in read_exemplars(str(tmp_path))} == {"1.0", "+Inf"}
    other = [
        ["raceway_request_duration_seconds", [["model", "m"]], "1.0", "c" * 32, 0.7, 9e12],
        ["raceway_request_duration_seconds", [["model", "m"]], "+Inf", "d" * 32, 50.0, 1.0],
    ]
    (tmp_path / "exemplars_999999.json").write_bytes(orjson.dumps(other))
    (metric,) = with_exemplars(iter([histogram()]), str(tmp_path))
    on = {
        sample.labels["le"]: sample.exemplar for sample in metric.samples if sample.name.endswith("_bucket")
    }
    assert on["0.1"] is None and on["10.0"] is None
    assert on["1.0"] is not None and on["1.0"].labels == {"trace_id": "c" * 32}
    assert on["+Inf"] is not None and on["+Inf"].labels == {"trace_id": "b" * 32} and on["+Inf"].value == 42.0


def test_nothing_noted_writes_nothing_and_a_torn_file_is_skipped(tmp_path: Path) -> None:
    ExemplarBook(str(tmp_path)).write()
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "exemplars_1.json").write_bytes(b"[[")
    assert read_exemplars(str(tmp_path)) == {}
