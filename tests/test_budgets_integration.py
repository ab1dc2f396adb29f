"""Budgets in the real server with two workers: tiers switch at the thresholds whichever worker
serves, spend survives a restart, keys given only by their hash, and ``raceway keys spend``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import REPO, RunningGateway, serving
from tests.upstream import FakeUpstream

pytestmark = pytest.mark.integration

TEAM = "rw-team-budget-key-1"
STRICT = "rw-strict-budget-key-2"
FREE = "rw-free-budget-key-3"
# The scripted upstream reports 4 completion tokens: at 31,250 USD per million, 0.125 USD a request
# (a power of two, so the sums are exact).
REQUEST_COST = 0.125
SYNC = 0.05


def gateway_config(upstream: FakeUpstream, ledger: Path) -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 5s, cooldown: {{failures: 1000}}'
    team_hash = hashlib.sha256(TEAM.encode()).hexdigest()
    return f"""
    server: {{graceful_timeout: 5s}}
    state: {{ledger: "{ledger}", sync_interval: {SYNC}s}}
    deployments:
      - {{name: best, {native}, model: best, price: {{input: 0, output: 31250}}}}
      - {{name: cheap, {native}, model: cheap, price: {{input: 0, output: 0}}}}
    models:
      - {{name: best, deployments: [best]}}
      - {{name: cheap, deployments: [cheap]}}
    keys:
      - {{name: team, key_sha256: {team_hash}, budget: {{daily: 1.0, near: 0.8, downgrade_to: cheap}}}}
      - {{name: strict, key: "{STRICT}", budget: {{daily: 0.375}}}}
      - {{name: free, key: "{FREE}", budget: {{monthly: 0.25, exceeded_to: cheap}}}}
    """


def ask(gateway: RunningGateway, key: str, via: httpx.Client | None = None) -> httpx.Response:
    """A request of ``key``'s; ``via``: a connection of one worker's, else a new connection."""
    body = {"model": "best", "messages": [{"role": "user", "content": "spend"}]}
    headers = {"authorization": f"Bearer {key}"}
    if via is not None:
        response = via.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers)
    else:
        response = httpx.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers, timeout=10)
    time.sleep(6 * SYNC)  # every worker has written and read the ledger since
    return response


def one_connection_per_worker(gateway: RunningGateway, stack: ExitStack) -> list[httpx.Client]:
    """A kept-alive connection to each of the two workers, found by the worker the access log
    names for a request (refused: it has no key) on each new one; the others are closed."""
    found: dict[str, httpx.Client] = {}
    for number in range(64):
        client = stack.enter_context(httpx.Client(timeout=10))
        probe = f"which-worker-{number}"
        client.post(f"{gateway.api_url}/chat/completions", json={}, headers={"x-request-id": probe})
        worker = access_line(gateway, probe)["worker"]
        if worker in found:
            client.close()
        else:
            found[worker] = client
        if len(found) == 2:
            return [found["0"], found["1"]]
    raise AssertionError("64 connections, all to one worker")


def access_line(gateway: RunningGateway, request_id: str) -> dict[str, str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in list(gateway.output):
            if line.startswith("{") and f'"request_id":"{request_id}"' in line:
                return dict(orjson.loads(line))
        time.sleep(0.02)
    raise AssertionError(f"no access-log line for {request_id}")


def workers_that_served(gateway: RunningGateway, key: str) -> set[str]:
    """The workers named by the access log lines of ``key``'s requests."""
    lines = [
        orjson.loads(line) for line in gateway.output if line.startswith("{") and f'"key":"{key}"' in line
    ]
    return {line["worker"] for line in lines}


def tiers(
    gateway: RunningGateway, key: str, count: int, workers: list[httpx.Client] | None = None
) -> list[tuple[int, str]]:
    """``count`` requests of ``key``'s, taken by each worker in turn (``workers``: a connection
    to each), else by whichever the kernel gives each new connection to."""
    return [
        (r.status_code, r.headers.get("x-raceway-budget-tier", ""))
        for r in (
            ask(gateway, key, workers[index % len(workers)] if workers else None) for index in range(count)
        )
    ]


def test_tiers_switch_at_the_thresholds_across_workers_and_survive_a_restart(
    module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    module_upstream.reset()
    ledger = tmp_path / "ledger.sqlite3"
    config = gateway_config(module_upstream, ledger)
    with serving(config, tmp_path) as gateway, ExitStack() as stack:
        # team: 0.75 spent after 6 requests (still normal), 0.875 after 7: from the 8th on, near;
        # its requests alternate between the workers (each knows the other's spend).
        workers = one_connection_per_worker(gateway, stack)
        assert tiers(gateway, TEAM, 10, workers) == [(200, "normal")] * 7 + [(200, "near")] * 3
        assert module_upstream.calls("best") == 7 and module_upstream.calls("cheap") == 3
        # strict: 0.375 a day, no downgrade: the 4th request is refused until midnight UTC.
        assert tiers(gateway, STRICT, 3) == [(200, "normal")] * 3
        refused = ask(gateway, STRICT)
        assert refused.status_code == 429 and refused.headers["x-raceway-budget-tier"] == "exceeded"
        assert refused.json()["error"]["code"] == "budget_exceeded"
        assert 0 < int(refused.headers["retry-after"]) <= 86400
        # free: over its monthly budget after 2 requests, then served by the free group.
        assert tiers(gateway, FREE, 4) == [(200, "normal")] * 2 + [(200, "exceeded")] * 2
        assert gateway.metric('raceway_budget_requests_total{key="team",tier="near"}') == 3
        assert gateway.metric('raceway_key_spend_usd{key="team",period="day"}') == pytest.approx(0.875)
    assert workers_that_served(gateway, "team") == {"0", "1"}

    with serving(config, tmp_path) as restarted:  # the ledger remembers
        assert tiers(restarted, TEAM, 1) == [(200, "near")]
        assert ask(restarted, STRICT).status_code == 429

    report = subprocess.run(
        [sys.executable, "-m", "router", "keys", "spend", "-c", str(tmp_path / "gateway.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    team_line = next(line for line in report.splitlines() if line.startswith("team "))
    assert team_line.split()[1:5] == ["0.875000", "0.875000", "11", "99"]  # 9 tokens a request
    assert team_line.split()[-1] == "near"


def test_a_key_given_only_by_its_hash_authenticates(module_upstream: FakeUpstream, tmp_path: Path) -> None:
    config = gateway_config(module_upstream, tmp_path / "ledger.sqlite3")
    with serving(config, tmp_path, workers=1) as gateway:
        assert ask(gateway, TEAM).status_code == 200
        assert ask(gateway, "rw-not-a-known-key").status_code == 401
