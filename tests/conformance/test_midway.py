"""A stream that fails after its first content ends as each client's SDK knows a failed stream."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from openai.types.responses import Response, ResponseErrorEvent

from tests.conformance.matrix import CELLS
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


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
