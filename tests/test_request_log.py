"""The request log: its SQLite store (filters, newest first, bounded by rows and age), the worker's
batching (bounded, drops counted, never raising), what a request's journal adds (its calls and
their outcomes), and the query a reader sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from router.config.model import RequestLogSettings
from router.errors import InvalidRequest
from router.providers.upstream_errors import Scrubber
from router.status.journal import JournalTrace, JournalTracing
from router.status.query import RequestQuery
from router.status.request_log import RequestLog
from router.status.sqlite_log import PRUNE_EVERY, SqliteRequestLog
from router.status.store import RequestLogUnavailable, SqliteStore
from router.telemetry.exchange import Exchange
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import OFF
from tests.harness import Harness, build_harness
from tests.upstream import Behaviour, FakeUpstream


def record(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "ts": 1000.0 + number,
        "request_id": f"r{number}",
        "model": "m",
        "deployment": "a",
        "status": 200,
        **fields,
    }


class Clock:
    def __init__(self) -> None:
        self.now = 2000.0

    def __call__(self) -> float:
        return self.now


def ids(records: Sequence[dict[str, Any]]) -> list[str]:
    return [r["request_id"] for r in records]


# -- the SQLite store ---------------------------------------------------------------------


def test_records_come_back_newest_first_and_filtered(tmp_path: Path) -> None:
    log = SqliteRequestLog(tmp_path / "log.sqlite3", max_rows=100, max_age=86400.0, clock=Clock())
    log.write(
        [
            record(1),
            record(3, status=503, deployment="b"),
            record(2, model="other", status=429),
            record(4, status=200),
        ]
    )
    assert ids(log.read(RequestQuery())) == ["r4", "r3", "r2", "r1"]
    assert ids(log.read(RequestQuery(model="m"))) == ["r4", "r3", "r1"]
    assert ids(log.read(RequestQuery(deployment="b"))) == ["r3"]
    assert ids(log.read(RequestQuery(status="error"))) == ["r3", "r2"]
    assert ids(log.read(RequestQuery(status="5xx"))) == ["r3"]
    assert ids(log.read(RequestQuery(status="429"))) == ["r2"]
    assert ids(log.read(RequestQuery(status="ok"))) == ["r4", "r1"]
    assert ids(log.read(RequestQuery(since=1003.0))) == ["r4", "r3"]
    assert ids(log.read(RequestQuery(limit=2))) == ["r4", "r3"]
    assert log.read(RequestQuery(limit=1))[0] == record(4)  # the whole record, as written
    log.close()


def test_a_log_never_written_reads_as_empty(tmp_path: Path) -> None:
    log = SqliteRequestLog(tmp_path / "absent.sqlite3", max_rows=10, max_age=60.0)
    assert log.read(RequestQuery()) == []
    assert not (tmp_path / "absent.sqlite3").exists()


def test_the_log_keeps_at_most_max_rows_and_nothing_older_than_max_age(tmp_path: Path) -> None:
    clock = Clock()
    log = SqliteRequestLog(tmp_path / "log.sqlite3", max_rows=3, max_age=1500.0, clock=clock)
    log.write([record(n) for n in range(1, 6)])  # pruned at once: the first write prunes
    assert ids(log.read(RequestQuery())) == ["r5", "r4", "r3"]
    log.write([record(6)])  # within PRUNE_EVERY of the last pruning: kept for now
    assert len(log.read(RequestQuery())) == 4
    clock.now += PRUNE_EVERY
    log.write([record(7)])
    assert ids(log.read(RequestQuery())) == ["r7", "r6", "r5"]
    clock.now = 1006.0 + 1500.0 + 0.5  # r5 and r6 are older than max_age now
    log.write([record(600)])
    assert ids(log.read(RequestQuery())) == ["r600", "r7"]
    log.close()


async def test_a_full_disk_is_an_unavailable_log_not_a_crash() -> None:
    store = SqliteStore(SqliteRequestLog(Path("/dev/full"), max_rows=10, max_age=60.0))
    with pytest.raises(RequestLogUnavailable, match="full"):
        await store.write([record(1)])
    await store.close()


# -- the worker's batches -----------------------------------------------------------------


class FakeStore:
    """A store whose writes fail while ``failing`` and wait while ``held`` is clear."""

    where = "fake"

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.failing = False

    async def write(self, records: Sequence[dict[str, Any]]) -> None:
        if self.failing:
            raise RequestLogUnavailable("disk full")
        self.batches.append(list(records))

    async def read(self, query: RequestQuery) -> list[dict[str, Any]]:
        return [r for batch in reversed(self.batches) for r in reversed(batch) if query.matches(r)]

    async def close(self) -> None:
        return None


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def request_log(store: FakeStore, registry: CollectorRegistry, **settings: Any) -> RequestLog:
    return RequestLog(store, RequestLogSettings(**settings), Metrics(registry), Scrubber(["sk-secret-1234"]))


def dropped(registry: CollectorRegistry, reason: str) -> float:
    return registry.get_sample_value("raceway_request_log_dropped_total", {"reason": reason}) or 0.0


async def test_records_are_written_in_one_batch_per_flush(registry: CollectorRegistry) -> None:
    store = FakeStore()
    log = request_log(store, registry)
    for number in range(3):
        log.add(Exchange(f"r{number}", "/v1/chat/completions"), record(number))
    assert store.batches == []  # nothing is written on the request path
    await log.flush()
    assert [ids(batch) for batch in store.batches] == [["r0", "r1", "r2"]]
    assert registry.get_sample_value("raceway_request_log_written_total") == 3
    await log.flush()
    assert len(store.batches) == 1  # nothing new, nothing written


async def test_past_max_pending_records_are_dropped_and_counted(registry: CollectorRegistry) -> None:
    store = FakeStore()
    log = request_log(store, registry, max_pending=2)
    for number in range(5):
        log.add(Exchange(f"r{number}", "/"), record(number))
    assert dropped(registry, "queue_full") == 3
    await log.flush()
    assert ids(store.batches[0]) == ["r0", "r1"]


async def test_a_store_that_refuses_loses_its_batch_and_the_log_goes_on(registry: CollectorRegistry) -> None:
    store = FakeStore()
    log = request_log(store, registry)
    store.failing = True
    log.add(Exchange("lost", "/"), record(1))
    await log.flush()  # does not raise
    assert dropped(registry, "write_failed") == 1
    store.failing = False
    log.add(Exchange("kept", "/"), record(2))
    await log.flush()
    assert [ids(batch) for batch in store.batches] == [["r2"]]


def journaled(bodies: bool = False) -> JournalTrace:
    trace = JournalTracing(OFF, bodies=bodies, on_failure=lambda *note: None).begin({}, "r", "/")
    assert isinstance(trace, JournalTrace)
    return trace


async def test_bodies_are_kept_only_when_asked_and_then_scrubbed(registry: CollectorRegistry) -> None:
    store = FakeStore()
    log = request_log(store, registry)
    secret = "sk-abcdefghijklmnopqrstuv"  # key-shaped, not in the config
    body = {"messages": [{"role": "user", "content": f"keys: sk-secret-1234 and {secret}"}]}
    for number, bodies in ((1, True), (2, False)):
        exchange = Exchange(f"r{number}", "/")
        exchange.trace = journaled(bodies)
        exchange.trace.request_body(body)
        log.add(exchange, record(number))
    await log.flush()
    kept, without = store.batches[0]
    assert kept["body"].startswith('{"messages":') and "keys: *** and ***" in kept["body"]
    assert "sk-secret-1234" not in kept["body"] and secret not in kept["body"]
    assert "body" not in without


# -- the journal: each call and its outcome -----------------------------------------------------


@pytest.fixture
async def make(upstream: FakeUpstream) -> AsyncIterator[Callable[[str], Harness]]:
    built: list[Harness] = []

    def make(yaml_text: str) -> Harness:
        harness = build_harness(upstream, yaml_text)
        built.append(harness)
        return harness

    yield make
    for harness in built:
        await harness.close()


RACE = """
deployments:
  - {name: broken, provider: openai, base_url: '{base}', model: broken, timeout: 2s}
  - {name: slow, provider: openai, base_url: '{base}', model: slow, timeout: 2s}
  - {name: fast, provider: openai, base_url: '{base}', model: fast, timeout: 2s}
models:
  - {name: m, deployments: [broken, slow, fast], strategy: race}
"""


async def test_the_journal_names_each_call_and_how_it_ended(
    make: Callable[[str], Harness], upstream: FakeUpstream
) -> None:
    harness = make(RACE)
    failures: list[tuple[str, str, str]] = []
    trace = JournalTracing(OFF, bodies=False, on_failure=lambda *note: failures.append(note)).begin(
        {}, "r", "/v1/chat/completions"
    )
    assert isinstance(trace, JournalTrace)
    upstream.script("broken", Behaviour(status=500, error={"message": "boom", "type": "server_error"}))
    upstream.script("slow", Behaviour(delay=1.5))
    upstream.script("fast", Behaviour(after="slow"))
    completion = await asyncio.create_task(harness.chat("m"))  # a task inherits the current trace
    assert completion.deployment == "fast"
    calls = {call["deployment"]: call for call in trace.described()}
    assert [calls[name]["outcome"] for name in ("broken", "slow", "fast")] == [
        "failed",
        "lost-cancelled",
        "won",
    ]
    assert calls["broken"]["error"] == "upstream_error"
    assert sorted(call["number"] for call in calls.values()) == [1, 2, 3]
    assert [(deployment, code) for deployment, code, _ in failures] == [("broken", "upstream_error")]
    assert trace.trace_id() is None  # tracing is off


# -- the query -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"status": "teapot"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"since": "soon"}, "since"),
    ],
)
def test_a_bad_query_is_a_400_naming_its_parameter(params: dict[str, str], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        RequestQuery.from_params(params)
    assert caught.value.param == param


def test_a_query_reads_its_parameters() -> None:
    query = RequestQuery.from_params(
        {"model": "m", "status": "5XX", "deployment": "d", "since": "12.5", "limit": "7"}
    )
    assert query == RequestQuery(model="m", deployment="d", status="5xx", since=12.5, limit=7)
