"""Requests that OpenAI's and Anthropic's own specifications call valid reach the upstream: an
object ``arguments`` where the schema has one, an integer written ``2.0``. The application runs
in-process (ASGI) with the official SDKs; the fake upstream listens on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anthropic
import httpx
import openai
import pytest

from router.config.load import parse_config
from router.http.app import create_app
from tests.upstream import FakeUpstream

pytestmark = pytest.mark.integration


@asynccontextmanager
async def gateway(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    config = parse_config(
        f"""
deployments:
  - {{name: chat-up, provider: openai, base_url: "{upstream.base_url}", model: chat-up}}
  - {{name: responses-up, provider: openai, api: responses, base_url: "{upstream.base_url}",
     model: responses-up}}
  - {{name: messages-up, provider: anthropic, base_url: "{upstream.root_url}", model: messages-up}}
models:
  - {{name: chat, deployments: [chat-up]}}
  - {{name: responses, deployments: [responses-up]}}
  - {{name: claude, deployments: [messages-up]}}
""".encode(),
        {},
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture
async def http(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway(upstream) as client:
        yield client


@pytest.fixture
def openai_sdk(http: httpx.AsyncClient) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", max_retries=0, http_client=http)


@pytest.fixture
def anthropic_sdk(http: httpx.AsyncClient) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://gateway", api_key="unused", max_retries=0, http_client=http
    )


TOOL_SEARCH_CALL = {
    "type": "tool_search_call",
    "arguments": {"query": "weather"},  # an object in OpenAI's schema, unlike a function_call's
    "call_id": "call_1",
    "execution": "client",
    "status": "completed",
}


async def test_a_tool_search_call_with_object_arguments_passes_through(
    openai_sdk: openai.AsyncOpenAI, upstream: FakeUpstream
) -> None:
    response = await openai_sdk.responses.create(
        model="responses",
        input=[TOOL_SEARCH_CALL, {"role": "user", "content": "go on"}],  # type: ignore[list-item]
        store=False,
    )
    assert response.status == "completed"
    (seen,) = upstream.requests
    assert seen.body["input"][0] == TOOL_SEARCH_CALL


async def test_a_function_call_still_needs_string_arguments(
    openai_sdk: openai.AsyncOpenAI, upstream: FakeUpstream
) -> None:
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": {"a": 1}}
    with pytest.raises(openai.BadRequestError) as refused:
        await openai_sdk.responses.create(model="responses", input=[call], store=False)  # type: ignore[list-item]
    assert refused.value.body["param"] == "input[0].arguments"  # type: ignore[index]
    assert upstream.requests == []


async def test_a_server_tool_result_with_object_content_passes_through(
    anthropic_sdk: anthropic.AsyncAnthropic, upstream: FakeUpstream
) -> None:
    """Anthropic's own types: a web search result's ``content`` may be an error object."""
    history = [
        {"role": "user", "content": "search"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "q"},
                },
                {
                    "type": "web_search_tool_result",
                    "tool_use_id": "srvtoolu_1",
                    "content": {"type": "web_search_tool_result_error", "error_code": "unavailable"},
                },
            ],
        },
        {"role": "user", "content": "and now?"},
    ]
    message = await anthropic_sdk.messages.create(model="claude", max_tokens=64, messages=history)  # type: ignore[arg-type]
    assert message.stop_reason == "end_turn"
    (seen,) = upstream.requests
    assert seen.body["messages"][1]["content"][1]["content"]["error_code"] == "unavailable"


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 1.0), ("seed", 7.0), ("max_tokens", 64.0), ("top_logprobs", 2.0), ("max_completion_tokens", 64.0)],
)
async def test_a_whole_number_float_counts_as_an_integer(
    http: httpx.AsyncClient, upstream: FakeUpstream, field: str, value: float
) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], field: value}
    if field == "top_logprobs":
        body["logprobs"] = True
    answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    (seen,) = upstream.requests
    assert seen.body[field] == value


async def test_a_whole_number_float_is_an_int_in_a_translation(
    http: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    """A translation (chat -> Messages) sends the integer Anthropic documents."""
    body = {"model": "claude", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100.0, "n": 1.0}
    answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    (seen,) = upstream.requests
    assert seen.body["max_tokens"] == 100 and type(seen.body["max_tokens"]) is int


async def test_a_whole_number_float_dimensions_and_token_ids(
    http: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    body = {"model": "chat", "input": [[1.0, 2.0, 3]], "dimensions": 8.0}
    answer = await http.post("/v1/embeddings", json=body)
    assert answer.status_code == 200, answer.text
    (seen,) = upstream.requests
    assert seen.body["input"] == [[1, 2, 3]] and seen.body["dimensions"] == 8


@pytest.mark.parametrize("value", [2.5, 1e300])
async def test_a_float_that_is_no_integer_is_still_refused(http: httpx.AsyncClient, value: float) -> None:
    body = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": value}
    answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "max_tokens"
