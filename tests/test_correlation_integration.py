"""Tying a Raceway request to its upstream calls, through the real server and the openai SDK:
the client's trace context goes upstream, the upstream's request id comes back (header and
access log), and so do its rate-limit headers when the server relays them."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

TRACE = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "rojo=00f067aa0ba902b7",
}
LIMITS = {"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "59"}
UPSTREAM_ID = "x-raceway-upstream-request-id"


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    native = f'provider: openai, base_url: "{module_upstream.base_url}", timeout: 5s'
    config = f"""
    server: {{graceful_timeout: 5s, relay_ratelimit_headers: true}}
    deployments:
      - {{name: one, {native}, model: one, cooldown: {{failures: 1000}}}}
      - {{name: two, {native}, model: two, cooldown: {{failures: 1000}}}}
    models:
      - {{name: chat, deployments: [one, two]}}
    """
    return gateways.serve(config, workers=1)


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway)


def access_line(gateway: RunningGateway, request_id: str) -> dict[str, Any]:
    """The access-log line of ``request_id`` (written as the request ends; read by a pump thread)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for line in list(gateway.output):
            if line.startswith('{"ts"') and (entry := json.loads(line))["request_id"] == request_id:
                return dict(entry)
        time.sleep(0.02)
    raise AssertionError(f"no access-log line for {request_id}")


MESSAGES: Any = [{"role": "user", "content": "who served me?"}]


@pytest.mark.parametrize("stream", [False, True])
def test_the_trace_goes_upstream_and_the_upstreams_ids_come_back(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream, stream: bool
) -> None:
    threaded_upstream.script("one", Behaviour(headers=LIMITS))
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=MESSAGES, stream=stream, extra_headers={**TRACE, "x-raceway-x": "no"}
    )
    if stream:
        assert list(raw.parse())
    (seen,) = threaded_upstream.requests
    assert {name: seen.headers.get(name) for name in TRACE} == TRACE
    assert "x-raceway-x" not in {name.lower() for name in seen.headers}  # nothing else passes
    assert raw.headers[UPSTREAM_ID] == seen.request_id
    assert {name: raw.headers.get(name) for name in LIMITS} == LIMITS
    assert access_line(gateway, raw.headers["x-request-id"])["upstream_request_id"] == seen.request_id


def test_a_malformed_trace_context_is_not_passed_on(
    client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    client.chat.completions.create(
        model="chat", messages=MESSAGES, extra_headers={"traceparent": "00-nonsense", "tracestate": "a=b"}
    )
    (seen,) = threaded_upstream.requests
    assert not {"traceparent", "tracestate"} & {name.lower() for name in seen.headers}


def test_a_failed_request_names_every_upstream_call(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("one", Behaviour(status=500))
    threaded_upstream.script("two", Behaviour(status=503, headers=LIMITS))
    response = httpx.post(
        f"{gateway.api_url}/chat/completions", json={"model": "chat", "messages": MESSAGES}, timeout=10
    )
    assert response.status_code == 502
    ids = ", ".join(seen.request_id for seen in threaded_upstream.requests)
    assert response.headers[UPSTREAM_ID] == ids
    assert "x-ratelimit-remaining-requests" not in response.headers  # only a serving upstream's
    assert access_line(gateway, response.headers["x-request-id"])["upstream_request_id"] == ids
