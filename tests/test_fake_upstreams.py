"""The fake upstream speaks each wire API well enough for the official SDKs, talked to directly.

Anthropic's SDK reads its Messages answers, OpenAI's its Responses and chat answers; the
raw event streams are checked for the grammar and for the scripted faults, which must
mean the same on every wire.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.upstream import Behaviour, FakeUpstream

TOOLS = (("get_weather", '{"city": "Paris", "unit": "celsius"}'), ("get_time", '{"zone": "CET"}'))
USER: Any = [{"role": "user", "content": "hi"}]  # for either SDK's message type


@pytest.fixture
async def claude(upstream: FakeUpstream) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=upstream.root_url, api_key="k", max_retries=0) as client:
        yield client


@pytest.fixture
async def gpt(upstream: FakeUpstream) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=upstream.base_url, api_key="k", max_retries=0) as client:
        yield client


async def sse(upstream: FakeUpstream, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (event name, data) of a raw stream; data is JSON where it parses."""
    events: list[tuple[str, Any]] = []
    name = ""
    async with (
        httpx.AsyncClient(base_url=upstream.root_url) as client,
        client.stream("POST", path, json={**body, "stream": True}) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = line.removeprefix("data: ")
                events.append((name, data if data == "[DONE]" else json.loads(data)))
                name = ""
    return events


# -- Anthropic Messages ---------------------------------------------------------


async def test_a_message_as_json_with_what_the_request_carried(
    upstream: FakeUpstream, claude: anthropic.AsyncAnthropic
) -> None:
    message = await claude.beta.messages.create(
        model="m", max_tokens=100, messages=USER, betas=["interleaved-thinking-2025-05-14"]
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "hello from upstream"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 4)
    seen = upstream.requests[-1]
    assert message._request_id == seen.request_id
    assert seen.path == "/v1/messages"
    assert seen.body == {"model": "m", "max_tokens": 100, "messages": USER}
    assert seen.headers["x-api-key"] == "k"
    assert seen.headers["anthropic-version"]
    assert seen.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"


async def test_a_message_with_thinking_tool_calls_and_cache(
    upstream: FakeUpstream, claude: anthropic.AsyncAnthropic
) -> None:
    upstream.script("m", Behaviour(reasoning="let me think", tool_calls=TOOLS, cache_read=7, cache_write=3))
    message = await claude.messages.create(model="m", max_tokens=100, messages=USER)
    thinking, text, weather, time = message.content
    assert thinking.type == "thinking" and thinking.thinking == "let me think"
    assert thinking.signature.startswith("sig+")
    assert text.type == "text"
    assert weather.type == "tool_use" and weather.name == "get_weather"
    assert weather.input == {"city": "Paris", "unit": "celsius"}
    assert time.type == "tool_use" and time.input == {"zone": "CET"} and time.id != weather.id
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (5, 7, 3)


async def test_a_message_streamed(upstream: FakeUpstream, claude: anthropic.AsyncAnthropic) -> None:
    upstream.script(
        "m",
        Behaviour(reply="one two three", reasoning="hmm ok", tool_calls=TOOLS, cache_read=7, cache_write=3),
    )
    async with claude.messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        texts = [text async for text in stream.text_stream]
        message = await stream.get_final_message()
    assert texts == ["one", " two", " three"]
    thinking, text, weather, time = message.content
    assert thinking.type == "thinking" and thinking.thinking == "hmm ok"
    assert thinking.signature.startswith("sig+")
    assert text.type == "text" and text.text == "one two three"
    assert weather.type == "tool_use" and weather.input == {"city": "Paris", "unit": "celsius"}
    assert time.type == "tool_use" and time.input == {"zone": "CET"}
    assert message.stop_reason == "tool_use"
    usage = message.usage
    assert (usage.input_tokens, usage.output_tokens) == (5, 4)
    assert (usage.cache_read_input_tokens, usage.cache_creation_input_tokens) == (7, 3)
    assert stream.request_id == upstream.requests[-1].request_id


async def test_the_grammar_of_a_messages_stream(upstream: FakeUpstream) -> None:
    upstream.script("m", Behaviour(reply="a b", tool_calls=TOOLS[:1]))
    events = await sse(upstream, "/v1/messages", {"model": "m", "max_tokens": 100, "messages": USER})
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        *["content_block_delta"] * 4,  # an empty piece first, as Anthropic's; the arguments in pieces
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    assert events[7][1]["delta"] == {"type": "input_json_delta", "partial_json": ""}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


@pytest.mark.parametrize(
    ("status", "error", "raised", "kind"),
    [
        (500, None, anthropic.InternalServerError, "api_error"),
        (529, None, anthropic.OverloadedError, "overloaded_error"),
        (429, {"error": {"message": "slow down", "type": "x"}}, anthropic.RateLimitError, "rate_limit_error"),
        (
            400,
            {"type": "error", "error": {"type": "custom_error", "message": "raw"}},
            anthropic.BadRequestError,
            "custom_error",
        ),
    ],
)
async def test_messages_errors_in_anthropics_shape(
    upstream: FakeUpstream,
    claude: anthropic.AsyncAnthropic,
    status: int,
    error: dict[str, Any] | None,
    raised: type[anthropic.APIStatusError],
    kind: str,
) -> None:
    upstream.script("m", Behaviour(status=status, error=error))
    with pytest.raises(raised) as caught:
        await claude.messages.create(model="m", max_tokens=100, messages=USER)
    assert caught.value.status_code == status
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == kind
    assert caught.value.request_id == upstream.requests[-1].request_id


async def test_a_messages_stream_failing_midway(
    upstream: FakeUpstream, claude: anthropic.AsyncAnthropic
) -> None:
    upstream.script("m", Behaviour(reply="one two three", error_after=1))
    texts: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with claude.messages.stream(model="m", max_tokens=100, messages=USER) as stream:
            async for text in stream.text_stream:
                texts.append(text)
    assert texts == ["one"]
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "api_error", "message": "scripted midway failure"},
    }


async def test_count_tokens(upstream: FakeUpstream, claude: anthropic.AsyncAnthropic) -> None:
    counted = await claude.messages.count_tokens(model="m", messages=USER)
    assert counted.input_tokens == 5
    assert upstream.requests[-1].path == "/v1/messages/count_tokens"


# -- OpenAI Responses -----------------------------------------------------------


async def test_a_response_as_json(upstream: FakeUpstream, gpt: openai.AsyncOpenAI) -> None:
    upstream.script("m", Behaviour(cache_read=7, cache_write=3))
    response = await gpt.responses.create(model="m", input="hi", extra_headers={"x-extra": "1"})
    assert response.output_text == "hello from upstream"
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (15, 4)
    assert response.usage.input_tokens_details.cached_tokens == 7
    seen = upstream.requests[-1]
    assert response._request_id == seen.request_id
    assert (seen.path, seen.body, seen.headers["x-extra"]) == (
        "/v1/responses",
        {"model": "m", "input": "hi"},
        "1",
    )
    assert seen.headers["authorization"] == "Bearer k"


async def test_a_response_with_reasoning_and_tool_calls(
    upstream: FakeUpstream, gpt: openai.AsyncOpenAI
) -> None:
    upstream.script("m", Behaviour(reply="", reasoning="let me think", tool_calls=TOOLS))
    response = await gpt.responses.create(model="m", input="hi")
    reasoning, weather, time = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "let me think"
    assert weather.type == "function_call" and weather.name == "get_weather"
    assert json.loads(weather.arguments) == {"city": "Paris", "unit": "celsius"}
    assert time.type == "function_call" and time.call_id != weather.call_id
    assert response.output_text == ""


async def test_a_response_streamed(upstream: FakeUpstream, gpt: openai.AsyncOpenAI) -> None:
    upstream.script("m", Behaviour(reply="one two three", reasoning="hmm ok", tool_calls=TOOLS, cache_read=7))
    async with gpt.responses.stream(model="m", input="hi") as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        response = await stream.get_final_response()
    assert deltas == ["one", " two", " three"]
    assert [item.type for item in response.output] == [
        "reasoning",
        "message",
        "function_call",
        "function_call",
    ]
    assert response.output_text == "one two three"
    reasoning, _, weather, time = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "hmm ok"
    assert weather.type == "function_call" and json.loads(weather.arguments)["city"] == "Paris"
    assert time.type == "function_call" and time.name == "get_time"
    assert response.usage is not None and response.usage.input_tokens_details.cached_tokens == 7


async def test_the_grammar_of_a_responses_stream(upstream: FakeUpstream) -> None:
    upstream.script("m", Behaviour(reply="a b"))
    events = await sse(upstream, "/v1/responses", {"model": "m", "input": "hi"})
    assert [name for name, _ in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
    assert all(data["type"] == name for name, data in events)
    assert events[-1][1]["response"]["usage"]["total_tokens"] == 9


async def test_responses_errors(upstream: FakeUpstream, gpt: openai.AsyncOpenAI) -> None:
    upstream.script("m", Behaviour(status=500))
    with pytest.raises(openai.InternalServerError) as caught:
        await gpt.responses.create(model="m", input="hi")
    assert caught.value.request_id == upstream.requests[-1].request_id


async def test_a_responses_stream_failing_midway(upstream: FakeUpstream, gpt: openai.AsyncOpenAI) -> None:
    upstream.script("m", Behaviour(reply="one two three", error_after=1))
    async with gpt.responses.stream(model="m", input="hi") as stream:
        events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[-3:] == ["response.output_text.delta", "error", "response.failed"]
    assert kinds.count("response.output_text.delta") == 1
    failed = events[-1]
    assert failed.type == "response.failed" and failed.response.error is not None
    assert failed.response.error.message == "scripted midway failure"


# -- chat completions: the new knobs ----------------------------------------------


async def test_chat_with_reasoning_tool_calls_and_cache(
    upstream: FakeUpstream, gpt: openai.AsyncOpenAI
) -> None:
    upstream.script(
        "m", Behaviour(reply="", reasoning="let me think", tool_calls=TOOLS, cache_read=7, cache_write=3)
    )
    completion = await gpt.chat.completions.create(model="m", messages=USER)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.model_extra == {"reasoning_content": "let me think"}
    calls = choice.message.tool_calls or []
    assert [(call.function.name, call.function.arguments) for call in calls] == list(TOOLS)  # type: ignore[union-attr]
    usage = completion.usage
    assert usage is not None and usage.prompt_tokens == 15
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 7
    assert usage.model_extra == {"cache_creation_input_tokens": 3}


async def test_chat_streamed_tool_calls(upstream: FakeUpstream, gpt: openai.AsyncOpenAI) -> None:
    upstream.script("m", Behaviour(reasoning="hmm ok", tool_calls=TOOLS))
    async with gpt.chat.completions.stream(model="m", messages=USER) as stream:
        reasoning = ""
        async for event in stream:
            if event.type == "chunk" and event.chunk.choices:
                reasoning += (event.chunk.choices[0].delta.model_extra or {}).get("reasoning_content", "")
        completion = await stream.get_final_completion()
    assert reasoning == "hmm ok"
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "hello from upstream"
    calls = choice.message.tool_calls or []
    assert [(call.function.name, call.function.arguments) for call in calls] == list(TOOLS)


# -- the same faults on every wire ------------------------------------------------

WIRES: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": "m", "messages": USER}),
    "messages": ("/v1/messages", {"model": "m", "max_tokens": 100, "messages": USER}),
    "responses": ("/v1/responses", {"model": "m", "input": "hi"}),
}
CONTENT = {"chat": "", "messages": "content_block_delta", "responses": "response.output_text.delta"}
TERMINATOR = {"chat": "[DONE]", "messages": "message_stop", "responses": "response.completed"}


def content_events(wire: str, events: list[tuple[str, Any]]) -> int:
    if wire == "chat":
        choices = [data.get("choices") for _, data in events if isinstance(data, dict)]
        return sum(1 for choice in choices if choice and choice[0]["delta"].get("content"))
    return sum(1 for name, _ in events if name == CONTENT[wire])


def terminated(wire: str, events: list[tuple[str, Any]]) -> bool:
    last_name, last = events[-1]
    return (last if wire == "chat" else last_name) == TERMINATOR[wire]


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stream_ends_without_its_terminator(upstream: FakeUpstream, wire: str) -> None:
    upstream.script("m", Behaviour(reply="one two", end_without_done=True))
    path, body = WIRES[wire]
    events = await sse(upstream, path, body)
    assert content_events(wire, events) == 2 and not terminated(wire, events)
    assert terminated(wire, await sse(upstream, path, body)) is False  # the last behaviour repeats


@pytest.mark.parametrize("wire", WIRES)
async def test_an_error_event_after_some_content(upstream: FakeUpstream, wire: str) -> None:
    upstream.script("m", Behaviour(reply="one two three", error_after=2), Behaviour())
    path, body = WIRES[wire]
    events = await sse(upstream, path, body)
    assert content_events(wire, events) == 2
    errors = [
        data for name, data in events if name == "error" or (isinstance(data, dict) and "error" in data)
    ]
    assert errors
    assert terminated(wire, await sse(upstream, path, body))  # the next behaviour answers whole


@pytest.mark.parametrize("wire", WIRES)
@pytest.mark.parametrize(
    "fault",
    [Behaviour(reply="one two three", cut_after=1), Behaviour(reply="one two three", reset_after=1)],
    ids=["cut", "reset"],
)
async def test_a_stream_broken_after_some_content(
    upstream: FakeUpstream, wire: str, fault: Behaviour
) -> None:
    upstream.script("m", fault)
    path, body = WIRES[wire]
    with pytest.raises(httpx.TransportError):
        await sse(upstream, path, body)


@pytest.mark.parametrize("wire", WIRES)
async def test_a_stalled_answer_is_abandoned(upstream: FakeUpstream, wire: str) -> None:
    upstream.script("m", Behaviour(stall=True))
    path, body = WIRES[wire]
    async with httpx.AsyncClient(base_url=upstream.root_url) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(path, json=body, timeout=httpx.Timeout(5.0, read=0.2))
    await upstream.disconnected("m")


@pytest.mark.parametrize("wire", WIRES)
async def test_headers_and_a_raw_body(upstream: FakeUpstream, wire: str) -> None:
    upstream.script(
        "m",
        Behaviour(headers={"retry-after": "3"}, status=503),
        Behaviour(body=b"<html>bad gateway</html>", status=502, content_type="text/html"),
    )
    path, body = WIRES[wire]
    async with httpx.AsyncClient(base_url=upstream.root_url) as client:
        refused = await client.post(path, json=body)
        raw = await client.post(path, json=body)
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "3")
    assert (
        refused.headers["request-id" if wire == "messages" else "x-request-id"]
        == upstream.requests[0].request_id
    )
    assert (raw.status_code, raw.text) == (502, "<html>bad gateway</html>")
