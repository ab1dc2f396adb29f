"""Observability checked with the real tools: promtool on the live /metrics, the alert rules and
every dashboard query, and a real Prometheus scraping a live 2-worker Raceway."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, Gateways, RunningGateway
from tests.redis_server import RedisServer
from tests.upstream import Behaviour, FakeUpstream

GRAFANA = REPO / "grafana"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is not installed; .ci/run installs Debian's prometheus package")
        pytest.skip(f"{tool} is not installed (apt-get install prometheus)")
    return path


def grafana_expressions() -> list[str]:
    import sys

    sys.path.insert(0, str(GRAFANA))
    try:
        import build_dashboard
    finally:
        sys.path.pop(0)
    return build_dashboard.expressions()


def for_prometheus(expr: str, window: str) -> str:
    """A dashboard query with Grafana's variables filled in."""
    return expr.replace("$__rate_interval", window).replace("$__range", window)


# -- the dashboard and rules, statically --------------------------------------------------


def test_dashboard_json_is_generated_from_the_panel_list() -> None:
    import sys

    sys.path.insert(0, str(GRAFANA))
    try:
        import build_dashboard
    finally:
        sys.path.pop(0)
    assert (GRAFANA / "dashboards" / "raceway.json").read_text() == build_dashboard.render()


def test_dashboard_is_importable_with_a_datasource_variable() -> None:
    dashboard = json.loads((GRAFANA / "dashboards" / "raceway.json").read_text())
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    graphs = [panel for panel in dashboard["panels"] if panel["type"] != "row"]
    assert len(graphs) >= 15
    assert all(panel["datasource"]["uid"] == "${datasource}" for panel in graphs)
    titles = " ".join(panel["title"] for panel in graphs).lower()
    for topic in (
        "error ratio",
        "p99",
        "first token",
        "overhead",
        "queue",
        "in flight",
        "rejections",
        "winners",
        "hedge",
        "fallbacks",
        "health",
        "loop lag",
        "tokens",
        "cost",
        "cache",
        "coalesced",
        "budget",
        "spend",
        "redis",
        "affinity",
        "prompt cache",
    ):
        assert topic in titles, topic


def test_alert_rules_pass_promtool() -> None:
    promtool = require("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(GRAFANA / "alerts.yml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_alerts_fire_on_the_situations_they_describe() -> None:
    """promtool's rule unit tests (grafana/alerts_test.yml): each alert fires, with its labels."""
    promtool = require("promtool")
    result = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"], cwd=GRAFANA, capture_output=True, text=True
    )
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    promtool = require("promtool")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"raceway:dashboard_query_{index}", "expr": for_prometheus(expr, "5m")}
                    for index, expr in enumerate(grafana_expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(json.dumps(rules))  # JSON is YAML
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# -- a live gateway, a real Prometheus --------------------------------------------------------

KEY = "rw-observe-key-1"


def config(upstream: FakeUpstream) -> str:
    base = upstream.base_url
    return textwrap.dedent(
        f"""\
        server: {{graceful_timeout: 5s}}
        state: {{backend: redis, url: "${{RACEWAY_REDIS_URL}}"}}
        deployments:
          - {{name: quick, provider: openai, base_url: "{base}", model: quick,
             price: {{input: 1.0, output: 2.0}}}}
          - {{name: sluggish, provider: openai, base_url: "{base}", model: sluggish}}
          - {{name: broken, provider: openai, base_url: "{base}", model: broken}}
          - {{name: narrow, provider: openai, base_url: "{base}", model: narrow,
             max_concurrency: 2, max_queue: 2, queue_timeout: 5s}}
        models:
          - {{name: raced, deployments: [sluggish, quick], strategy: race}}
          - {{name: hedged, deployments: [sluggish, quick], strategy: hedge, hedge_delay: 100ms,
             affinity: {{}}}}
          - {{name: main, deployments: [broken], fallbacks: [backup]}}
          - {{name: backup, deployments: [quick]}}
          - {{name: narrow, deployments: [narrow]}}
          - {{name: memo, deployments: [quick], cache: {{mode: always}}}}
        cache: {{max_entries: 1}}
        keys:
          - {{name: observer, key: "{KEY}", budget: {{daily: 1000}}}}
        """
    )


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, redis_server: RedisServer, gateways: Gateways) -> RunningGateway:
    """Two workers sharing state through Redis, so every panel has something to show."""
    return gateways.serve(config(module_upstream), env={"RACEWAY_REDIS_URL": redis_server.url})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus(gateway: RunningGateway, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed; .ci/run installs Debian's prometheus package")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    workdir = tmp_path_factory.mktemp("prometheus")
    target = gateway.base_url.removeprefix("http://")
    (workdir / "prometheus.yml").write_text(
        f"global: {{scrape_interval: 1s}}\n"
        f"scrape_configs:\n  - job_name: raceway\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("prometheus did not start")
        yield url
    finally:
        process.terminate()
        process.wait(20)


def query(prometheus: str, expr: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", answer
    result: list[dict[str, object]] = answer["data"]["result"]
    return result


RELEASE = "release"  # a request for this model, sent to the upstream itself, lets the held calls answer
NARROW_REFUSED = 'raceway_rejected_total{deployment="narrow",reason="queue_full"}'


def narrow_placed(gateway: RunningGateway) -> float:
    """The narrow deployment's calls in flight and queued, and the requests it ever refused."""
    return sum(
        gateway.metric(sample)
        for sample in (
            'raceway_inflight{deployment="narrow"}',
            'raceway_queue_depth{deployment="narrow"}',
            NARROW_REFUSED,
        )
    )


async def drive_traffic(gateway: RunningGateway, upstream: FakeUpstream) -> int:
    """A race, a hedge, a fallback, tokens with a price, queued and refused requests; returns the count."""
    upstream.script("sluggish", Behaviour(delay=1.0))
    upstream.script("broken", Behaviour(status=500))
    upstream.script("narrow", Behaviour(after=RELEASE))  # held until every narrow request is placed
    sent = 0
    refused = await asyncio.to_thread(gateway.metric, NARROW_REFUSED)
    async with httpx.AsyncClient(timeout=20, headers={"authorization": f"Bearer {KEY}"}) as client:

        async def ask(model: str, via: httpx.AsyncClient = client, **extra: object) -> httpx.Response:
            nonlocal sent
            sent += 1
            body = {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}
            return await via.post(f"{gateway.api_url}/chat/completions", json=body)

        asked = asyncio.gather(ask("raced"), ask("hedged"), ask("main"), *(ask("narrow") for _ in range(6)))
        # Every narrow request at the upstream, queued or refused before any call ends, however
        # long the six take to come in on a loaded machine.
        async with asyncio.timeout(20):
            while await asyncio.to_thread(narrow_placed, gateway) < refused + 6:  # noqa: ASYNC110 (counts in other processes: no event)
                await asyncio.sleep(0.02)
        await client.post(f"{upstream.base_url}/chat/completions", json={"model": RELEASE, "messages": []})
        answers = await asked
        streamed = await ask("backup", stream=True, stream_options={"include_usage": True})
        unknown = await ask("no-such-model")
        # One connection, so one worker: a miss, a hit, and a miss that evicts (max_entries: 1).
        async with httpx.AsyncClient(
            timeout=20, headers=client.headers, limits=httpx.Limits(max_connections=1)
        ) as single:
            memo = [await ask("memo", single, user=user) for user in ("a", "b")]
            memo.append(await ask("memo", single, messages=[{"role": "user", "content": "other"}]))
        assert [r.headers["x-raceway-cache"] for r in memo] == ["miss", "hit", "miss"]
        upstream.script("quick", Behaviour(delay=0.4))
        # Four at once over two workers: one of them has two or more, and coalesces.
        memo += await asyncio.gather(
            *(ask("memo", messages=[{"role": "user", "content": "same"}]) for _ in range(4))
        )
    statuses = [response.status_code for response in [*answers, streamed, unknown, *memo]]
    assert statuses[:3] == [200, 200, 200] and statuses[9:] == [200, 404] + [200] * 7, statuses
    # narrow takes 2 (1 + 1 queued) in each of the 2 workers: of 6, at least 2 are refused.
    narrow = sorted(statuses[3:9])
    assert narrow.count(429) >= 2 and set(narrow) <= {200, 429}, narrow
    return sent


def test_metrics_pass_promtool_after_traffic(gateway: RunningGateway, module_upstream: FakeUpstream) -> None:
    promtool = require("promtool")
    module_upstream.reset()
    asyncio.run(drive_traffic(gateway, module_upstream))
    exposition = httpx.get(f"{gateway.base_url}/metrics").text
    result = subprocess.run([promtool, "check", "metrics"], input=exposition, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_sees_every_panel_and_the_right_counts(
    gateway: RunningGateway, module_upstream: FakeUpstream, prometheus: str
) -> None:
    def total_requests() -> float:
        found = query(prometheus, "sum(raceway_requests_total)")
        return float(found[0]["value"][1]) if found else 0.0  # type: ignore[index]

    before = sum(  # what the gateway has counted so far, read from itself
        float(line.rsplit(" ", 1)[1])
        for line in httpx.get(f"{gateway.base_url}/metrics").text.splitlines()
        if line.startswith("raceway_requests_total{")
    )
    module_upstream.reset()
    sent = asyncio.run(drive_traffic(gateway, module_upstream))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and total_requests() - before != sent:
        time.sleep(0.5)
    assert total_requests() - before == sent

    def empty_panels() -> list[str]:
        return [expr for expr in grafana_expressions() if not query(prometheus, for_prometheus(expr, "1m"))]

    # Rates over the window need two scrapes (1 s apart) of the series: polled, bounded.
    deadline = time.monotonic() + 20
    while (empty := empty_panels()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert empty == []
    winners = query(prometheus, 'sum(raceway_race_outcomes_total{model="raced"})')
    assert float(winners[0]["value"][1]) >= 1  # type: ignore[index]
    fallbacks = query(prometheus, 'sum(raceway_fallbacks_total{model="main", to="backup"})')
    assert float(fallbacks[0]["value"][1]) >= 1  # type: ignore[index]
    assert query(prometheus, "sum(raceway_workers_up)")[0]["value"][1] == "2"  # type: ignore[index]
