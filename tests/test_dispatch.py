"""Fallback: the next deployment only on a retryable failure; streams commit on first content."""

from collections.abc import AsyncIterator

import orjson
import pytest

from router.config import GatewayConfig, ServerSettings
from router.dispatch import Dispatcher
from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.providers import ProviderSet
from tests.helpers import CHAT, group, native
from tests.upstream import Behaviour, FakeUpstream


@pytest.fixture
async def providers(upstream: FakeUpstream) -> AsyncIterator[ProviderSet]:
    deployments = {
        name: native(name, upstream.base_url, timeout=0.5) for name in ("first", "second", "third")
    }
    deployments["refused"] = native("refused", "http://127.0.0.1:9/v1")
    config = GatewayConfig(server=ServerSettings(), deployments=deployments, models={}, keys=(), hash="t")
    providers = ProviderSet.open(config)
    yield providers
    await providers.close()


async def test_first_success_is_used(upstream: FakeUpstream, providers: ProviderSet) -> None:
    completion = await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    assert (completion.deployment, completion.attempts) == ("first", 1)
    assert upstream.calls("second") == 0


@pytest.mark.parametrize(
    "failure",
    [Behaviour(status=500), Behaviour(status=429), Behaviour(delay=2.0), Behaviour(status=503)],
    ids=["500", "429", "timeout", "503"],
)
async def test_retryable_failures_fall_back(
    upstream: FakeUpstream, providers: ProviderSet, failure: Behaviour
) -> None:
    upstream.script("first", failure)
    completion = await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    assert (completion.deployment, completion.attempts) == ("second", 2)


async def test_connection_refused_falls_back(upstream: FakeUpstream, providers: ProviderSet) -> None:
    completion = await Dispatcher(providers).chat(group("m", "refused", "first"), CHAT)
    assert completion.deployment == "first"


async def test_request_errors_are_not_retried(upstream: FakeUpstream, providers: ProviderSet) -> None:
    upstream.script("first", Behaviour(status=400))
    with pytest.raises(UpstreamRejected):
        await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    assert upstream.calls("second") == 0


async def test_exhausted_group_reports_the_telling_class(
    upstream: FakeUpstream, providers: ProviderSet
) -> None:
    upstream.script("first", Behaviour(status=429, headers={"retry-after": "4"}))
    upstream.script("second", Behaviour(status=429, headers={"retry-after": "2"}))
    with pytest.raises(UpstreamRateLimited) as limited:
        await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    assert limited.value.retry_after == 2.0
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(delay=2.0))
    with pytest.raises(UpstreamTimeout):
        await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    upstream.script("second", Behaviour(status=502))
    with pytest.raises(UpstreamError) as failed:
        await Dispatcher(providers).chat(group("m", "first", "second"), CHAT)
    assert failed.value.status_code == 502 and "first" in failed.value.message


async def test_stream_that_dies_before_content_falls_back(
    upstream: FakeUpstream, providers: ProviderSet
) -> None:
    upstream.script("first", Behaviour(cut_after=0))
    upstream.script("second", Behaviour(reply="fine thanks"))
    opened = await Dispatcher(providers).open_stream(group("m", "first", "second"), {**CHAT, "stream": True})
    events = [event async for event in opened.events()]
    assert opened.deployment == "second" and opened.attempts == 2
    text = "".join(
        (orjson.loads(e[6:])["choices"] or [{}])[0].get("delta", {}).get("content") or "" for e in events[:-1]
    )
    assert text == "fine thanks" and events[-1] == b"data: [DONE]\n\n"


async def test_stream_head_holds_events_up_to_first_content(
    upstream: FakeUpstream, providers: ProviderSet
) -> None:
    upstream.script("first", Behaviour(reply="a b c", chunk_delay=0.05))
    opened = await Dispatcher(providers).open_stream(group("m", "first"), {**CHAT, "stream": True})
    assert len(opened.head) == 2  # the role chunk and the first word, nothing more yet
    await opened.aclose()


async def test_stream_cut_after_content_raises_to_the_relay(
    upstream: FakeUpstream, providers: ProviderSet
) -> None:
    upstream.script("first", Behaviour(reply="a b c d", cut_after=2))
    opened = await Dispatcher(providers).open_stream(group("m", "first", "second"), {**CHAT, "stream": True})
    with pytest.raises(UpstreamError):
        async for _ in opened.events():
            pass
    assert upstream.calls("second") == 0  # committed: no silent switch midway


async def test_a_group_with_nothing_usable_is_503(providers: ProviderSet) -> None:
    from router.errors import NoDeploymentAvailable

    with pytest.raises(NoDeploymentAvailable) as caught:
        await Dispatcher(providers).chat(group("m", "not-built"), CHAT)
    assert caught.value.status_code == 503
