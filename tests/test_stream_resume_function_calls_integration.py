"""Responses and Gemini streams that survive their upstream after whole function calls, on the
real server (one worker) with the official SDKs, every event checked against the schemas the
conformance tests use.

The script is a text, then two function calls (``tests.test_stream_resume_calls_integration``).
A stream cut between the two calls is continued by a deployment that is sent the text and the
first call as its final assistant message and answers the second: the client sees one answer
holding the text and both calls, its items numbered as an unbroken stream numbers them, one
terminal event. A cut inside a call's arguments ends with the error event, nothing spliced.
"""

from __future__ import annotations

from typing import Any

import httpx
import openai
import orjson
import pytest
from google import genai
from google.genai import types

from tests.conftest import Gateways, RunningGateway
from tests.oracles import DIALECTS, Shape, violations
from tests.sdks import Sdks
from tests.test_stream_resume_calls_integration import CALLS, LOOK, TIME, WEATHER, chat_chunks_to_second_call
from tests.test_stream_resume_integration import USER, requests_for, resumes
from tests.upstream import Behaviour, FakeUpstream
from tests.upstream_wires import PROMPT_TOKENS, _pieces_of, words

pytestmark = pytest.mark.integration

RESPONSES_TOOLS: Any = [
    {"type": "function", "name": name, "parameters": {"type": "object", "properties": {}}}
    for name, _arguments in CALLS
]
GEMINI_TOOLS = [
    types.Tool(
        function_declarations=[
            types.FunctionDeclaration(name=name, parameters_json_schema={"type": "object"})
            for name, _ in CALLS
        ]
    )
]
# Content chunks each fake sends up to the end of the first call: the Responses fake streams the
# call's arguments in pieces; the Gemini fake sends a call whole, in a chunk of its own.
TO_SECOND_CALL = {
    "cut-chat": chat_chunks_to_second_call(),
    "cut-resp": len(words(LOOK)) + len(_pieces_of(CALLS[0][1])),
}
GEMINI_TO_SECOND_CALL = len(words(LOOK)) + 1


def gateway_config(upstream: FakeUpstream) -> str:
    base, root = upstream.base_url, upstream.root_url
    never = "cooldown: {failures: 1000}"
    return f"""
    deployments:
      - {{name: cut-chat, provider: openai, base_url: "{base}", model: cut-chat, {never}}}
      - {{name: cut-resp, provider: openai, api: responses, base_url: "{base}", model: cut-resp, {never}}}
      - {{name: cut-gemini, provider: gemini, base_url: "{root}", model: cut-gemini, {never}}}
      - {{name: prefill, provider: anthropic, base_url: "{root}", model: prefill, {never}}}
    models:
      - {{name: cut-chat, deployments: [cut-chat, prefill], resume: {{}}}}
      - {{name: cut-resp, deployments: [cut-resp, prefill], resume: {{}}}}
      - {{name: cut-gemini, deployments: [cut-gemini, prefill], resume: {{}}}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway)


def cut_between_the_calls(upstream: FakeUpstream, cut: str, chunks: int) -> None:
    upstream.script(cut, Behaviour(reply=LOOK, tool_calls=CALLS, cut_after=chunks))
    upstream.script("prefill", Behaviour(reply=LOOK, tool_calls=CALLS, continues=True))


def continued_with_the_first_call(upstream: FakeUpstream, call_id: str) -> None:
    """The continuation was sent the text and the first call, whole, as the assistant's."""
    (continued,) = requests_for(upstream, "prefill")
    assert continued.body["messages"][-1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": LOOK},
            {"type": "tool_use", "id": call_id, "name": "get_weather", "input": WEATHER},
        ],
    }


def raw_events(response: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")]


@pytest.mark.parametrize("cut", ["cut-chat", "cut-resp"])
def test_a_responses_stream_cut_between_two_function_calls_continues_after_the_first(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream, cut: str
) -> None:
    """Cut from a chat upstream (translated: the first call's item still open) or a Responses one."""
    cut_between_the_calls(threaded_upstream, cut, TO_SECOND_CALL[cut])
    before = resumes(gateway, cut, cut, "prefill", "spliced")
    numbers: list[int] = []
    added: list[tuple[int, str, str]] = []
    done: list[tuple[int, str]] = []
    with client.responses.stream(model=cut, input=USER, tools=RESPONSES_TOOLS) as events:  # type: ignore[arg-type]
        for event in events:
            numbers.append(event.sequence_number)
            if event.type == "response.output_item.added":
                added.append((event.output_index, event.item.type, event.item.id or ""))
            elif event.type == "response.output_item.done":
                done.append((event.output_index, event.item.id or ""))
        response = events.get_final_response()
    assert numbers == list(range(len(numbers)))
    assert [(index, kind) for index, kind, _id in added] == [
        (0, "message"),
        (1, "function_call"),
        (2, "function_call"),
    ]
    assert done == [(index, item_id) for index, _kind, item_id in added]  # each item closed once, in order
    assert len({item_id for _index, _kind, item_id in added}) == 3
    assert response.status == "completed" and response.output_text == LOOK
    _message, weather, time = response.output
    assert [item.id for item in response.output] == [item_id for _index, _kind, item_id in added]
    assert weather.type == "function_call" and time.type == "function_call"
    assert (weather.name, orjson.loads(weather.arguments)) == ("get_weather", WEATHER)
    assert (time.name, orjson.loads(time.arguments)) == ("get_time", TIME)
    assert weather.call_id != time.call_id
    assert response.usage is not None and response.usage.input_tokens == PROMPT_TOKENS  # the continuation's
    continued_with_the_first_call(threaded_upstream, weather.call_id)
    assert resumes(gateway, cut, cut, "prefill", "spliced") == before + 1


@pytest.mark.parametrize("cut", ["cut-chat", "cut-resp"])
def test_a_spliced_responses_stream_holds_to_the_schema_with_one_terminal_event(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, cut: str
) -> None:
    cut_between_the_calls(threaded_upstream, cut, TO_SECOND_CALL[cut])
    body = {"model": cut, "input": USER, "tools": RESPONSES_TOOLS, "stream": True}
    events = raw_events(httpx.post(f"{gateway.api_url}/responses", json=body, timeout=10))
    shape = DIALECTS["responses"]
    assert [line for event in events for line in violations(shape.shape_of_event(event), event)] == []
    kinds = [event["type"] for event in events]
    assert kinds.count("response.created") == 1 and kinds[-1] == "response.completed"
    assert sum(kind in ("response.completed", "response.failed", "error") for kind in kinds) == 1
    final = events[-1]["response"]
    assert violations(Shape.RESPONSE, final) == []
    assert final["id"] == events[0]["response"]["id"]
    arguments = [event["arguments"] for event in events if event["type"].endswith("arguments.done")]
    assert [orjson.loads(text) for text in arguments] == [WEATHER, TIME]  # each call closed once


def test_a_responses_stream_cut_inside_a_calls_arguments_ends_with_the_error_event(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    inside = TO_SECOND_CALL["cut-resp"] - 1  # before the first call's last piece
    cut_between_the_calls(threaded_upstream, "cut-resp", inside)
    before = resumes(gateway, "cut-resp", "cut-resp", "", "refused")
    pieces = ""
    stream = client.responses.stream(model="cut-resp", input=USER, tools=RESPONSES_TOOLS)  # type: ignore[arg-type]
    with pytest.raises(openai.APIError), stream as events:
        for event in events:
            if event.type == "response.function_call_arguments.delta":
                pieces += event.delta
    assert CALLS[0][1].startswith(pieces) and pieces != CALLS[0][1]  # the call's start, never the rest
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "cut-resp", "cut-resp", "", "refused") == before + 1


def test_a_gemini_stream_cut_between_two_function_calls_continues_after_the_first(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    cut_between_the_calls(threaded_upstream, "cut-gemini", GEMINI_TO_SECOND_CALL)
    before = resumes(gateway, "cut-gemini", "cut-gemini", "prefill", "spliced")
    options = types.HttpOptions(base_url=gateway.base_url)
    config = types.GenerateContentConfig(tools=GEMINI_TOOLS)
    with genai.Client(api_key="unused", http_options=options) as google:
        stream = google.models.generate_content_stream(model="cut-gemini", contents="count", config=config)
        chunks = list(stream)
    parts = [
        part
        for chunk in chunks
        for candidate in chunk.candidates or ()
        for part in (candidate.content.parts if candidate.content else None) or ()
    ]
    assert "".join(part.text for part in parts if part.text) == LOOK
    calls = [part.function_call for part in parts if part.function_call is not None]
    assert [(call.name, call.args) for call in calls] == [("get_weather", WEATHER), ("get_time", TIME)]
    assert calls[0].id != calls[1].id
    assert len({chunk.response_id for chunk in chunks}) == 1
    finishes = [c.finish_reason for chunk in chunks for c in chunk.candidates or () if c.finish_reason]
    assert finishes == [types.FinishReason.STOP]  # one terminal chunk
    usage = chunks[-1].usage_metadata
    assert usage is not None and usage.prompt_token_count == 2 * PROMPT_TOKENS  # both calls' input
    assert usage.total_token_count == usage.prompt_token_count + (usage.candidates_token_count or 0)
    assert calls[0].id is not None
    continued_with_the_first_call(threaded_upstream, calls[0].id)
    assert resumes(gateway, "cut-gemini", "cut-gemini", "prefill", "spliced") == before + 1


def test_a_spliced_gemini_stream_holds_to_the_schema(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    cut_between_the_calls(threaded_upstream, "cut-gemini", GEMINI_TO_SECOND_CALL)
    body = {"contents": [{"role": "user", "parts": [{"text": "count"}]}]}
    url = f"{gateway.base_url}/v1beta/models/cut-gemini:streamGenerateContent?alt=sse"
    events = raw_events(httpx.post(url, json=body, timeout=10))
    assert [line for event in events for line in violations(Shape.GEMINI_ANSWER, event)] == []
    assert [candidate.get("finishReason") for candidate in events[-1]["candidates"]] == ["STOP"]
    assert not any("finishReason" in c for event in events[:-1] for c in event.get("candidates", []))
