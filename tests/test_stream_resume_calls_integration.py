"""Streams that survive their upstream, continued after whole tool calls (and legacy completions),
on the real server with the official SDKs.

The script is a text, then two tool calls. A stream cut between the two calls is continued by a
deployment that is sent the text and the first call as its final assistant message (Messages'
``tool_use`` blocks, chat's ``tool_calls``) and answers the second call (``Behaviour.continues``):
the client sees one answer holding the text and both calls, never one call stitched from two. A
cut inside a call's arguments, or inside thinking, ends with the error event and nothing spliced.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.test_stream_resume_integration import SCRIPT, USER, requests_for, resumes
from tests.upstream import Behaviour, FakeUpstream
from tests.upstream_wires import _pieces_of, words

pytestmark = pytest.mark.integration

LOOK = "Let me look."
CALLS = (("get_weather", '{"city": "Paris"}'), ("get_time", '{"zone": "CET"}'))
WEATHER, TIME = ({"city": "Paris"}, {"zone": "CET"})
TOOLS = [
    {"name": name, "description": name, "input_schema": {"type": "object", "properties": {}}}
    for name, _arguments in CALLS
]
CHAT_TOOLS = [
    {"type": "function", "function": {"name": tool["name"], "parameters": tool["input_schema"]}}
    for tool in TOOLS
]


def messages_chunks_to_second_call() -> int:
    """Content chunks of the Messages fake up to the end of the first call's input (it streams
    the input as orjson writes it)."""
    return len(words(LOOK)) + len(_pieces_of(orjson.dumps(WEATHER).decode()))


def chat_chunks_to_second_call() -> int:
    """The chat fake's: its text, the first call's opening chunk, its argument pieces."""
    return len(words(LOOK)) + 1 + len(_pieces_of(CALLS[0][1]))


def gateway_config(upstream: FakeUpstream) -> str:
    base, root = upstream.base_url, upstream.root_url
    never = "cooldown: {failures: 1000}"
    return f"""
    deployments:
      - {{name: cut-chat, provider: openai, base_url: "{base}", model: cut-chat, {never}}}
      - {{name: cut-msgs, provider: anthropic, base_url: "{root}", model: cut-msgs, {never}}}
      - {{name: prefill, provider: anthropic, base_url: "{root}", model: prefill, {never}}}
      - {{name: prefixed, provider: vllm, base_url: "{base}", model: prefixed, continues: prefix, {never}}}
      - {{name: flagged, provider: deepseek, base_url: "{base}", model: flagged, continues: prefix, {never}}}
    models:
      - {{name: msgs-to-prefill, deployments: [cut-msgs, prefill], resume: {{}}}}
      - {{name: chat-to-prefill, deployments: [cut-chat, prefill], resume: {{}}}}
      - {{name: chat-to-prefix, deployments: [cut-chat, flagged, prefixed], resume: {{}}}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway)


@pytest.fixture
def claude(gateway: RunningGateway, sdks: Sdks) -> anthropic.Anthropic:
    return sdks.anthropic(gateway)


def test_a_messages_stream_cut_between_two_tool_calls_continues_after_the_first(
    gateway: RunningGateway, claude: anthropic.Anthropic, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "cut-msgs", Behaviour(reply=LOOK, tool_calls=CALLS, cut_after=messages_chunks_to_second_call())
    )
    threaded_upstream.script("prefill", Behaviour(reply=LOOK, tool_calls=CALLS, continues=True))
    before = resumes(gateway, "msgs-to-prefill", "cut-msgs", "prefill", "spliced")
    starts: list[int] = []
    with claude.messages.stream(
        model="msgs-to-prefill",
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
    ) as events:
        for event in events:
            if event.type == "content_block_start":
                starts.append(event.index)
        message = events.get_final_message()
    assert starts == [0, 1, 2]  # the continuation's call is a block of its own, after the first
    text, weather, time = message.content
    assert text.type == "text" and text.text == LOOK
    assert weather.type == "tool_use" and (weather.name, weather.input) == ("get_weather", WEATHER)
    assert time.type == "tool_use" and (time.name, time.input) == ("get_time", TIME)
    assert weather.id != time.id and message.stop_reason == "tool_use"
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": LOOK},
            {"type": "tool_use", "id": weather.id, "name": "get_weather", "input": WEATHER},
        ],
    }
    assert resumes(gateway, "msgs-to-prefill", "cut-msgs", "prefill", "spliced") == before + 1


def chat_answer(client: openai.OpenAI, model: str) -> Any:
    with client.chat.completions.stream(
        model=model,
        messages=USER,  # type: ignore[arg-type]
        tools=CHAT_TOOLS,  # type: ignore[arg-type]
    ) as events:
        for _event in events:
            pass
        return events.get_final_completion()


@pytest.mark.parametrize("target", ["prefill", "prefixed"])
def test_a_chat_stream_cut_between_two_tool_calls_continues_after_the_first(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream, target: str
) -> None:
    """Continued by an Anthropic prefill (translated back into chat) or by vLLM's prefix; a
    DeepSeek ``prefix: true`` continues text only, so it is not asked."""
    threaded_upstream.script(
        "cut-chat", Behaviour(reply=LOOK, tool_calls=CALLS, cut_after=chat_chunks_to_second_call())
    )
    threaded_upstream.script(target, Behaviour(reply=LOOK, tool_calls=CALLS, continues=True))
    completion = chat_answer(client, "chat-to-prefill" if target == "prefill" else "chat-to-prefix")
    (choice,) = completion.choices
    assert choice.message.content == LOOK and choice.finish_reason == "tool_calls"
    calls = [
        (call.function.name, orjson.loads(call.function.arguments)) for call in choice.message.tool_calls
    ]
    assert calls == [("get_weather", WEATHER), ("get_time", TIME)]
    first_id = choice.message.tool_calls[0].id
    assert first_id != choice.message.tool_calls[1].id
    (continued,) = requests_for(threaded_upstream, target)
    last = continued.body["messages"][-1]
    if target == "prefill":
        assert last["content"] == [
            {"type": "text", "text": LOOK},
            {"type": "tool_use", "id": first_id, "name": "get_weather", "input": WEATHER},
        ]
    else:
        assert last["content"] == LOOK and continued.body["continue_final_message"] is True
        assert [(call["id"], call["function"]["name"]) for call in last["tool_calls"]] == [
            (first_id, "get_weather")
        ]
    assert not requests_for(threaded_upstream, "flagged")


def test_a_messages_stream_cut_inside_a_tool_calls_input_ends_with_the_error_event(
    gateway: RunningGateway, claude: anthropic.Anthropic, threaded_upstream: FakeUpstream
) -> None:
    inside = len(words(LOOK)) + 1  # the first piece of the first call's input
    threaded_upstream.script("cut-msgs", Behaviour(reply=LOOK, tool_calls=CALLS, cut_after=inside))
    threaded_upstream.script("prefill", Behaviour(reply=LOOK, tool_calls=CALLS, continues=True))
    before = resumes(gateway, "msgs-to-prefill", "cut-msgs", "", "refused")
    pieces = ""
    stream = claude.messages.stream(
        model="msgs-to-prefill",
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
        tools=TOOLS,  # type: ignore[arg-type]
    )
    with pytest.raises(anthropic.APIError), stream as events:
        for event in events:
            if event.type == "input_json":
                pieces += event.partial_json
    whole = orjson.dumps(WEATHER).decode()
    assert whole.startswith(pieces) and pieces != whole  # the call's start, never the rest
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "msgs-to-prefill", "cut-msgs", "", "refused") == before + 1


def test_a_messages_stream_cut_inside_thinking_ends_with_the_error_event(
    gateway: RunningGateway, claude: anthropic.Anthropic, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-msgs", Behaviour(reasoning="hmm let me think", reply=SCRIPT, cut_after=2))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    kinds: list[str] = []
    stream = claude.messages.stream(model="msgs-to-prefill", max_tokens=100, messages=USER)  # type: ignore[arg-type]
    with pytest.raises(anthropic.APIError), stream as events:
        for event in events:
            kinds.append(event.type)
    assert "text" not in kinds and "thinking" in kinds  # nothing spliced after the thinking
    assert not requests_for(threaded_upstream, "prefill")


def test_a_completions_stream_cut_midway_is_continued_into_one_text(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    with client.completions.create(model="chat-to-prefill", prompt="count", stream=True) as stream:
        chunks = list(stream)
    assert "".join(choice.text for chunk in chunks for choice in chunk.choices) == SCRIPT
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[-1].choices[0].finish_reason == "stop"
    (continued,) = requests_for(threaded_upstream, "prefill")
    assert continued.body["messages"][-1] == {"role": "assistant", "content": "one two"}
