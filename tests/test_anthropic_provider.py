"""The native Anthropic provider: the Messages body with only `model` rewritten, Anthropic's
authentication and version headers, its stream relayed to ``message_stop``, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest

from router.config.secret import Secret
from router.errors import UpstreamError, UpstreamRateLimited
from router.providers.anthropic import AnthropicProvider
from router.providers.correlation import Correlation
from router.providers.factory import ProviderFactory, open_session
from router.wire.dialect import Dialect
from tests.helpers import native
from tests.upstream import Behaviour, FakeUpstream

MESSAGE = {"model": "claude", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with open_session() as session:
        yield session


def claude(upstream: FakeUpstream, session: aiohttp.ClientSession, **overrides: object) -> AnthropicProvider:
    deployment = native(
        "claude-up", upstream.root_url, provider="anthropic", api=Dialect.MESSAGES, **overrides
    )
    return AnthropicProvider(deployment, session)


async def test_the_factory_builds_the_native_provider_for_anthropic(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    deployment = native("claude-up", upstream.root_url, provider="anthropic", api=Dialect.MESSAGES)
    assert isinstance(ProviderFactory(session).build(deployment), AnthropicProvider)


async def test_a_message_is_sent_as_is_with_anthropics_authentication(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    answer = orjson.loads(await claude(upstream, session).complete({**MESSAGE, "top_k": 3}))
    assert answer["type"] == "message" and answer["content"][0]["text"] == "hello from upstream"
    (seen,) = upstream.requests
    assert seen.path == "/v1/messages"
    assert seen.body == {**MESSAGE, "model": "claude-up", "top_k": 3}
    assert seen.headers["x-api-key"] == "sk-test-upstream-key"
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in seen.headers


async def test_the_clients_version_and_betas_go_upstream_and_the_deployments_headers_win(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    provider = claude(upstream, session, headers={"anthropic-beta": Secret("operator-beta")})
    client = {"anthropic-version": "2024-01-01", "anthropic-beta": "client-beta"}
    await provider.complete(MESSAGE, Correlation(forwarded=client))
    (seen,) = upstream.requests
    assert seen.headers["anthropic-version"] == "2024-01-01"
    assert seen.headers["anthropic-beta"] == "operator-beta"


async def test_a_stream_is_relayed_to_message_stop(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("claude-up", Behaviour(reply="one two"))
    events = [
        event
        async for batch in claude(upstream, session).stream({**MESSAGE, "stream": True})
        for event in batch
    ]
    assert events[0].startswith(b"event: message_start")
    assert events[-1].startswith(b"event: message_stop")


async def test_a_stream_that_ends_before_message_stop_is_a_failure(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("claude-up", Behaviour(reply="one two", end_without_done=True))
    with pytest.raises(UpstreamError, match="ended the stream before its last event"):
        async for _batch in claude(upstream, session).stream({**MESSAGE, "stream": True}):
            pass


async def test_anthropics_errors_are_classified_by_status(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    upstream.script("claude-up", Behaviour(status=429, headers={"retry-after": "3"}))
    with pytest.raises(UpstreamRateLimited) as limited:
        await claude(upstream, session).complete(MESSAGE)
    assert limited.value.retry_after == 3.0
    upstream.script("claude-up", Behaviour(status=529))
    with pytest.raises(UpstreamError) as overloaded:
        await claude(upstream, session).complete(MESSAGE)
    assert overloaded.value.retryable and "529" in overloaded.value.message


async def test_tokens_are_counted_by_anthropic(
    upstream: FakeUpstream, session: aiohttp.ClientSession
) -> None:
    counted = orjson.loads(await claude(upstream, session).count_tokens({"model": "c", "messages": []}))
    assert counted == {"input_tokens": 5}
    assert upstream.requests[0].path == "/v1/messages/count_tokens"
