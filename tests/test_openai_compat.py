"""The native provider forwards the body with only `model` rewritten, over real sockets."""

import aiohttp
import orjson
import pytest

from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.providers.correlation import Correlation
from router.providers.factory import open_session
from router.providers.openai_compat import OpenAICompatibleProvider
from tests.helpers import CHAT, events_of, native
from tests.upstream import Behaviour, FakeUpstream


@pytest.fixture
async def session() -> aiohttp.ClientSession:
    async with open_session() as session:
        yield session  # type: ignore[misc]


async def test_chat_forwards_body_and_credentials(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    answer = orjson.loads(await provider.complete({**CHAT, "temperature": 0.2, "user": "u1"}))
    assert answer["choices"][0]["message"]["content"] == "hello from upstream"
    (seen,) = upstream.requests
    assert seen.body == {**CHAT, "model": "up-a", "temperature": 0.2, "user": "u1"}
    assert seen.headers["Authorization"] == "Bearer sk-test-upstream-key"


async def test_stream_yields_whole_events_ending_with_done(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(reply="one two three"))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    events = await events_of(provider.stream({**CHAT, "stream": True}))
    assert events[-1] == b"data: [DONE]\n\n"
    assert all(event.endswith(b"\n\n") for event in events)
    contents = [orjson.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[1:-2]]
    assert "".join(contents) == "one two three"


async def test_cut_stream_raises_instead_of_ending_quietly(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(reply="one two three", cut_after=2))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    received: list[bytes] = []
    with pytest.raises(UpstreamError):
        async for batch in provider.stream({**CHAT, "stream": True}):
            received.extend(batch)
    assert len(received) == 3  # role chunk + two words; the half event is never yielded


@pytest.mark.parametrize(
    ("behaviour", "error_class", "retryable"),
    [
        (Behaviour(status=500), UpstreamError, True),
        (Behaviour(status=429, headers={"Retry-After": "3"}), UpstreamRateLimited, True),
        (Behaviour(status=400), UpstreamRejected, False),
        (Behaviour(delay=2.0), UpstreamTimeout, True),
    ],
)
async def test_failures_are_classified(
    upstream: FakeUpstream,
    session: aiohttp.ClientSession,
    behaviour: Behaviour,
    error_class: type[UpstreamError],
    retryable: bool,
) -> None:
    upstream.script("up-a", behaviour)
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url, timeout=0.3), session)
    with pytest.raises(error_class) as caught:
        await provider.complete(CHAT)
    assert caught.value.retryable is retryable and caught.value.deployment == "up-a"


async def test_connection_refused_is_a_retryable_connect_error(session: aiohttp.ClientSession) -> None:
    provider = OpenAICompatibleProvider(native("gone", "http://127.0.0.1:9/v1"), session)
    with pytest.raises(UpstreamError) as caught:
        await provider.complete(CHAT)
    assert caught.value.retryable and caught.value.code == "upstream_connect_error"


async def test_closing_a_stream_early_disconnects_upstream(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(reply="a b c d e f", chunk_delay=0.2))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    stream = provider.stream({**CHAT, "stream": True})
    await anext(stream)
    await anext(stream)
    await stream.aclose()
    await upstream.disconnected("up-a")
    assert upstream.disconnects == ["up-a"]


async def test_embeddings(upstream: FakeUpstream, session: aiohttp.ClientSession) -> None:
    provider = OpenAICompatibleProvider(native("embed", upstream.base_url), session)
    answer = orjson.loads(await provider.embeddings({"model": "public", "input": ["a", "b"]}))
    assert len(answer["data"]) == 2
    assert upstream.requests[0].path == "/v1/embeddings" and upstream.requests[0].model == "embed"


# -- answers larger than max_response_size: refused while reading, the connection closed ----

LIMIT = 64 * 1024


@pytest.mark.parametrize(
    "behaviour",
    [
        Behaviour(huge=1024 * 1024),  # a completion that never ends, chunked
        Behaviour(body=b'{"choices": []' + b" " * LIMIT + b"}"),  # one byte too many, Content-Length
        Behaviour(status=500, huge=1024 * 1024),  # an error body
        Behaviour(status=400, huge=1024 * 1024),
        Behaviour(huge=8 * 1024 * 1024, gzip=True),  # a gzip bomb: ~8 KiB on the wire
    ],
    ids=["chunked", "declared", "error-500", "error-400", "gzip-bomb"],
)
async def test_an_answer_past_max_response_size_is_a_retryable_failure(
    upstream: FakeUpstream, session: aiohttp.ClientSession, behaviour: Behaviour
) -> None:
    upstream.script("up-a", behaviour)
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url, max_response_size=LIMIT), session)
    with pytest.raises(UpstreamError) as caught:
        await provider.complete(CHAT)
    assert caught.value.code == "upstream_response_too_large" and caught.value.retryable
    assert caught.value.status_code == 502 and str(LIMIT) in caught.value.message


async def test_a_huge_answer_is_not_read_to_its_end(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(huge=64 * 1024 * 1024))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url, max_response_size=LIMIT), session)
    with pytest.raises(UpstreamError):
        await provider.complete(CHAT)
    await upstream.disconnected("up-a")  # the gateway closed the connection; it did not drain it


async def test_an_answer_of_exactly_max_response_size_passes(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    answer = b'{"choices": []' + b" " * (LIMIT - 15) + b"}"
    assert len(answer) == LIMIT
    upstream.script("up-a", Behaviour(body=answer))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url, max_response_size=LIMIT), session)
    assert await provider.complete(CHAT) == answer


async def test_an_endless_stream_line_fails_once_past_max_response_size(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(huge=64 * 1024 * 1024))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url, max_response_size=LIMIT), session)
    received: list[bytes] = []
    with pytest.raises(UpstreamError) as caught:
        async for batch in provider.stream({**CHAT, "stream": True}):
            received.extend(batch)
    assert caught.value.code == "upstream_response_too_large" and caught.value.retryable
    assert all(b"xxx" not in event for event in received)  # perhaps the role chunk, never the line
    await upstream.disconnected("up-a")


async def test_an_error_event_midway_is_passed_on_for_the_dispatch_to_judge(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    error = {"error": {"message": "bad key sk-test-upstream-key", "type": "server_error"}}
    upstream.script("up-a", Behaviour(reply="one two three", error_after=2, error=error))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    received = await events_of(provider.stream({**CHAT, "stream": True}))
    assert b"bad key" in received[-2] and received[-1] == b"data: [DONE]\n\n"  # judged in ``open_stream``


TRACE = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "tracestate": "congo=t61"}
LIMITS = {"x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s"}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_call_carries_the_trace_context_and_notes_the_upstreams_ids(
    upstream: FakeUpstream, session: aiohttp.ClientSession, stream: bool
) -> None:
    upstream.script("up-a", Behaviour(headers=LIMITS))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    correlation = Correlation(TRACE, keep_ratelimit=True)
    if stream:
        assert [
            event async for batch in provider.stream({**CHAT, "stream": True}, correlation) for event in batch
        ]
    else:
        assert await provider.complete(CHAT, correlation)
    (seen,) = upstream.requests
    assert {name: seen.headers[name] for name in TRACE} == TRACE
    assert seen.headers["Authorization"] == "Bearer sk-test-upstream-key"
    assert correlation.request_id == seen.request_id and correlation.request_id.startswith("req_up_")
    assert correlation.ratelimit == LIMITS


async def test_a_failed_call_still_notes_the_upstreams_request_id(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("up-a", Behaviour(status=500))
    provider = OpenAICompatibleProvider(native("up-a", upstream.base_url), session)
    correlation = Correlation()
    with pytest.raises(UpstreamError):
        await provider.complete(CHAT, correlation)
    assert correlation.request_id == upstream.requests[0].request_id
