"""What crosses wires outside the matrix: prompt-cache prices, a race, count_tokens, the cache's replays."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import anthropic
import openai
import pytest

from tests.conformance.matrix import DIALECTS
from tests.dialect_clients import (
    TOOLS,
    ChatClient,
    Client,
)
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


PRICED_COST = (5 * 1000 + 1000 * 100 + 200 * 1250 + 4 * 2000) / 1e6
FLAT_COST = ((5 + 1000 + 200) * 1000 + 4 * 2000) / 1e6  # the same usage without cache prices
# Gemini's usage has no cache writes: a Gemini client's are priced as input (docs/gemini.md).
GEMINI_PRICED_COST = ((5 + 200) * 1000 + 1000 * 100 + 4 * 2000) / 1e6


@pytest.mark.parametrize("client", DIALECTS)
async def test_prompt_cache_tokens_cost_their_own_price_whatever_the_clients_dialect(
    client: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    for model in ("priced", "priced-flat"):
        threaded_upstream.script(model, Behaviour(cache_read=1000, cache_write=200))
    priced = await dialects[client].cost("priced")
    flat = await dialects[client].cost("priced-flat")
    expected = GEMINI_PRICED_COST if client == "gemini" else PRICED_COST
    assert priced == pytest.approx(expected) and flat == pytest.approx(FLAT_COST)
    assert 0 < priced < flat


async def test_a_streaming_race_across_wires_answers_from_the_fast_deployment(
    gpt: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    """A Responses client; a chat deployment that never answers and a Messages one that
    answers once both calls are out: the Messages stream wins, the chat call is abandoned."""
    threaded_upstream.script("race-slow", Behaviour(stall=True))
    threaded_upstream.script("race-fast", Behaviour(reply="fast wins", after="race-slow"))
    texts: list[str] = []
    async with gpt.responses.with_streaming_response.create(model="raced", input="go", stream=True) as raw:
        assert raw.headers["x-raceway-deployment"] == "race-fast"
        async for event in await raw.parse():
            if event.type == "response.output_text.delta":
                texts.append(event.delta)
            final = event
    assert "".join(texts) == "fast wins"
    assert final.type == "response.completed" and final.response.output_text == "fast wins"
    assert await asyncio.to_thread(threaded_upstream.wait_for_disconnect, "race-slow")
    assert threaded_upstream.disconnects == ["race-slow"]


async def test_count_tokens_is_asked_of_a_messages_deployment_and_estimated_for_a_chat_one(
    claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    user: Any = [{"role": "user", "content": "x" * 400}]
    forwarded = await claude.messages.count_tokens(model="via-messages", messages=user)
    assert forwarded.input_tokens == 5  # what the scripted upstream counts
    (seen,) = threaded_upstream.requests
    assert seen.path == "/v1/messages/count_tokens" and seen.model == "up-messages"
    assert seen.body["messages"] == user

    estimated = await claude.messages.count_tokens(model="via-chat", messages=user)
    assert 90 <= estimated.input_tokens <= 110  # about four characters a token
    assert len(threaded_upstream.requests) == 1  # nothing asked of the chat upstream


CACHED_MESSAGES = [
    pytest.param(
        Behaviour(reasoning="think first", reply="cached words", tool_calls=TOOLS),
        ["thinking", "text", "tool_use", "tool_use"],
        ("tool_use", None),
        id="thinking-text-tools",
    ),
    pytest.param(
        Behaviour(reply="counting one two", stop_sequence="THREE"),
        ["text"],
        ("stop_sequence", "THREE"),
        id="stop-sequence",
    ),
]


@pytest.mark.parametrize(("behaviour", "blocks", "stop"), CACHED_MESSAGES)
async def test_a_repeated_message_is_replayed_from_the_cache_as_json_and_as_a_stream(
    claude: anthropic.AsyncAnthropic,
    threaded_upstream: FakeUpstream,
    behaviour: Behaviour,
    blocks: list[str],
    stop: tuple[str, str | None],
) -> None:
    """Exactly, whichever way the answer came first: a Messages stream is replayed and
    assembled in Messages' own grammar (chat cannot say which stop sequence ended it)."""
    threaded_upstream.script("up-messages", behaviour)
    for first_streamed in (False, True):
        request: Any = {
            "model": "cached",
            "max_tokens": 100,
            "temperature": 0,
            "stop_sequences": ["THREE"],
            "system": f"{blocks} first streamed: {first_streamed}",  # a cache entry of its own
            "messages": [{"role": "user", "content": "hi"}],
        }
        answers: list[tuple[str, dict[str, Any]]] = []
        for stream in (first_streamed, False, True):
            if stream:
                async with claude.messages.stream(**request) as events:
                    streamed = await events.get_final_message()
                    answers.append(
                        (events.response.headers["x-raceway-cache"], streamed.to_dict(exclude_none=True))
                    )
            else:
                raw = await claude.messages.with_raw_response.create(**request)
                answers.append((raw.headers["x-raceway-cache"], raw.parse().to_dict(exclude_none=True)))
        assert [status for status, _ in answers] == ["miss", "hit", "hit"]
        first = answers[0][1]
        assert [block["type"] for block in first["content"]] == blocks
        assert (first["stop_reason"], first.get("stop_sequence")) == stop
        if behaviour.reasoning:
            assert first["content"][0]["thinking"] == "think first"
            assert first["content"][0]["signature"].startswith("sig+")
        for _, replayed in answers[1:]:
            assert replayed == first
    assert threaded_upstream.calls("up-messages") == 2


async def test_a_chat_answer_from_a_messages_deployment_holds_what_chat_requires_also_from_the_cache(
    gpt: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    """``message.refusal`` and ``choices[].logprobs`` (both null), and JSON arguments for a tool
    called without any: in the translated answer, and in the one the cache assembled from the
    translated stream."""
    threaded_upstream.script("up-messages", Behaviour(reply="pinging", tool_calls=(("get_time", "{}"),)))
    for first_streamed in (False, True):
        request: Any = {
            "model": "cached",
            "temperature": 0,
            "tools": ChatClient.tools,
            "messages": [
                {"role": "system", "content": f"first streamed: {first_streamed}"},
                {"role": "user", "content": "hi"},
            ],
        }
        answers: list[dict[str, Any]] = []
        if first_streamed:
            async with gpt.chat.completions.stream(**request) as events:
                streamed = await events.get_final_completion()
            assert streamed.choices[0].message.tool_calls[0].function.arguments == "{}"  # type: ignore[index]
        for _ in range(1 if first_streamed else 2):
            raw = await gpt.chat.completions.with_raw_response.create(**request)
            answers.append(json.loads(raw.content))
        for answer in answers:
            (choice,) = answer["choices"]
            message = choice["message"]
            assert "logprobs" in choice and choice["logprobs"] is None
            assert "refusal" in message and message["refusal"] is None
            assert (message["content"], choice["finish_reason"]) == ("pinging", "tool_calls")
            assert [call["function"] for call in message["tool_calls"]] == [
                {"name": "get_time", "arguments": "{}"}
            ]
    assert threaded_upstream.calls("up-messages") == 2
