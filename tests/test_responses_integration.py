"""OpenAI's Responses API and legacy Completions through Raceway, with the official openai SDK
over real sockets, served by a chat-completions upstream (translated both ways), and Responses
by a Responses upstream (passed through)."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    config = f"""
    deployments:
      - {{name: chat-up, provider: openai, base_url: "{module_upstream.base_url}", model: chat-up}}
      - {{name: responses-up, provider: openai, api: responses,
         base_url: "{module_upstream.base_url}", model: responses-up}}
    models:
      - {{name: gpt-5-codex, deployments: [chat-up]}}
      - {{name: gpt-5-native, deployments: [responses-up]}}
    """
    return gateways.serve(config, workers=1)


@pytest.fixture
def client(gateway: RunningGateway, threaded_upstream: FakeUpstream, sdks: Sdks) -> openai.AsyncOpenAI:
    return sdks.async_openai(gateway)


async def test_a_response_is_answered_from_a_chat_upstream(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="hello from upstream"))
    response = await client.responses.create(
        model="gpt-5-codex", instructions="be brief", input="hi", store=False
    )
    assert response.output_text == "hello from upstream"
    assert response.status == "completed"
    assert response.usage is not None and response.usage.output_tokens > 0
    (seen,) = threaded_upstream.requests
    assert seen.body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


async def test_a_streamed_response_accumulates_to_the_same_response(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="one two three"))
    async with client.responses.stream(model="gpt-5-codex", input="count", store=False) as stream:
        deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    whole = await client.responses.create(model="gpt-5-codex", input="count", store=False)
    assert "".join(deltas) == final.output_text == whole.output_text == "one two three"
    assert final.status == whole.status == "completed"
    assert final.usage is not None and whole.usage is not None
    assert final.usage.output_tokens == whole.usage.output_tokens


async def test_a_stateless_gateway_refuses_previous_response_id(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        await client.responses.create(model="gpt-5-codex", input="hi", previous_response_id="resp_1")
    assert refused.value.code == "unsupported_parameter"
    assert "stores no responses" in refused.value.message


async def test_a_legacy_completion_is_answered_from_a_chat_upstream(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="a completion"))
    completion = await client.completions.create(model="gpt-5-codex", prompt="say it", max_tokens=5)
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "a completion"
    (seen,) = threaded_upstream.requests
    assert seen.body["messages"] == [{"role": "user", "content": "say it"}]
    assert seen.body["max_tokens"] == 5


async def test_a_streamed_legacy_completion_arrives_piece_by_piece(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="one two"))
    stream = await client.completions.create(model="gpt-5-codex", prompt="count", stream=True)
    pieces = [chunk.choices[0].text async for chunk in stream if chunk.choices]
    assert "".join(pieces) == "one two"


def test_responses_errors_are_openai_shaped(gateway: RunningGateway) -> None:
    answer = httpx.post(f"{gateway.api_url}/responses", json={"model": "nope", "input": "hi"})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"


@pytest.mark.parametrize("empty", ["", []], ids=["string", "list"])
async def test_an_empty_input_passes_through_as_the_specification_allows(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream, empty: str | list[Any]
) -> None:
    response = await client.responses.create(model="gpt-5-native", input=empty, store=False)
    assert response.status == "completed"
    (seen,) = threaded_upstream.requests
    assert seen.path == "/v1/responses" and seen.body["input"] == empty


async def test_an_empty_input_towards_chat_is_an_empty_message_or_only_the_instructions(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream
) -> None:
    await client.responses.create(model="gpt-5-codex", input="", store=False)
    await client.responses.create(model="gpt-5-codex", instructions="be brief", input=[], store=False)
    assert [seen.body["messages"] for seen in threaded_upstream.requests] == [
        [{"role": "user", "content": ""}],
        [{"role": "system", "content": "be brief"}],
    ]
    with pytest.raises(openai.BadRequestError) as refused:
        await client.responses.create(model="gpt-5-codex", input=[], store=False)
    assert refused.value.param == "input" and "nothing to send" in refused.value.message
    assert len(threaded_upstream.requests) == 2


@pytest.mark.parametrize("prompt", ["", [""]], ids=["string", "list"])
async def test_an_empty_prompt_is_an_empty_user_message(
    client: openai.AsyncOpenAI, threaded_upstream: FakeUpstream, prompt: str | list[str]
) -> None:
    threaded_upstream.script("chat-up", Behaviour(reply="from nothing"))
    completion = await client.completions.create(model="gpt-5-codex", prompt=prompt, max_tokens=5)
    assert completion.choices[0].text == "from nothing"
    (seen,) = threaded_upstream.requests
    assert seen.body["messages"] == [{"role": "user", "content": ""}]
