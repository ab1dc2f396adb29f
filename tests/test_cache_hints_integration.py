"""Prompt-cache hints on every path, through the real 2-worker server, seen where they leave it.

``cache_control`` from a Messages client reaches a native Anthropic deployment untouched and,
through litellm's adapter (the Anthropic API played on 127.0.0.1, so what litellm sends is
recorded), an Anthropic-family deployment on its chat counterparts; ``prompt_cache_key``
reaches an OpenAI-compatible chat upstream, as the Responses client sent it or derived from
a Messages session, and never reaches an Anthropic one.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from router.routing.sessions import session_of
from router.wire.dialect import Dialect
from tests.anthropic_upstream import anthropic_app
from tests.conftest import Gateways, RunningGateway
from tests.servers import serve_in_thread
from tests.upstream import FakeUpstream

pytestmark = pytest.mark.integration

HOUR = {"type": "ephemeral", "ttl": "1h"}
EPHEMERAL = {"type": "ephemeral"}
SYSTEM = [{"type": "text", "text": "rules"}, {"type": "text", "text": "project", "cache_control": HOUR}]
TOOLS = [
    {"name": "read", "description": "reads", "input_schema": {"type": "object"}},
    {
        "name": "write",
        "description": "writes",
        "input_schema": {"type": "object"},
        "cache_control": EPHEMERAL,
    },
]
MESSAGES = [
    {"role": "user", "content": [{"type": "text", "text": "first"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "ok", "cache_control": EPHEMERAL}]},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "intro"},
            {"type": "text", "text": "now", "cache_control": EPHEMERAL},
        ],
    },
]
SESSION = "claude-session-7"


@pytest.fixture(scope="module")
def recorded(gateways: Gateways) -> tuple[str, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    return gateways.enter(serve_in_thread(anthropic_app(seen))), seen


@pytest.fixture(scope="module")
def gateway(
    module_upstream: FakeUpstream, recorded: tuple[str, list[dict[str, Any]]], gateways: Gateways
) -> RunningGateway:
    config = f"""
        deployments:
          - {{name: via-litellm, provider: anthropic, adapter: litellm, model: claude-3-5-haiku-20241022,
             api_key: "${{ANTHROPIC_API_KEY}}", base_url: "{recorded[0]}"}}
          - {{name: native, provider: anthropic, model: native, base_url: "{module_upstream.root_url}"}}
          - {{name: chat-up, provider: openai, model: chat-up, base_url: "{module_upstream.base_url}"}}
        models:
          - {{name: litellm-claude, deployments: [via-litellm]}}
          - {{name: native-claude, deployments: [native]}}
          - {{name: chat, deployments: [chat-up], affinity: {{}}}}
          - {{name: chat-without-affinity, deployments: [chat-up]}}
        """
    return gateways.serve(config, env={"ANTHROPIC_API_KEY": "sk-ant-hints-0000"})


def ask_messages(gateway: RunningGateway, model: str, *, stream: bool = False) -> None:
    with anthropic.Anthropic(
        base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=30
    ) as client:
        kwargs: dict[str, Any] = {
            "model": model,
            "max_tokens": 64,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": MESSAGES,
            "extra_headers": {"x-claude-code-session-id": SESSION},
        }
        if stream:
            with client.messages.stream(**kwargs) as events:
                events.get_final_message()
        else:
            client.messages.create(**kwargs)


@pytest.mark.parametrize("stream", [False, True])
def test_cache_control_reaches_an_anthropic_deployment_through_litellm(
    gateway: RunningGateway, recorded: tuple[str, list[dict[str, Any]]], stream: bool
) -> None:
    seen = recorded[1]
    seen.clear()
    ask_messages(gateway, "litellm-claude", stream=stream)
    body = seen[-1]["body"]
    assert body["system"][-1]["cache_control"] == HOUR  # the system prompt's end, with its ttl
    tools = {tool["name"]: tool for tool in body["tools"]}
    assert tools["write"]["cache_control"] == EPHEMERAL and "cache_control" not in tools["read"]
    assistant = body["messages"][1]
    assert assistant["role"] == "assistant" and assistant["content"][-1]["cache_control"] == EPHEMERAL
    last = body["messages"][2]["content"]
    assert [block.get("cache_control") for block in last] == [None, EPHEMERAL]
    assert "prompt_cache_key" not in body


def test_cache_control_passes_untouched_to_a_native_anthropic_deployment(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    ask_messages(gateway, "native-claude")
    body = threaded_upstream.requests[-1].body
    assert body["system"] == SYSTEM and body["tools"] == TOOLS and body["messages"] == MESSAGES
    assert "prompt_cache_key" not in body


def test_a_messages_session_reaches_a_chat_upstream_as_its_prompt_cache_key(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    ask_messages(gateway, "chat")
    body = threaded_upstream.requests[-1].body
    expected = session_of(Dialect.MESSAGES, {"x-claude-code-session-id": SESSION}, {}, "x-session-id")
    assert expected is not None and body["prompt_cache_key"] == expected.hex
    assert SESSION not in str(body)  # only its hash leaves the gateway
    assert "cache_control" not in str(body)  # a native chat upstream's cache is automatic


@pytest.mark.parametrize("model", ["chat", "chat-without-affinity"])
def test_a_responses_prompt_cache_key_reaches_a_chat_upstream_as_is(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, model: str
) -> None:
    with openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=30) as client:
        client.responses.create(model=model, input="hi", prompt_cache_key="codex-thread-1", store=False)
    assert threaded_upstream.requests[-1].body["prompt_cache_key"] == "codex-thread-1"
