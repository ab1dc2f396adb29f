"""Two Raceway instances (two workers each) sharing one real Redis: limits, cooldowns, the cache
and coalescing hold across both, and losing Redis mid-run fails no request."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import REPO, Gateways, RunningGateway, serving
from tests.redis_server import RedisServer
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


PATIENCE = 10.0  # the longest any wait here lasts
REQUEST_COST = 0.125  # of a ``paid`` request: 4 completion tokens at 31,250 USD per million


def eventually(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` until it holds (True) or PATIENCE has passed (False)."""
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def adopters(gateway: RunningGateway, deployment: str) -> set[str]:
    """The workers of ``gateway`` that adopted ``deployment``'s cooldown from the board, by their log."""
    found = f"deployment {deployment} cooled down elsewhere"
    return {
        match.group() for line in list(gateway.output) if found in line and (match := WORKER.search(line))
    }


def spend_of(gateway: RunningGateway, key: str) -> float:
    return gateway.metric(f'raceway_key_spend_usd{{key="{key}",period="day"}}')


WORKER = re.compile(r"\bworker-\d+\b")


def gateway_config(upstream: FakeUpstream) -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 5s'
    steady = "cooldown: {failures: 1000}"
    return f"""
    server: {{graceful_timeout: 5s}}
    state: {{backend: redis, url: "${{RACEWAY_REDIS_URL}}", cooldown_poll: 200ms, timeout: 2s}}
    deployments:
      - {{name: limited, {native}, model: limited, rpm: 60, {steady}}}
      - {{name: flaky, {native}, model: flaky, cooldown: {{failures: 1, duration: 30s}}}}
      - {{name: steady, {native}, model: steady, {steady}}}
      - {{name: memo, {native}, model: memo, {steady}}}
    models:
      - {{name: limited, deployments: [limited]}}
      - {{name: guarded, deployments: [flaky, steady]}}
      - {{name: plain, deployments: [steady]}}
      - {{name: cached, deployments: [memo], cache: {{mode: always}}}}
    """


@pytest.fixture(scope="module")
def instances(
    module_upstream: FakeUpstream, redis_server: RedisServer, gateways: Gateways
) -> tuple[RunningGateway, RunningGateway]:
    env = {"RACEWAY_REDIS_URL": redis_server.url}
    first, second = (gateways.serve(gateway_config(module_upstream), env=env) for _ in range(2))
    return first, second


async def spread(
    instances: tuple[RunningGateway, RunningGateway], model: str, count: int, prompt: str = "hi"
) -> list[httpx.Response]:
    """``count`` requests at once, alternating between the instances, each on its own connection."""
    body = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    async with httpx.AsyncClient(timeout=15, limits=httpx.Limits(max_connections=count)) as client:
        return await asyncio.gather(
            *(
                client.post(f"{instances[index % 2].api_url}/chat/completions", json=body)
                for index in range(count)
            )
        )


async def test_an_rpm_limit_holds_exactly_across_both_instances(
    instances: tuple[RunningGateway, RunningGateway], threaded_upstream: FakeUpstream
) -> None:
    statuses = sorted(response.status_code for response in await spread(instances, "limited", 100))
    assert statuses == [200] * 60 + [429] * 40
    assert threaded_upstream.calls("limited") == 60


def test_a_cooldown_from_one_instance_is_honoured_by_the_other(
    instances: tuple[RunningGateway, RunningGateway], threaded_upstream: FakeUpstream
) -> None:
    first, second = instances
    threaded_upstream.script("flaky", Behaviour(status=500))
    answer = httpx.post(
        f"{first.api_url}/chat/completions",
        json={"model": "guarded", "messages": [{"role": "user", "content": "first"}]},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.headers["x-raceway-deployment"] == "steady"
    assert threaded_upstream.calls("flaky") == 1
    # Every other worker (its sibling, both of the second instance) has read the board.
    adopted = lambda: (len(adopters(first, "flaky")), len(adopters(second, "flaky")))  # noqa: E731
    assert eventually(lambda: adopted() == (1, 2)), (
        adopted(),
        "".join(first.output[-30:] + second.output[-30:]),
    )
    for gateway in (second, first) * 4:
        body = {"model": "guarded", "messages": [{"role": "user", "content": "again"}]}
        answer = httpx.post(f"{gateway.api_url}/chat/completions", json=body, timeout=10)
        assert answer.headers["x-raceway-deployment"] == "steady"
    assert threaded_upstream.calls("flaky") == 1  # no worker of either instance tried it again
    assert second.metric('raceway_deployment_state{deployment="flaky"}') == 2


def answer_twice_through_the_shared_cache(
    instances: tuple[RunningGateway, RunningGateway], redis_server: RedisServer, body: dict[str, object]
) -> tuple[httpx.Response, httpx.Response]:
    """The same request on the first instance, then (once its answer is stored) on the second.

    Redis is best effort on both sides: a command that exceeds its 0.25 s timeout on a loaded
    machine is skipped (the store), or makes that worker serve locally for a second (the
    lookup). So the store is asked again until it lands, and when the second instance missed,
    the whole exchange is tried again with a new prompt (a bounded number of times), so that a
    hit always comes from an answer the *other* instance stored.
    """
    for round_ in range(3):
        asked = {**body, "messages": [{"role": "user", "content": f"{body['messages']} (round {round_})"}]}
        stored = redis_server.cached_entries()
        for _ in range(3):
            first = httpx.post(f"{instances[0].api_url}/chat/completions", json=asked, timeout=10)
            if redis_server.wait_for_cached_entries(stored + 1, timeout=3.0):
                break
        else:
            raise AssertionError("the first instance never stored its answer in Redis")
        second = httpx.post(f"{instances[1].api_url}/chat/completions", json=asked, timeout=10)
        if second.headers["x-raceway-cache"] == "hit":
            break
    return first, second


def test_an_answer_cached_by_one_instance_is_a_hit_on_the_other(
    instances: tuple[RunningGateway, RunningGateway],
    threaded_upstream: FakeUpstream,
    redis_server: RedisServer,
) -> None:
    body = {"model": "cached", "messages": [{"role": "user", "content": "remember me"}]}
    first, second = answer_twice_through_the_shared_cache(instances, redis_server, body)
    assert first.headers["x-raceway-cache"] == "miss" and second.headers["x-raceway-cache"] == "hit"
    assert second.json()["choices"] == first.json()["choices"]
    assert threaded_upstream.calls("memo") == 1


RELEASE = "release"  # a request for this model, sent to the upstream itself, lets a held call answer


def cache_misses(instances: tuple[RunningGateway, RunningGateway]) -> float:
    return sum(gateway.metric('raceway_cache_lookups_total{result="miss"}') for gateway in instances)


async def test_fifty_identical_requests_over_both_instances_make_one_upstream_call(
    instances: tuple[RunningGateway, RunningGateway], threaded_upstream: FakeUpstream
) -> None:
    # The call is held until every request has looked in the caches and missed: each then
    # follows it, however long the fifty take to come in (on a loaded machine, the last could
    # come after a call that was not held had ended, and before its answer was in Redis).
    threaded_upstream.script("memo", Behaviour(reply="one call for all", after=RELEASE))
    before = await asyncio.to_thread(cache_misses, instances)
    crowd = asyncio.ensure_future(spread(instances, "cached", 50, prompt="everyone at once"))
    async with asyncio.timeout(PATIENCE):
        while await asyncio.to_thread(cache_misses, instances) < before + 50:  # noqa: ASYNC110 (counts in other processes: no event)
            await asyncio.sleep(0.02)
    async with httpx.AsyncClient(timeout=15) as client:
        release = {"model": RELEASE, "messages": [{"role": "user", "content": "go"}]}
        await client.post(f"{threaded_upstream.base_url}/chat/completions", json=release)
    responses = await crowd
    assert [response.status_code for response in responses] == [200] * 50
    assert {response.json()["choices"][0]["message"]["content"] for response in responses} == {
        "one call for all"
    }
    assert threaded_upstream.calls("memo") == 1


def test_losing_redis_mid_run_fails_no_request_and_recovery_is_automatic(
    instances: tuple[RunningGateway, RunningGateway],
    threaded_upstream: FakeUpstream,
    redis_server: RedisServer,
) -> None:
    def burst(count: int) -> list[int]:
        statuses = []
        for index in range(count):
            gateway = instances[index % 2]
            model = "cached" if index % 3 == 0 else "plain"
            body = {"model": model, "messages": [{"role": "user", "content": f"load {index}"}]}
            statuses.append(
                httpx.post(f"{gateway.api_url}/chat/completions", json=body, timeout=10).status_code
            )
        return statuses

    assert all(gateway.metric("raceway_state_backend_up") == 1 for gateway in instances)
    statuses = burst(30)
    redis_server.stop()
    statuses += burst(60)
    # Every worker's cooldown poll has met the dead Redis (the gauge is the minimum over workers).
    assert eventually(lambda: [gateway.metric("raceway_state_backend_up") for gateway in instances] == [0, 0])
    statuses += burst(30)
    redis_server.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(
        g.metric("raceway_state_backend_up") == 1 for g in instances
    ):
        statuses += burst(4)
    assert [gateway.metric("raceway_state_backend_up") for gateway in instances] == [1, 1]
    assert statuses == [200] * len(statuses)
    body = {"model": "cached", "messages": [{"role": "user", "content": "shared again"}]}
    first, second = answer_twice_through_the_shared_cache(instances, redis_server, body)
    assert (first.headers["x-raceway-cache"], second.headers["x-raceway-cache"]) == ("miss", "hit")


def test_a_budget_holds_across_instances_and_keys_spend_reads_redis(
    module_upstream: FakeUpstream, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    key = "rw-budget-over-redis-1"
    config = f"""
    server: {{graceful_timeout: 5s}}
    state: {{backend: redis, url: "${{RACEWAY_REDIS_URL}}", prefix: budget-test, sync_interval: 50ms}}
    deployments:
      - {{name: paid, provider: openai, base_url: "{module_upstream.base_url}", model: paid,
         price: {{input: 0, output: 31250}}}}
    models: [{{name: paid, deployments: [paid]}}]
    keys: [{{name: team, key: "{key}", budget: {{daily: 0.375}}}}]
    """  # 4 completion tokens a request: REQUEST_COST each
    env = {"RACEWAY_REDIS_URL": redis_server.url}
    directories = [tmp_path_factory.mktemp(name) for name in ("budget-a", "budget-b")]
    with ExitStack() as stack:
        gateways = [stack.enter_context(serving(config, d, workers=1, env=env)) for d in directories]
        tiers = []
        for index in range(4):
            answer = httpx.post(
                f"{gateways[index % 2].api_url}/chat/completions",
                json={"model": "paid", "messages": [{"role": "user", "content": "spend"}]},
                headers={"authorization": f"Bearer {key}"},
                timeout=10,
            )
            tiers.append((answer.status_code, answer.headers["x-raceway-budget-tier"]))
            spent = REQUEST_COST * sum(status == 200 for status, _ in tiers)
            # Both instances (one worker each) have read the spend back from Redis since.
            assert eventually(lambda: [spend_of(g, "team") for g in gateways] == [spent, spent])  # noqa: B023
        assert tiers == [(200, "normal")] * 3 + [(429, "exceeded")]
    report = subprocess.run(
        [sys.executable, "-m", "router", "keys", "spend", "-c", str(directories[0] / "gateway.yaml")],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    team = next(line for line in report.splitlines() if line.startswith("team "))
    assert team.split()[1:4] == ["0.375000", "0.375000", "3"] and team.split()[-1] == "exceeded"
