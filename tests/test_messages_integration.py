"""Anthropic's Messages API through Raceway, with the official SDKs over real sockets: answers,
streams, errors and token counts in Anthropic's shapes, whatever the deployment speaks — a
chat-completions upstream (the request and answer are translated) or Anthropic's own API
(passed through) — and chat clients served by an Anthropic deployment."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.anthropic_upstream import anthropic_app
from tests.conftest import Gateways, RunningGateway
from tests.oracles import Shape, violations
from tests.sdks import Sdks
from tests.servers import serve_in_thread
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

KEY = "sk-raceway-messages-test-key"


UPSTREAM_KEY = "sk-ant-upstream-secret-key"


@pytest.fixture(scope="module")
def anthropic_seen(gateways: Gateways) -> tuple[str, list[dict[str, Any]]]:
    """A fake Anthropic API: its root URL, and what it received."""
    seen: list[dict[str, Any]] = []
    return gateways.enter(serve_in_thread(anthropic_app(seen))), seen


@pytest.fixture(scope="module")
def gateway(
    module_upstream: FakeUpstream, anthropic_seen: tuple[str, list[dict[str, Any]]], gateways: Gateways
) -> RunningGateway:
    config = f"""
    deployments:
      - {{name: claude-native, provider: anthropic, base_url: "{anthropic_seen[0]}",
         model: claude-upstream, api_key: "${{UPSTREAM_KEY}}"}}
      - {{name: chat-up, provider: openai, base_url: "{module_upstream.base_url}", model: chat-up,
         cooldown: {{failures: 1000}}}}
      - {{name: chat-down, provider: openai, base_url: "{module_upstream.base_url}", model: chat-down,
         cooldown: {{failures: 1000}}}}
    models:
      - {{name: claude-via-chat, deployments: [chat-up]}}
      - {{name: claude-fallback, deployments: [chat-down, chat-up]}}
      - {{name: claude-sonnet-4-5, deployments: [claude-native]}}
    keys:
      - {{name: team, key: "{KEY}"}}
    """
    return gateways.serve(config, workers=1, env={"UPSTREAM_KEY": UPSTREAM_KEY})


@pytest.fixture
def seen(anthropic_seen: tuple[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    anthropic_seen[1].clear()
    return anthropic_seen[1]


@pytest.fixture
def client(gateway: RunningGateway, threaded_upstream: FakeUpstream, sdks: Sdks) -> anthropic.AsyncAnthropic:
    return sdks.async_anthropic(gateway, key=KEY)


async def test_a_message_is_answered_from_a_chat_upstream(
    client: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="hello from upstream"))
    message = await client.messages.create(
        model="claude-via-chat",
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hi"}],
    )
    assert message.content[0].type == "text" and message.content[0].text == "hello from upstream"
    assert message.role == "assistant" and message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0
    (seen,) = threaded_upstream.requests
    assert seen.body["messages"][0] == {"role": "system", "content": "be brief"}
    assert seen.body["max_tokens"] == 100


async def test_a_streamed_message_accumulates_to_the_same_message(
    client: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="one two three"))
    request = {
        "model": "claude-via-chat",
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "count"}],
    }
    async with client.messages.stream(**request) as stream:  # type: ignore[arg-type]
        texts = [text async for text in stream.text_stream]
        streamed = await stream.get_final_message()
    whole = await client.messages.create(**request)  # type: ignore[call-overload]
    assert "".join(texts) == "one two three"
    assert [block.to_dict() for block in streamed.content] == [block.to_dict() for block in whole.content]
    assert streamed.stop_reason == whole.stop_reason == "end_turn"
    assert streamed.usage.output_tokens == whole.usage.output_tokens


async def test_a_failing_deployment_falls_back_in_the_messages_dialect(
    client: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-down", Behaviour(status=503))
    message = await client.messages.create(
        model="claude-fallback", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].type == "text"
    assert threaded_upstream.calls("chat-down") == 1 and threaded_upstream.calls("chat-up") == 1


async def test_errors_come_in_anthropics_shape_and_classes(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.create(
            model="nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "the model 'nope' does not exist"},
    }
    with pytest.raises(anthropic.BadRequestError) as invalid:
        await client.messages.create(model="claude-via-chat", max_tokens=10, messages=[])  # type: ignore[arg-type]
    assert invalid.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
    async with anthropic.AsyncAnthropic(base_url=client.base_url, api_key="wrong", max_retries=0) as stranger:
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await stranger.messages.create(
                model="claude-via-chat", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    assert refused.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]


def test_a_missing_max_tokens_is_refused_as_anthropic_would(gateway: RunningGateway) -> None:
    answer = httpx.post(
        f"{gateway.base_url}/v1/messages",
        headers={"x-api-key": KEY},
        json={"model": "claude-via-chat", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "'max_tokens' is required"},
    }


def test_an_unknown_route_under_messages_answers_in_anthropics_shape(gateway: RunningGateway) -> None:
    answer = httpx.get(f"{gateway.base_url}/v1/messages", headers={"x-api-key": KEY})
    assert answer.status_code == 405 and answer.json()["type"] == "error"


async def test_tokens_are_estimated_when_no_deployment_speaks_messages(
    client: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    counted = await client.messages.count_tokens(
        model="claude-via-chat", messages=[{"role": "user", "content": "x" * 400}]
    )
    assert counted.input_tokens == 100
    assert threaded_upstream.requests == []


async def test_a_message_to_an_anthropic_deployment_passes_through_with_only_the_model_rewritten(
    client: anthropic.AsyncAnthropic, seen: list[dict[str, Any]]
) -> None:
    request: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": "u-1"},
    }
    beta = {"context_management": {"edits": []}}  # beside the SDK's own parameters, as Claude Code sends it
    message = await client.messages.create(
        **request, extra_body=beta, extra_headers={"anthropic-beta": "context-management-2025-06-27"}
    )
    assert message.content[0].type == "text" and message.content[0].text == "hello from claude"
    (call,) = seen
    assert call["body"] == {**request, **beta, "model": "claude-upstream"}
    assert call["key"] == UPSTREAM_KEY  # the deployment's key, never the client's
    assert call["headers"]["anthropic-version"] == "2023-06-01"
    assert call["headers"]["anthropic-beta"] == "context-management-2025-06-27"


async def test_an_anthropic_stream_is_relayed_event_by_event(
    gateway: RunningGateway, seen: list[dict[str, Any]]
) -> None:
    from tests.anthropic_upstream import message_stream

    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 8,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{gateway.base_url}/v1/messages", json=body, headers={"x-api-key": KEY})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
    expected = message_stream(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-upstream",
            "content": [{"type": "text", "text": "hello from claude"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 4, "output_tokens": 3},
        },
        ("hello", " from", " claude"),
    )
    assert answer.content == expected


async def test_a_chat_client_is_served_by_an_anthropic_deployment(
    gateway: RunningGateway, seen: list[dict[str, Any]]
) -> None:
    async with openai.AsyncOpenAI(base_url=gateway.api_url, api_key=KEY, max_retries=0) as chat:
        completion = await chat.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            max_tokens=30,
        )
        assert completion.choices[0].message.content == "hello from claude"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None and completion.usage.prompt_tokens == 4
        (call,) = seen
        assert call["body"]["system"] == "be brief" and call["body"]["max_tokens"] == 30
        with pytest.raises(openai.BadRequestError) as refused:
            await chat.chat.completions.create(
                model="claude-sonnet-4-5", messages=[{"role": "user", "content": "hi"}], n=2
            )
    assert refused.value.param == "n"
    assert len(seen) == 1  # the refused request never went upstream


async def test_a_coding_agents_two_megabyte_request_fits_the_default_body_limit(
    client: anthropic.AsyncAnthropic, seen: list[dict[str, Any]]
) -> None:
    """Claude Code sends 0.2-2 MB: long contexts, dozens of tools."""
    history = [
        {"role": role, "content": f"turn {index}: " + "context " * 12_500}
        for index, role in enumerate(["user", "assistant"] * 10 + ["user"])
    ]
    message = await client.messages.create(model="claude-sonnet-4-5", max_tokens=10, messages=history)  # type: ignore[arg-type]
    assert message.content[0].type == "text"
    (call,) = seen
    assert call["body"]["messages"] == history


async def test_a_client_that_leaves_midstream_closes_the_translated_upstream_stream(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="a b c d e f g h", chunk_delay=1.0))
    body = {
        "model": "claude-via-chat",
        "max_tokens": 50,
        "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    }
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream(
            "POST", f"{gateway.base_url}/v1/messages", json=body, headers={"x-api-key": KEY}
        ) as answer,
    ):
        async for line in answer.aiter_lines():
            if line.startswith("event: content_block_delta"):
                break  # content arrived: leave
    assert await asyncio.to_thread(threaded_upstream.wait_for_disconnect, "chat-up")


async def test_only_a_messages_client_sets_the_anthropic_headers_upstream(
    gateway: RunningGateway, seen: list[dict[str, Any]]
) -> None:
    """A chat client's anthropic-beta would describe shapes its translation does not speak."""
    async with openai.AsyncOpenAI(base_url=gateway.api_url, api_key=KEY, max_retries=0) as chat:
        await chat.chat.completions.create(
            model="claude-sonnet-4-5",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"anthropic-beta": "some-beta-2099", "anthropic-version": "2099-01-01"},
        )
    (call,) = seen
    assert call["headers"]["anthropic-version"] == "2023-06-01"
    assert "anthropic-beta" not in call["headers"]


# What the anthropic SDK's request types allow (MessageParam, its content blocks), which
# Raceway used to refuse: a system message among the messages, a search result (its `source` a
# string), the result blocks of server tools (their `content` an object).
SEARCH_RESULT = {
    "type": "search_result",
    "source": "https://example.com/tides",
    "title": "Tides",
    "content": [{"type": "text", "text": "High tide at 6."}],
    "citations": {"enabled": True},
}
SDK_VALID_HISTORY: list[dict[str, Any]] = [
    {
        "role": "user",
        "content": [SEARCH_RESULT, {"type": "text", "text": "When is high tide? Then compute 2+2."}],
    },
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "At 6."},
            {
                "type": "server_tool_use",
                "id": "srvtoolu_1",
                "name": "code_execution",
                "input": {"code": "2+2"},
            },
            {
                "type": "code_execution_tool_result",
                "tool_use_id": "srvtoolu_1",
                "content": {
                    "type": "code_execution_result",
                    "stdout": "4",
                    "stderr": "",
                    "return_code": 0,
                    "content": [],
                },
            },
            {
                "type": "server_tool_use",
                "id": "srvtoolu_2",
                "name": "text_editor_code_execution",
                "input": {"command": "view", "path": "a.py"},
            },
            {
                "type": "text_editor_code_execution_tool_result",
                "tool_use_id": "srvtoolu_2",
                "content": {
                    "type": "text_editor_code_execution_view_result",
                    "content": "x = 1",
                    "file_type": "text",
                },
            },
            {"type": "text", "text": " And 4."},
        ],
    },
    {"role": "system", "content": "Answer in French from now on."},
    {"role": "user", "content": "Merci. Et demain ?"},
]


async def test_what_the_sdks_types_allow_passes_through_untouched(
    client: anthropic.AsyncAnthropic, seen: list[dict[str, Any]]
) -> None:
    request = {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": SDK_VALID_HISTORY}
    assert violations(Shape.MESSAGES_REQUEST, request) == []  # valid by the SDK's own types
    message = await client.messages.create(**request)  # type: ignore[call-overload]
    assert message.content[0].type == "text"
    (call,) = seen
    assert call["body"] == {**request, "model": "claude-upstream"}


async def test_towards_chat_a_system_message_stays_in_place_and_server_tool_blocks_drop(
    client: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    message = await client.messages.create(
        model="claude-via-chat",
        max_tokens=64,
        messages=SDK_VALID_HISTORY,  # type: ignore[arg-type]
    )
    assert message.content[0].type == "text"
    (sent,) = threaded_upstream.requests
    assert sent.body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Tides\nhttps://example.com/tides\n\nHigh tide at 6."},
                {"type": "text", "text": "When is high tide? Then compute 2+2."},
            ],
        },
        {"role": "assistant", "content": "At 6. And 4."},
        {"role": "system", "content": "Answer in French from now on."},
        {"role": "user", "content": "Merci. Et demain ?"},
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/completions", {"prompt": ""}),
        ("/v1/responses", {"input": "", "store": False}),
        ("/v1/responses", {"input": [], "instructions": "be brief", "store": False}),
    ],
    ids=["empty prompt", "empty input", "instructions only"],
)
def test_an_empty_prompt_for_anthropic_is_refused_as_nothing_to_send(
    gateway: RunningGateway, seen: list[dict[str, Any]], path: str, body: dict[str, Any]
) -> None:
    """Valid by OpenAI's specification, but Anthropic refuses a request without a turn."""
    answer = httpx.post(
        f"{gateway.api_url}{path.removeprefix('/v1')}",
        json={"model": "claude-sonnet-4-5", **body},
        headers={"authorization": f"Bearer {KEY}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == "messages"
    assert "nothing to send" in error["message"]
    assert seen == []  # refused before any call
