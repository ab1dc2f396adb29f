"""Routing through the real server (2 workers): race, hedge, weights, rules and overrides over sockets."""

from __future__ import annotations

import textwrap
from collections import Counter

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

OPS_KEY = "rw-ops-key-0001"
APP_KEY = "rw-app-key-0002"


def config(upstream: FakeUpstream) -> str:
    entry = "  - {{name: {0}, provider: openai, base_url: '{1}', model: {0}, timeout: 5s}}\n"
    deployments = "".join(
        entry.format(name, upstream.base_url) for name in ("slow", "fast", "primary", "backup")
    )
    return (
        "deployments:\n"
        + deployments
        + textwrap.dedent(
            f"""\
              - {{name: heavy, provider: fake, weight: 3, fake: {{reply: heavy}}}}
              - {{name: light, provider: fake, weight: 1, fake: {{reply: light}}}}
            models:
              - {{name: raced, deployments: [slow, fast], strategy: race}}
              - {{name: hedged, deployments: [primary, backup], strategy: hedge, hedge_delay: 150ms}}
              - {{name: split, deployments: [heavy, light], strategy: weighted}}
              - {{name: premium, deployments: [fast]}}
            routes:
              - {{name: vip, match: {{model: split, tags: [vip]}}, to: premium}}
            keys:
              - {{name: ops, key: "{OPS_KEY}", allow_override: true}}
              - {{name: app, key: "{APP_KEY}"}}
            """
        )
    )


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(config(module_upstream))


def client(gateway: RunningGateway, key: str = APP_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.api_url, api_key=key, max_retries=0, timeout=10)


def ask(gateway: RunningGateway, model: str, key: str = APP_KEY, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{gateway.api_url}/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"authorization": f"Bearer {key}", **headers},
        timeout=10,
    )


def test_race_answers_with_the_faster_and_the_loser_is_disconnected(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("slow", Behaviour(delay=2.0, reply="slow"))
    threaded_upstream.script("fast", Behaviour(delay=0.05, reply="fast"))
    raw = client(gateway).chat.completions.with_raw_response.create(
        model="raced", messages=[{"role": "user", "content": "hi"}]
    )
    assert raw.parse().choices[0].message.content == "fast"
    assert raw.headers["x-raceway-deployment"] == "fast" and raw.headers["x-raceway-attempts"] == "2"
    assert threaded_upstream.wait_for_disconnect("slow")


def test_streaming_race_sends_only_the_winner(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("slow", Behaviour(first_content_delay=2.0, reply="never shown"))
    threaded_upstream.script("fast", Behaviour(delay=0.1, reply="winner speaks"))
    chunks = list(
        client(gateway).chat.completions.create(
            model="raced", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "winner speaks"
    assert threaded_upstream.wait_for_disconnect("slow")


def test_hedge_rescues_a_stalled_call(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    threaded_upstream.script("primary", Behaviour(stall=True))
    response = ask(gateway, "hedged")
    assert response.status_code == 200 and response.headers["x-raceway-deployment"] == "backup"
    assert threaded_upstream.wait_for_disconnect("primary")


def test_weighted_split_over_many_requests(gateway: RunningGateway) -> None:
    body = {"model": "split", "messages": [{"role": "user", "content": "hi"}]}
    with httpx.Client(headers={"authorization": f"Bearer {APP_KEY}"}, timeout=10) as session:
        served = Counter(
            session.post(f"{gateway.api_url}/chat/completions", json=body).headers["x-raceway-deployment"]
            for _ in range(400)
        )
    assert served["heavy"] / 400 == pytest.approx(0.75, abs=0.08)


def test_rule_routes_tagged_requests(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    response = ask(gateway, "split", **{"x-raceway-tags": "vip"})
    assert response.headers["x-raceway-deployment"] == "fast"


def test_override_is_for_allowed_keys_only(gateway: RunningGateway) -> None:
    pinned = ask(gateway, "split", OPS_KEY, **{"x-raceway-deployment": "light"})
    assert pinned.status_code == 200 and pinned.headers["x-raceway-deployment"] == "light"
    refused = ask(gateway, "split", APP_KEY, **{"x-raceway-deployment": "light"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "override_not_allowed"
