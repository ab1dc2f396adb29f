"""Claude Code's request, through a chat upstream, arrives as the target model accepts it: the
application in-process (ASGI) with the official anthropic and openai SDKs, the fake upstream
on 127.0.0.1 recording what it was sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx
import openai
import pytest

from router.config.load import parse_config
from router.http.app import create_app
from tests.test_translate_targets import CLAUDE_CODE
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


@pytest.fixture
async def http(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    # gpt-4o: the table knows it (16,384 output tokens, no reasoning); claude-haiku-4-5 likewise
    # (64,000, reasoning); the last two say it themselves.
    config = parse_config(
        f"""
deployments:
  - {{name: small, provider: openai, base_url: "{upstream.base_url}", model: gpt-4o}}
  - {{name: local, provider: vllm, base_url: "{upstream.base_url}", model: coder,
     max_output_tokens: 8000, reasoning: true}}
  - {{name: claude, provider: anthropic, base_url: "{upstream.root_url}", model: claude-haiku-4-5,
     max_output_tokens: 20000}}
models:
  - {{name: small, deployments: [small]}}
  - {{name: local, deployments: [local]}}
  - {{name: claude, deployments: [claude]}}
""".encode(),
        {},
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


@pytest.fixture
def claude_code(http: httpx.AsyncClient) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url="http://gateway", api_key="unused", max_retries=0, http_client=http
    )


async def stream_text(client: anthropic.AsyncAnthropic, model: str) -> str:
    request = {**CLAUDE_CODE, "model": model}
    del request["stream"]
    async with client.messages.stream(**request) as stream:  # type: ignore[arg-type]
        return "".join([text async for text in stream.text_stream])


async def test_a_small_chat_model_gets_its_limit_no_reasoning_and_a_short_user(
    claude_code: anthropic.AsyncAnthropic, upstream: FakeUpstream
) -> None:
    upstream.script("gpt-4o", Behaviour(reply="a.py"))
    assert await stream_text(claude_code, "small") == "a.py"
    (seen,) = upstream.requests
    assert seen.body["max_tokens"] == 16384
    assert "reasoning_effort" not in seen.body
    assert len(seen.body["user"]) == 64
    assistant = seen.body["messages"][1]
    assert assistant["tool_calls"][0]["id"] == "toolu_1"
    assert "thinking_blocks" not in assistant and "reasoning_content" not in assistant


async def test_a_deployment_that_says_it_reasons_gets_the_reasoning_within_its_limit(
    claude_code: anthropic.AsyncAnthropic, upstream: FakeUpstream
) -> None:
    upstream.script("coder", Behaviour(reply="a.py"))
    assert await stream_text(claude_code, "local") == "a.py"
    (seen,) = upstream.requests
    assert seen.body["max_tokens"] == 8000 and seen.body["reasoning_effort"] == "high"
    assert seen.body["messages"][1]["thinking_blocks"][0]["signature"] == "sig-1"


async def test_a_chat_client_on_a_messages_model_gets_a_budget_that_fits(
    http: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    upstream.script("claude-haiku-4-5", Behaviour(reply="done"))
    sdk = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", max_retries=0, http_client=http)
    answer = await sdk.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "think hard"}],
        max_completion_tokens=100_000,
        reasoning_effort="high",
        user="u" * 300,
    )
    assert answer.choices[0].message.content == "done"
    (seen,) = upstream.requests
    assert seen.body["max_tokens"] == 20000
    assert seen.body["thinking"] == {"type": "enabled", "budget_tokens": 10000}
    assert len(seen.body["metadata"]["user_id"]) == 64  # over Anthropic's 256: hashed


async def test_a_request_in_the_deployments_own_dialect_goes_as_the_client_wrote_it(
    http: httpx.AsyncClient, upstream: FakeUpstream
) -> None:
    upstream.script("gpt-4o", Behaviour(reply="ok"))
    body = {
        "model": "small",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 50_000,
        "user": "u" * 80,
    }
    answer = await http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    (seen,) = upstream.requests
    assert seen.body["max_tokens"] == 50_000 and seen.body["user"] == "u" * 80
