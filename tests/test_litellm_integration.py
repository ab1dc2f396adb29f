"""A litellm-served deployment (Anthropic's wire format) through the real 2-worker server.

The Anthropic API is played by a small aiohttp server on 127.0.0.1; the gateway imports
litellm in its workers only because this config has such a deployment.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.anthropic_upstream import anthropic_app
from tests.conftest import Gateways, RunningGateway
from tests.servers import serve_in_thread

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-integration-0000"


@pytest.fixture(scope="module")
def anthropic(gateways: Gateways) -> tuple[str, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    return gateways.enter(serve_in_thread(anthropic_app(seen))), seen


@pytest.fixture(scope="module")
def gateway(anthropic: tuple[str, list[dict[str, Any]]], gateways: Gateways) -> RunningGateway:
    base_url, _ = anthropic
    config = f"""
        deployments:
          - {{name: claude, provider: anthropic, adapter: litellm, model: claude-3-5-haiku-20241022,
             api_key: "${{ANTHROPIC_API_KEY}}", base_url: "{base_url}"}}
        models:
          - {{name: claude, deployments: [claude]}}
        """
    return gateways.serve(config, env={"ANTHROPIC_API_KEY": API_KEY})


def test_json_and_stream_through_litellm(
    gateway: RunningGateway, anthropic: tuple[str, list[dict[str, Any]]]
) -> None:
    _, seen = anthropic
    client = openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], max_tokens=20
    )
    assert answer.choices[0].message.content == "hello from claude"
    assert answer.usage is not None and answer.usage.total_tokens == 7
    chunks = list(
        client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from claude"
    assert seen[0]["key"] == API_KEY and seen[0]["body"]["model"] == "claude-3-5-haiku-20241022"
    assert all(API_KEY not in line for line in gateway.output)


def test_the_trace_context_reaches_the_provider_and_its_request_id_comes_back(
    gateway: RunningGateway, anthropic: tuple[str, list[dict[str, Any]]]
) -> None:
    _, seen = anthropic
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    client = openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=30)
    for stream in (False, True):
        raw = client.chat.completions.with_raw_response.create(
            model="claude",
            messages=[{"role": "user", "content": "hi"}],
            stream=stream,
            extra_headers={"traceparent": traceparent, "x-not-forwarded": "1"},
        )
        if stream:
            assert list(raw.parse())
        assert seen[-1]["headers"].get("traceparent") == traceparent
        assert "x-not-forwarded" not in {name.lower() for name in seen[-1]["headers"]}
        assert raw.headers["x-raceway-upstream-request-id"] == seen[-1]["request_id"]
