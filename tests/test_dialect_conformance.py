"""The dialect conformance matrix, through the real gateway with the official SDKs over sockets.

Every client dialect (chat, Messages, Responses, Gemini) against a deployment of every wire
API (the same four): a plain answer with prompt-cache usage, parallel tool calls and their results
sent back, thinking / reasoning, and errors, each as JSON and as a stream that the SDK's own
accumulator must rebuild into the same answer. The scripted upstream (``tests/upstream.py``)
answers every wire from one server; what it received is checked in its own wire's shape.
Then what crosses wires outside the matrix: cost with prompt-cache prices, a streaming race
between a chat and a Messages deployment, count_tokens, and the response cache's replays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from openai.types.responses import Response, ResponseErrorEvent

from tests.conftest import RunningGateway, serving
from tests.dialect_clients import (
    RESULTS,
    TOOLS,
    ChatClient,
    Client,
    GeminiClient,
    MessagesClient,
    ResponsesClient,
    ToolCall,
    Turn,
    tool_exchange,
)
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

KEY = "rw-conformance-key-01"
DIALECTS = ("chat", "messages", "responses", "gemini")
CELLS = [
    pytest.param(client, wire, id=f"{client}->{wire}")
    for client, wire in itertools.product(DIALECTS, DIALECTS)
]
# The scripted upstream reports 5 prompt and 4 completion tokens, cache tokens aside.
PROMPT_TOKENS, COMPLETION_TOKENS = 5, 4
CACHE_READ, CACHE_WRITE = 7, 3
STOP = {"chat": "stop", "messages": "end_turn", "responses": "completed", "gemini": "STOP"}
TOOL_STOP = {"chat": "tool_calls", "messages": "tool_use", "responses": "completed", "gemini": "STOP"}
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}


def paths(wire: str) -> list[str]:
    """Where a JSON request, then a stream, reach the upstream (Gemini's path names both)."""
    if wire == "gemini":
        return [
            f"/v1beta/models/up-gemini:{method}" for method in ("generateContent", "streamGenerateContent")
        ]
    return [PATHS[wire]] * 2


def deployment(name: str, wire: str, upstream: FakeUpstream, extra: str = "") -> str:
    """A deployment of ``wire`` on the scripted upstream, whose upstream model is its name."""
    where = {
        "chat": f'provider: openai, base_url: "{upstream.base_url}"',
        "messages": f'provider: anthropic, base_url: "{upstream.root_url}"',
        "responses": f'provider: openai, api: responses, base_url: "{upstream.base_url}"',
        "gemini": f'provider: gemini, base_url: "{upstream.root_url}"',
    }[wire]
    return f"- {{name: {name}, {where}, model: {name}, timeout: 10s, cooldown: {{failures: 1000}}{extra}}}"


def gateway_config(upstream: FakeUpstream) -> str:
    price = "input: 1000, output: 2000"
    deployments = [
        *(deployment(f"up-{wire}", wire, upstream) for wire in DIALECTS),
        deployment("race-slow", "chat", upstream),
        deployment("race-fast", "messages", upstream),
        deployment(
            "priced", "messages", upstream, f", price: {{{price}, cache_read: 100, cache_write: 1250}}"
        ),
        deployment("priced-flat", "messages", upstream, f", price: {{{price}}}"),
    ]
    models = [
        *(f"- {{name: via-{wire}, deployments: [up-{wire}]}}" for wire in DIALECTS),
        "- {name: raced, strategy: race, deployments: [race-slow, race-fast]}",
        "- {name: priced, deployments: [priced]}",
        "- {name: priced-flat, deployments: [priced-flat]}",
        "- {name: cached, deployments: [up-messages], cache: {ttl: 5m}}",
        "- {name: cached-gemini, deployments: [up-gemini], cache: {ttl: 5m}}",
        "- {name: raced-gemini, strategy: race, deployments: [race-slow, race-fast]}",
    ]
    newline = "\n      "
    return f"""
    deployments:
      {newline.join(deployments)}
    models:
      {newline.join(models)}
    keys:
      - {{name: conformance, key: "{KEY}"}}
    """


@pytest.fixture(scope="module")
def gateway(
    module_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    directory = tmp_path_factory.mktemp("conformance")
    with serving(gateway_config(module_upstream), directory, workers=1) as running:
        yield running


@pytest.fixture
async def gpt(gateway: RunningGateway) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=gateway.api_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def claude(gateway: RunningGateway) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(base_url=gateway.base_url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def google(gateway: RunningGateway) -> AsyncIterator[genai.Client]:
    sdk = genai.Client(api_key=KEY, http_options=genai_types.HttpOptions(base_url=gateway.base_url))
    try:
        yield sdk
    finally:
        await sdk.aio.aclose()


def client_of(
    dialect: str, gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, google: genai.Client
) -> Client:
    if dialect == "chat":
        return ChatClient(gpt)
    if dialect == "messages":
        return MessagesClient(claude)
    if dialect == "gemini":
        return GeminiClient(google)
    return ResponsesClient(gpt)


def without_ids(turn: Turn) -> Turn:
    """The answer apart from what each upstream answer makes unique (call ids, signatures)."""
    calls = tuple(ToolCall("", call.name, call.arguments) for call in turn.calls)
    thinking = tuple((text, signature[:4]) for text, signature in turn.thinking_blocks)
    return dataclasses.replace(turn, calls=calls, thinking_blocks=thinking)


async def both_ways(client: Client, model: str, upstream: FakeUpstream, behaviour: Behaviour) -> Turn:
    """The JSON answer to ``behaviour``, after checking that a stream accumulates to the same."""
    upstream.script(model.replace("via-", "up-"), behaviour)
    whole = await client.ask(model, stream=False)
    streamed = await client.ask(model, stream=True)
    assert without_ids(streamed) == without_ids(whole)
    assert all(call.id for call in (*whole.calls, *streamed.calls))
    return whole


def expected_usage(client: str, wire: str) -> dict[str, int]:
    """docs/dialects.md: Anthropic's input_tokens excludes cache tokens, chat's and Responses' include
    them; a Responses upstream tells cache writes apart (``input_tokens_details.cache_write_tokens``,
    required by OpenAI's specification), as the other two do; Gemini's usage has no cache writes."""
    total = PROMPT_TOKENS + CACHE_READ + CACHE_WRITE
    write = 0 if wire == "gemini" or client == "gemini" else CACHE_WRITE
    if client == "gemini":
        return {
            "prompt_token_count": total,
            "cached_content_token_count": CACHE_READ,
            "candidates_token_count": COMPLETION_TOKENS,
        }
    if client == "chat":
        return {
            "prompt_tokens": total,
            "cached_tokens": CACHE_READ,
            "cache_creation_input_tokens": write,
            "completion_tokens": COMPLETION_TOKENS,
        }
    if client == "messages":
        return {
            "input_tokens": total - CACHE_READ - write,
            "cache_read_input_tokens": CACHE_READ,
            "cache_creation_input_tokens": write,
            "output_tokens": COMPLETION_TOKENS,
        }
    return {"input_tokens": total, "cached_tokens": CACHE_READ, "output_tokens": COMPLETION_TOKENS}


@pytest.fixture
def dialects(
    gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, google: genai.Client
) -> dict[str, Client]:
    return {dialect: client_of(dialect, gpt, claude, google) for dialect in DIALECTS}


# -- the matrix -------------------------------------------------------------------------


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_a_text_answer_with_cache_usage(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    behaviour = Behaviour(reply="the answer is 42", cache_read=CACHE_READ, cache_write=CACHE_WRITE)
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert (turn.text, turn.stop, turn.calls, turn.reasoning) == ("the answer is 42", STOP[client], (), None)
    assert turn.usage == expected_usage(client, wire)
    assert [seen.path for seen in threaded_upstream.requests] == paths(wire)


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_parallel_tool_calls_and_their_results(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    sdk = dialects[client]
    turn = await both_ways(sdk, f"via-{wire}", threaded_upstream, Behaviour(reply="", tool_calls=TOOLS))
    assert turn.stop == TOOL_STOP[client]
    assert [(call.name, call.arguments) for call in turn.calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"zone": "CET"}),
    ]
    assert len({call.id for call in turn.calls}) == 2 and all(call.id for call in turn.calls)

    threaded_upstream.script(f"up-{wire}", Behaviour(reply="it is 18 degrees at 14:05"))
    answer = await sdk.send_results(f"via-{wire}", turn.calls)
    assert answer.text == "it is 18 degrees at 14:05" and answer.stop == STOP[client]
    calls, results = tool_exchange(wire, threaded_upstream.requests[-1])
    ids = [call.id for call in turn.calls]
    assert calls == ids
    assert results == list(zip(ids, RESULTS, strict=True))


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_a_tool_called_without_arguments_gets_an_empty_json_object(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    """Anthropic streams such a call's input as one empty piece; the client's arguments are
    JSON all the same (``{}``), streamed as in a whole answer."""
    behaviour = Behaviour(reply="", tool_calls=(("get_time", "{}"),))
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert [(call.name, call.arguments) for call in turn.calls] == [("get_time", {})]
    assert turn.stop == TOOL_STOP[client]


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_thinking_reaches_the_client_in_its_own_shape(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    behaviour = Behaviour(reasoning="step by step", reply="done")
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert (turn.reasoning, turn.text, turn.stop) == ("step by step", "done", STOP[client])
    # Signed only by an Anthropic upstream; chat has thinking_blocks only for signed thinking.
    signed = tuple((text, signature[:4]) for text, signature in turn.thinking_blocks)
    if client == "messages":
        assert signed == (("step by step", "sig+" if wire == "messages" else ""),)
    elif client in ("chat", "gemini"):
        assert signed == ((("step by step", "sig+"),) if wire == "messages" else ())


# -- errors -----------------------------------------------------------------------------

RATE_LIMITED: dict[str, type[Exception]] = {
    "chat": openai.RateLimitError,
    "messages": anthropic.RateLimitError,
    "responses": openai.RateLimitError,
    "gemini": genai_errors.ClientError,
}


@pytest.mark.parametrize(("client", "wire"), CELLS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_upstream_429_is_the_clients_rate_limit_error(
    client: str, wire: str, stream: bool, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(f"up-{wire}", Behaviour(status=429))
    with pytest.raises(RATE_LIMITED[client]) as raised:
        await dialects[client].ask(f"via-{wire}", stream=stream)
    if client == "gemini":  # Google's error shape, with its status name
        error: Any = raised.value
        assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")


MIDWAY_ERROR = {"error": {"message": "the model fell over", "type": "server_error", "code": "model_crashed"}}
MIDWAY_FAULTS = [
    pytest.param(Behaviour(reply="one two three four", error=MIDWAY_ERROR, error_after=2), id="error-event"),
    pytest.param(Behaviour(reply="one two three four", cut_after=2), id="cut"),
]


@pytest.mark.parametrize("fault", MIDWAY_FAULTS)
@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_an_error_midway_ends_the_stream_as_the_clients_sdk_knows(
    client: str,
    wire: str,
    fault: Behaviour,
    gpt: openai.AsyncOpenAI,
    claude: anthropic.AsyncAnthropic,
    google: genai.Client,
    threaded_upstream: FakeUpstream,
) -> None:
    """Each SDK raises, with the gateway's message (the upstream's, or a cut naming the
    deployment): anthropic on ``event: error`` (an APIStatusError of the stream's 200), openai
    on chat's ``data: {"error": ...}`` and on the Responses ``error`` event that nests its
    error as OpenAI's service does (APIError). The Responses stream then ends as OpenAI ends a
    failed response, with ``response.failed`` (what the Agents SDK and Codex read); google-genai
    raises the ``data: {"error": ...}`` event as the status its ``code`` says."""
    threaded_upstream.script(f"up-{wire}", fault)
    said = "the model fell over" if fault.error else f"up-{wire}"
    model = f"via-{wire}"
    user: Any = [{"role": "user", "content": "hi"}]
    texts: list[str] = []
    if client == "chat":
        with pytest.raises(openai.APIError) as raised:
            async with gpt.chat.completions.stream(model=model, messages=user) as chat_events:
                async for chat_event in chat_events:
                    if chat_event.type == "content.delta":
                        texts.append(chat_event.delta)
        assert said in raised.value.message
    elif client == "messages":
        with pytest.raises(anthropic.APIStatusError) as failed:
            async with claude.messages.stream(model=model, max_tokens=50, messages=user) as message_events:
                async for message_event in message_events:
                    if message_event.type == "text":
                        texts.append(message_event.text)
        assert failed.value.status_code == 200
        body: Any = failed.value.body
        assert body["type"] == "error" and said in body["error"]["message"]
    elif client == "gemini":
        with pytest.raises(genai_errors.ServerError) as crashed:
            async for chunk in await google.aio.models.generate_content_stream(model=model, contents="hi"):
                texts.append(chunk.text or "")
        assert crashed.value.code == 502 and said in str(crashed.value.message)
    else:
        kinds: list[str] = []
        with pytest.raises(openai.APIError) as raised:
            async with gpt.responses.stream(model=model, input=user) as response_events:
                async for response_event in response_events:
                    kinds.append(response_event.type)
                    if response_event.type == "response.output_text.delta":
                        texts.append(response_event.delta)
        assert said in raised.value.message and "response.completed" not in kinds
        await responses_stream_ends_failed(gpt, model, said)
    assert "".join(texts) == "one two"


async def responses_stream_ends_failed(gpt: openai.AsyncOpenAI, model: str, said: str) -> None:
    """On the wire: ``error`` then ``response.failed`` last, with the opened response failed."""
    events: list[tuple[str, dict[str, Any]]] = []
    async with gpt.responses.with_streaming_response.create(model=model, input="hi", stream=True) as raw:
        name = ""
        async for line in raw.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((name, json.loads(line.removeprefix("data: "))))
    assert [name for name, _ in events[-2:]] == ["error", "response.failed"]
    error, failed = events[-2][1], events[-1][1]
    ResponseErrorEvent.model_validate(error)
    assert said in error["message"] and said in error["error"]["message"]
    response = Response.model_validate(failed["response"])
    assert response.id == events[0][1]["response"]["id"] and response.status == "failed"
    assert response.error is not None and said in response.error.message
    assert [event["sequence_number"] for _, event in events] == list(range(len(events)))


# -- cost, races, token counts, the cache -----------------------------------------------

# price: {input: 1000, output: 2000, cache_read: 100, cache_write: 1250} USD per million tokens;
# the upstream reports 5 fresh input tokens, 1000 read from its cache, 200 written, 4 output.
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
