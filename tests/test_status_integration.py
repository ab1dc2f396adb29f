"""The status document and the request log of a real 2-worker gateway: the figures are /metrics'
(summed over the workers), the request log holds the access log's records, a disk that refuses
the log fails no request, Redis keeps the log for several instances, and who may see it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from router.config.load import parse_config
from router.errors import AuthenticationFailed, RouteNotFound
from router.runtime.keyring import KeyRing
from router.status import access
from tests.conftest import RunningGateway, serving
from tests.redis_server import RedisServer
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

PATIENCE = 10.0


def gateway_config(upstream: FakeUpstream, log: str, *, extra: str = "") -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 5s'
    return f"""
    server: {{graceful_timeout: 2s, request_log: {{path: "{log}"}}}}
    {extra}
    deployments:
      - {{name: steady, {native}, model: steady}}
      - {{name: flaky, {native}, model: flaky, cooldown: {{failures: 1, duration: 30s}}}}
    models:
      - {{name: plain, deployments: [steady]}}
      - {{name: guarded, deployments: [flaky, steady]}}
      - {{name: sticky, deployments: [steady], strategy: round_robin, affinity: {{}}}}
    """


def until(condition: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {PATIENCE}s: {what}")


def client(gateway: RunningGateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0)


def scrape(gateway: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(httpx.get(f"{gateway.base_url}/metrics").text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def summed(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (sample, key), value in samples.items() if sample == name and wanted <= set(key))


def access_lines(gateway: RunningGateway) -> dict[str, dict[str, Any]]:
    return {
        line["request_id"]: line
        for raw in list(gateway.output)
        if raw.startswith('{"ts"') and (line := json.loads(raw))
    }


def logged(gateway: RunningGateway, **params: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{gateway.base_url}/status/requests", params=params)
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def test_the_status_figures_are_the_metrics_summed_over_the_workers(
    threaded_upstream: FakeUpstream, tmp_path: Path
) -> None:
    threaded_upstream.script("flaky", Behaviour(status=500))
    with serving(gateway_config(threaded_upstream, str(tmp_path / "log.sqlite3")), tmp_path) as gateway:
        sdk = client(gateway)
        for index in range(6):
            sdk.with_options(default_headers={"connection": "close"}).chat.completions.create(
                model="plain" if index % 2 else "guarded", messages=[{"role": "user", "content": "hi"}]
            )
        status = until(
            lambda: (
                (doc := httpx.get(f"{gateway.base_url}/status.json").json())
                and len(doc["gateway"]["workers"]) == 2
                and any(d["name"] == "flaky" and d["state"] == "cooling down" for d in doc["deployments"])
                and doc
            ),
            "both workers on the board, that of the one that saw flaky fail since",  # rewritten every 0.5 s
        )
        metrics = scrape(gateway)  # nothing happened in between: the same moment
    deployments = {d["name"]: d for d in status["deployments"]}
    for name in ("steady", "flaky"):
        calls = summed(metrics, "raceway_upstream_requests_total", deployment=name)
        assert deployments[name]["calls_total"] == calls
        assert deployments[name]["in_flight"] == summed(metrics, "raceway_inflight", deployment=name) == 0
        assert deployments[name]["queue_depth"] == 0
    # Each worker's breaker opened on its first failure: one call per worker at most.
    assert deployments["flaky"]["errors_total"] == deployments["flaky"]["calls_total"] in (1, 2)
    assert (
        deployments["flaky"]["state"] == "cooling down"
        and deployments["flaky"]["cooling_until"] > time.time()
    )
    assert deployments["flaky"]["last_error"]["code"] == "upstream_error"
    assert deployments["steady"]["state"] == "usable"
    models = {m["name"]: m for m in status["models"]}
    for name in ("plain", "guarded"):
        assert models[name]["requests_total"] == summed(metrics, "raceway_requests_total", model=name) == 3
    assert "affinity_hit_rate" not in models["plain"]  # a group without affinity has no such figure
    workers = status["gateway"]["workers"]
    assert sorted(w["index"] for w in workers) == [0, 1] and len({w["pid"] for w in workers}) == 2
    assert all(w["config_hash"] == status["gateway"]["config_hash"] for w in workers)
    assert status["gateway"]["state_backend"] == {"kind": "local", "up": True}


def test_the_request_log_holds_the_access_log_records(
    threaded_upstream: FakeUpstream, tmp_path: Path
) -> None:
    with serving(gateway_config(threaded_upstream, str(tmp_path / "log.sqlite3")), tmp_path) as gateway:
        sdk = client(gateway)
        for index in range(8):
            sdk.with_options(default_headers={"connection": "close"}).chat.completions.create(
                model="plain",
                messages=[{"role": "user", "content": "hi"}],
                stream=index % 2 == 0,
                extra_headers={"x-request-id": f"logged-{index}"},
            )
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(
                model="absent",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"x-request-id": "logged-absent"},
            )
        wanted = {f"logged-{index}" for index in range(8)} | {"logged-absent"}
        records = until(
            lambda: (found := logged(gateway)) and wanted <= {r["request_id"] for r in found} and found,
            "every request in the request log",
        )
        lines = access_lines(gateway)
        errors = logged(gateway, status="error")
    assert [r["ts"] for r in records] == sorted((r["ts"] for r in records), reverse=True)  # newest first
    for kept in records:
        calls, trace_id = kept.pop("calls"), kept.pop("trace_id")
        assert kept == lines[kept["request_id"]]  # the access log's record, field for field
        assert trace_id is None
        if kept["status"] == 200:
            assert calls == [
                {
                    **calls[0],
                    "number": 1,
                    "deployment": "steady",
                    "hedge": False,
                    "outcome": "won",
                    "error": None,
                }
            ]
    assert [r["request_id"] for r in errors] == ["logged-absent"]


@pytest.mark.parametrize(
    ("place", "read_status"),
    [
        # Every write, and the reader's opening: "database or disk is full".
        pytest.param("/dev/full", 500, id="full-disk"),
        # sysfs: no new file, even for root; a log never written reads as empty.
        pytest.param("/sys/raceway/requests.sqlite3", 200, id="read-only"),
    ],
)
def test_a_disk_that_refuses_the_request_log_fails_no_request(
    threaded_upstream: FakeUpstream, tmp_path: Path, place: str, read_status: int
) -> None:
    with serving(gateway_config(threaded_upstream, place), tmp_path) as gateway:
        sdk = client(gateway)
        for _ in range(20):
            answer = sdk.chat.completions.with_raw_response.create(
                model="plain", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.http_response.status_code == 200
        until(
            lambda: gateway.metric('raceway_request_log_dropped_total{reason="write_failed"}') == 20,
            "the records counted as dropped",
        )
        assert gateway.metric("raceway_request_log_written_total") == 0
        assert httpx.get(f"{gateway.base_url}/status/requests").status_code == read_status
        assert httpx.get(f"{gateway.base_url}/status.json").status_code == 200  # the rest still shows
        assert httpx.get(f"{gateway.base_url}/ready").status_code == 200


def test_with_redis_every_instance_reads_one_request_log(
    threaded_upstream: FakeUpstream, redis_server: RedisServer, tmp_path: Path
) -> None:
    extra = 'state: {backend: redis, url: "${RACEWAY_REDIS_URL}"}'
    config = gateway_config(threaded_upstream, str(tmp_path / "unused.sqlite3"), extra=extra)
    env = {"RACEWAY_REDIS_URL": redis_server.url}
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(serving(config, directory, env=env))
            for directory in (tmp_path / "first", tmp_path / "second")
            if directory.mkdir() is None
        )
        client(first).chat.completions.create(
            model="plain",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"x-request-id": "on-first"},
        )
        seen = until(
            lambda: [r for r in logged(second, model="plain") if r["request_id"] == "on-first"],
            "the first instance's request in the second's log",
        )
    assert seen[0]["deployment"] == "steady" and seen[0]["status"] == 200
    assert not (tmp_path / "unused.sqlite3").exists()


# -- who may see the status --------------------------------------------------------------


def worker_for(server: str) -> Any:
    config = parse_config(f"server: {server}\ndeployments: []\nmodels: []\n".encode(), {})
    return SimpleNamespace(gateway=SimpleNamespace(config=config, keyring=KeyRing(())))


def request_to(local: str, authorization: str | None = None) -> Request:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    scope = {"type": "http", "method": "GET", "path": "/status.json", "headers": headers,
             "server": (local, 8080), "client": ("203.0.113.9", 5555), "query_string": b""}  # fmt: skip
    return Request(scope)


def test_without_an_admin_key_only_a_loopback_bind_shows_the_status() -> None:
    access.check(request_to("127.0.0.1"), worker_for("{bind: '127.0.0.1:8080'}"))
    access.check(request_to("::1"), worker_for("{bind: 'localhost:8080'}"))
    with pytest.raises(RouteNotFound):
        access.check(request_to("192.0.2.10"), worker_for("{bind: '0.0.0.0:8080'}"))
    with pytest.raises(RouteNotFound):  # a public bind reached through loopback is still a public bind
        access.check(request_to("127.0.0.1"), worker_for("{bind: '0.0.0.0:8080'}"))


def test_with_an_admin_key_the_status_needs_it_whatever_the_bind() -> None:
    worker = worker_for("{bind: '0.0.0.0:8080', admin_key: admin-secret-key}")
    access.check(request_to("192.0.2.10", "Bearer admin-secret-key"), worker)
    for presented, code in ((None, "admin_key_required"), ("Bearer wrong-key-1234", "invalid_admin_key")):
        with pytest.raises(AuthenticationFailed) as refused:
            access.check(request_to("127.0.0.1", presented), worker)
        assert refused.value.code == code


def test_the_status_events_stream_documents(threaded_upstream: FakeUpstream, tmp_path: Path) -> None:
    with (
        serving(gateway_config(threaded_upstream, str(tmp_path / "log.sqlite3")), tmp_path) as gateway,
        httpx.stream("GET", f"{gateway.base_url}/status/events", timeout=10) as events,
    ):
        assert events.headers["content-type"].startswith("text/event-stream")
        lines = events.iter_lines()
        first = next(line for line in lines if line.startswith("data: "))
        second = next(line for line in lines if line.startswith("data: "))
    assert json.loads(first[6:])["gateway"]["config_hash"] == json.loads(second[6:])["gateway"]["config_hash"]
    assert json.loads(second[6:])["at"] > json.loads(first[6:])["at"]


def test_a_group_with_affinity_shows_its_hit_rate_as_the_metrics_count_it(
    threaded_upstream: FakeUpstream, tmp_path: Path
) -> None:
    with serving(gateway_config(threaded_upstream, str(tmp_path / "log.sqlite3")), tmp_path) as gateway:
        sdk = client(gateway).with_options(default_headers={"x-session-id": "one-session"})
        for _ in range(4):  # the first turn is new, the other three find their pin
            sdk.chat.completions.create(model="sticky", messages=[{"role": "user", "content": "hi"}])
        sticky = next(
            m for m in httpx.get(f"{gateway.base_url}/status.json").json()["models"] if m["name"] == "sticky"
        )
        metrics = scrape(gateway)
    assert sticky["affinity_total"] == {
        result: summed(metrics, "raceway_affinity_total", model="sticky", result=result)
        for result in ("hit", "moved", "new")
    }
    assert sticky["affinity_hit_rate"] == 0.75
