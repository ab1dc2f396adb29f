"""The Gemini dialect through the real gateway: its routes and keys, its exact SSE framing, its
error shapes, a streaming race, the cache and countTokens, with google-genai as the client
(and raw HTTP where the bytes themselves are the point)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from tests.conformance.matrix import KEY, gateway_config
from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def google(gateway: RunningGateway, sdks: Sdks) -> genai.Client:
    return sdks.genai(gateway, key=KEY)


@pytest.fixture
def http(gateway: RunningGateway, sdks: Sdks) -> httpx.AsyncClient:
    return sdks.http(gateway)


USER: Any = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


async def test_a_stream_is_data_lines_and_blank_lines_only_whatever_the_upstream(
    http: httpx.AsyncClient, threaded_upstream: FakeUpstream
) -> None:
    """Gemini CLI refuses comments, ``event:`` lines and ``data:`` without its space: a Messages
    upstream (named events, pings) and a Gemini one both reach it as bare ``data: {json}``."""
    for wire in ("messages", "gemini", "chat"):
        threaded_upstream.script(f"up-{wire}", Behaviour(reply="one two three"))
        url = f"/v1beta/models/via-{wire}:streamGenerateContent?alt=sse"
        answer = await http.post(url, json=USER, headers={"x-goog-api-key": KEY})
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        events = answer.content.split(b"\n\n")
        assert events[-1] == b"" and all(event.startswith(b"data: {") for event in events[:-1]), (
            answer.content
        )
        assert all(b"\n" not in event for event in events[:-1])


async def test_the_key_comes_from_x_goog_api_key_the_key_query_or_a_bearer(
    http: httpx.AsyncClient, threaded_upstream: FakeUpstream
) -> None:
    url = "/v1beta/models/via-chat:generateContent"
    for headers, query in (
        ({"x-goog-api-key": KEY}, {}),
        ({}, {"key": KEY}),
        ({"authorization": f"Bearer {KEY}"}, {}),
    ):
        assert (await http.post(url, json=USER, headers=headers, params=query)).status_code == 200
    refused = await http.post(url, json=USER, headers={"x-goog-api-key": "wrong-key-123"})
    assert refused.status_code == 401
    assert refused.json() == {
        "error": {"code": 401, "message": "invalid API key", "status": "UNAUTHENTICATED"}
    }
    assert len(threaded_upstream.requests) == 3


@pytest.mark.parametrize(
    ("path", "body", "status", "google_status"),
    [
        ("/v1beta/models/no-such-model:generateContent", USER, 404, "NOT_FOUND"),
        ("/v1beta/models/via-chat:generateContent", {"contents": []}, 400, "INVALID_ARGUMENT"),
        ("/v1beta/models/via-chat:generateContent", {"contents": [{"parts": "x"}]}, 400, "INVALID_ARGUMENT"),
        ("/v1beta/models/via-chat:streamGenerateContent", USER, 400, "INVALID_ARGUMENT"),  # no alt=sse
        ("/v1beta/models/via-chat:embedEverything", USER, 404, "NOT_FOUND"),
        (
            "/v1/models/via-chat:generateContent",
            {"contents": [{"parts": [{"text": 1}]}]},
            400,
            "INVALID_ARGUMENT",
        ),
    ],
)
async def test_bad_requests_get_googles_error_shape(
    http: httpx.AsyncClient, path: str, body: Any, status: int, google_status: str
) -> None:
    answer = await http.post(path, json=body, headers={"x-goog-api-key": KEY})
    assert answer.status_code == status
    error = answer.json()["error"]
    assert (error["code"], error["status"]) == (status, google_status) and error["message"]


async def test_the_model_list_and_one_model_in_geminis_shape(google: genai.Client) -> None:
    names = [model.name async for model in await google.aio.models.list()]
    assert "models/via-gemini" in names and "models/via-chat" in names
    found = await google.aio.models.get(model="via-gemini")
    assert found.name == "models/via-gemini" and found.supported_actions is not None
    with pytest.raises(genai_errors.ClientError) as missing:
        await google.aio.models.get(model="nope")
    assert missing.value.code == 404


async def test_a_streaming_race_commits_on_the_first_content_chunk(
    google: genai.Client, threaded_upstream: FakeUpstream
) -> None:
    """A chat deployment that never answers and a Messages one that answers once both calls are
    out: the Messages stream wins, reaches the Gemini client, and the chat call is abandoned."""
    threaded_upstream.script("race-slow", Behaviour(stall=True))
    threaded_upstream.script("race-fast", Behaviour(reply="fast wins", after="race-slow"))
    chunks = [
        chunk
        async for chunk in await google.aio.models.generate_content_stream(
            model="raced-gemini", contents="go"
        )
    ]
    assert "".join(chunk.text or "" for chunk in chunks) == "fast wins"
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    headers = chunks[0].sdk_http_response.headers if chunks[0].sdk_http_response else {}
    assert headers and headers["x-raceway-deployment"] == "race-fast"
    assert await asyncio.to_thread(threaded_upstream.wait_for_disconnect, "race-slow")


def all_parts(chunks: list[types.GenerateContentResponse]) -> list[types.Part]:
    found: list[types.Part] = []
    for chunk in chunks:
        for candidate in chunk.candidates or ():
            found.extend((candidate.content.parts if candidate.content else None) or ())
    return found


async def test_a_repeated_request_is_replayed_from_the_cache_as_json_and_as_a_stream(
    google: genai.Client, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("up-gemini", Behaviour(reasoning="think first", reply="cached words"))
    config = types.GenerateContentConfig(temperature=0)
    statuses: list[str] = []
    answers: list[tuple[str, str]] = []
    for stream in (False, False, True):
        if stream:
            chunks = [
                c
                async for c in await google.aio.models.generate_content_stream(
                    model="cached-gemini", contents="hi", config=config
                )
            ]
        else:
            chunks = [
                await google.aio.models.generate_content(model="cached-gemini", contents="hi", config=config)
            ]
        first = chunks[0].sdk_http_response
        statuses.append(first.headers["x-raceway-cache"] if first and first.headers else "")
        parts = all_parts(chunks)
        answers.append(
            (
                "".join(p.text or "" for p in parts if p.thought),
                "".join(p.text or "" for p in parts if not p.thought),
            )
        )
    assert statuses == ["miss", "hit", "hit"]
    assert answers == [("think first", "cached words")] * 3
    assert threaded_upstream.calls("up-gemini") == 1


async def test_count_tokens_is_asked_of_a_gemini_deployment_and_estimated_for_a_chat_one(
    google: genai.Client, threaded_upstream: FakeUpstream
) -> None:
    counted = await google.aio.models.count_tokens(model="via-gemini", contents="x" * 400)
    assert counted.total_tokens == 5  # what the scripted upstream counts
    (seen,) = threaded_upstream.requests
    assert seen.path == "/v1beta/models/up-gemini:countTokens" and "model" not in seen.body
    assert seen.headers.get("x-goog-api-key") is None  # the deployment has no key: none is sent
    estimated = await google.aio.models.count_tokens(model="via-chat", contents="x" * 400)
    assert estimated.total_tokens is not None and 90 <= estimated.total_tokens <= 110
    assert len(threaded_upstream.requests) == 1


async def test_pass_through_sends_the_body_with_only_the_model_in_the_path_rewritten(
    google: genai.Client, threaded_upstream: FakeUpstream
) -> None:
    config = types.GenerateContentConfig(top_k=64, safety_settings=[], system_instruction="sys")
    await google.aio.models.generate_content(model="via-gemini", contents="hi", config=config)
    (seen,) = threaded_upstream.requests
    assert seen.path == "/v1beta/models/up-gemini:generateContent"
    assert set(seen.body) == {"contents", "systemInstruction", "generationConfig", "safetySettings"}
    assert seen.body["generationConfig"] == {"topK": 64.0} and seen.body["safetySettings"] == []
