"""The litellm adapter translates non-OpenAI providers back to OpenAI's format.

respx mocks the providers' HTTP APIs at litellm's boundary (httpx); litellm's default
aiohttp transport would bypass respx, so the fixture switches it off.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import httpx
import orjson
import pytest
import respx

from router.config.model import Deployment
from router.config.secret import Secret
from router.errors import InvalidRequest, UpstreamError, UpstreamRateLimited, UpstreamRejected
from router.providers.correlation import Correlation
from router.providers.litellm_adapter import LiteLLMProvider, load_litellm, translate_errors
from router.providers.upstream_errors import Scrubber
from tests.anthropic_upstream import message_stream
from tests.helpers import CHAT, events_of

ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
GEMINI_URL = r"https://generativelanguage\.googleapis\.com/v1beta/models/gemini-2\.0-flash:.*"
ANTHROPIC_KEY = "sk-ant-test-secret-000000"


@pytest.fixture(scope="module")
def litellm() -> Iterator[ModuleType]:
    module = load_litellm()
    previous = module.disable_aiohttp_transport
    module.disable_aiohttp_transport = True
    yield module
    module.disable_aiohttp_transport = previous


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


def claude(litellm: ModuleType) -> LiteLLMProvider:
    deployment = Deployment(
        name="claude", provider="anthropic", model="claude-3-5-haiku-20241022", api_key=Secret(ANTHROPIC_KEY)
    )
    return LiteLLMProvider(deployment, litellm)


def gemini(litellm: ModuleType) -> LiteLLMProvider:
    deployment = Deployment(
        name="gemini", provider="gemini", model="gemini-2.0-flash", api_key=Secret("AIzaTestKey")
    )
    return LiteLLMProvider(deployment, litellm)


ANTHROPIC_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-5-haiku-20241022",
    "content": [{"type": "text", "text": "Hello from Claude"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 5},
}


def anthropic_stream(*words: str) -> bytes:
    return message_stream(ANTHROPIC_MESSAGE, words)


async def test_anthropic_answer_comes_back_in_openai_shape(
    litellm: ModuleType, mock: respx.MockRouter
) -> None:
    route = mock.post(ANTHROPIC_URL).mock(return_value=httpx.Response(200, json=ANTHROPIC_MESSAGE))
    answer = orjson.loads(await claude(litellm).complete({**CHAT, "max_tokens": 50}))
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "Hello from Claude"
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["prompt_tokens"] == 10 and answer["usage"]["completion_tokens"] == 5
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == "claude-3-5-haiku-20241022" and sent["max_tokens"] == 50
    assert route.calls.last.request.headers["x-api-key"] == ANTHROPIC_KEY


async def test_anthropic_stream_becomes_openai_chunks(litellm: ModuleType, mock: respx.MockRouter) -> None:
    mock.post(ANTHROPIC_URL).mock(
        return_value=httpx.Response(
            200, content=anthropic_stream("Hello", " world"), headers={"content-type": "text/event-stream"}
        )
    )
    events = await events_of(claude(litellm).stream({**CHAT, "stream": True}))
    assert events[-1] == b"data: [DONE]\n\n"
    chunks = [orjson.loads(event[6:]) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
    assert text == "Hello world"


async def test_gemini_answer_comes_back_in_openai_shape(litellm: ModuleType, mock: respx.MockRouter) -> None:
    mock.post(url__regex=GEMINI_URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "candidates": [
                    {
                        "content": {"parts": [{"text": "Hello from Gemini"}], "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7},
            },
        )
    )
    answer = orjson.loads(await gemini(litellm).complete(CHAT))
    assert answer["choices"][0]["message"]["content"] == "Hello from Gemini"
    assert answer["usage"]["total_tokens"] == 7


async def test_gemini_stream(litellm: ModuleType, mock: respx.MockRouter) -> None:
    def chunk(text: str, finish: str | None = None) -> bytes:
        candidate: dict[str, object] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
        if finish:
            candidate["finishReason"] = finish
        return b"data: " + orjson.dumps({"candidates": [candidate]}) + b"\r\n\r\n"

    mock.post(url__regex=GEMINI_URL).mock(
        return_value=httpx.Response(
            200, content=chunk("Hi") + chunk(" there", "STOP"), headers={"content-type": "text/event-stream"}
        )
    )
    events = await events_of(gemini(litellm).stream({**CHAT, "stream": True}))
    chunks = [orjson.loads(event[6:]) for event in events[:-1]]
    assert (
        "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c.get("choices"))
        == "Hi there"
    )


@pytest.mark.parametrize(
    ("status", "error_class", "retryable"),
    [(429, UpstreamRateLimited, True), (500, UpstreamError, True), (400, UpstreamRejected, False)],
)
async def test_provider_errors_are_classified_like_native_ones(
    litellm: ModuleType,
    mock: respx.MockRouter,
    status: int,
    error_class: type[UpstreamError],
    retryable: bool,
) -> None:
    mock.post(ANTHROPIC_URL).mock(
        return_value=httpx.Response(
            status,
            json={"type": "error", "error": {"type": "x", "message": f"failure with key {ANTHROPIC_KEY}"}},
        )
    )
    with pytest.raises(error_class) as caught:
        await claude(litellm).complete(CHAT)
    assert caught.value.retryable is retryable
    assert ANTHROPIC_KEY not in caught.value.message


async def test_the_adapter_itself_refuses_a_field_that_would_route(litellm: ModuleType) -> None:
    """Defence in depth: even a body that skipped the endpoint's check never reaches litellm whole."""
    body = {
        **CHAT,
        "model_list": [{"model_name": "x", "litellm_params": {"api_base": "http://127.0.0.1:9/v1"}}],
    }
    with respx.mock(assert_all_called=False) as mock:
        anywhere = mock.route()
        with pytest.raises(InvalidRequest) as refused:
            await claude(litellm).complete(body)
    assert refused.value.param == "model_list"
    assert not anywhere.called


TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "congo=t61"}


@pytest.mark.parametrize("stream", [False, True])
async def test_the_trace_context_reaches_anthropic_and_its_request_id_comes_back(
    litellm: ModuleType, mock: respx.MockRouter, stream: bool
) -> None:
    answer = (
        httpx.Response(
            200,
            content=anthropic_stream("Hi"),
            headers={"content-type": "text/event-stream", "request-id": "req_011stream"},
        )
        if stream
        else httpx.Response(200, json=ANTHROPIC_MESSAGE, headers={"request-id": "req_011stream"})
    )
    route = mock.post(ANTHROPIC_URL).mock(return_value=answer)
    correlation = Correlation(TRACE)
    if stream:
        assert [
            event
            async for batch in claude(litellm).stream({**CHAT, "stream": True}, correlation)
            for event in batch
        ]
    else:
        assert await claude(litellm).complete(CHAT, correlation)
    sent = route.calls.last.request.headers
    assert {name: sent[name] for name in TRACE} == TRACE
    assert sent["x-api-key"] == ANTHROPIC_KEY
    assert correlation.request_id == "req_011stream"


async def test_a_refused_call_notes_the_request_id_too(litellm: ModuleType, mock: respx.MockRouter) -> None:
    mock.post(ANTHROPIC_URL).mock(
        return_value=httpx.Response(
            529,
            json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            headers={"request-id": "req_011busy"},
        )
    )
    correlation = Correlation()
    with pytest.raises(UpstreamError):
        await claude(litellm).complete(CHAT, correlation)
    assert correlation.request_id == "req_011busy"


def test_an_adapter_crash_is_logged_without_the_secrets_it_quotes(caplog: pytest.LogCaptureFixture) -> None:
    deployment = Deployment(name="claude", provider="anthropic", model="claude-x")
    with (
        pytest.raises(UpstreamError) as caught,
        translate_errors(deployment, Scrubber(["sk-ant-secret-1234567"])),
    ):
        raise RuntimeError("cannot reach https://api.example/v1?key=sk-ant-secret-1234567")
    assert caught.value.message == "deployment claude failed in its adapter"
    assert "RuntimeError: cannot reach https://api.example/v1?key=***" in caplog.text
    assert "sk-ant-secret" not in caplog.text
