"""Each upstream timeout fires on its own phase and becomes a classified, retryable 504:
connect_timeout the connection, first_chunk_timeout the headers and first content,
idle_timeout the silences after it, timeout the whole call."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from router.errors import UpstreamTimeout
from tests.harness import Harness, build_harness, stream_text
from tests.upstream import Behaviour, FakeUpstream


@pytest.fixture
def unaccepting_port() -> Iterator[int]:
    """A port whose listen queue is full: connection attempts hang instead of being refused."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.fixture
async def harness(upstream: FakeUpstream, unaccepting_port: int) -> AsyncIterator[Harness]:
    built = build_harness(
        upstream,
        f"""
        deployments:
          - {{name: total, provider: openai, base_url: '{{base}}', model: total, timeout: 300ms}}
          - {{name: first, provider: openai, base_url: '{{base}}', model: first, first_chunk_timeout: 300ms}}
          - {{name: idle, provider: openai, base_url: '{{base}}', model: idle, idle_timeout: 300ms}}
          - {{name: connect, provider: openai, base_url: 'http://127.0.0.1:{unaccepting_port}/v1', model: x,
             connect_timeout: 300ms}}
          - {{name: phases-chat, provider: openai, base_url: '{{base}}', model: phases-chat,
             first_chunk_timeout: 2s, idle_timeout: 500ms}}
          - {{name: phases-messages, provider: anthropic, base_url: '{upstream.root_url}',
             model: phases-messages, first_chunk_timeout: 2s, idle_timeout: 500ms}}
        models:
          - {{name: total, deployments: [total]}}
          - {{name: first, deployments: [first]}}
          - {{name: idle, deployments: [idle]}}
          - {{name: connect, deployments: [connect]}}
          - {{name: phases-chat, deployments: [phases-chat]}}
          - {{name: phases-messages, deployments: [phases-messages]}}
        """,
    )
    yield built
    await built.close()


async def test_total_timeout(harness: Harness, upstream: FakeUpstream) -> None:
    upstream.script("total", Behaviour(delay=2.0))
    with pytest.raises(UpstreamTimeout) as caught:
        await harness.chat("total")
    assert "did not finish within 0.3s" in caught.value.message and caught.value.status_code == 504


async def test_first_chunk_timeout(harness: Harness, upstream: FakeUpstream) -> None:
    upstream.script("first", Behaviour(first_content_delay=2.0))
    with pytest.raises(UpstreamTimeout) as caught:
        await harness.stream("first")
    assert "sent no content within 0.3s" in caught.value.message


async def test_idle_timeout_between_chunks(harness: Harness, upstream: FakeUpstream) -> None:
    upstream.script("idle", Behaviour(reply="a b c", chunk_delay=2.0))
    body = harness.body("idle", stream=True)

    opened = await harness.open_stream(body)
    with pytest.raises(UpstreamTimeout) as caught:
        await stream_text(opened)
    assert caught.value.code == "upstream_idle_timeout"


async def test_connect_timeout(harness: Harness) -> None:
    with pytest.raises(UpstreamTimeout) as caught:
        await harness.chat("connect")
    assert caught.value.code == "upstream_connect_timeout" and caught.value.retryable


# Both native wires: chat (OpenAI-compatible) and Anthropic's Messages.
PHASED = pytest.mark.parametrize("model", ["phases-chat", "phases-messages"])


@PHASED
async def test_a_first_content_later_than_the_idle_timeout_is_waited_for(
    harness: Harness, upstream: FakeUpstream, model: str
) -> None:
    """Headers after 0.6 s and the first content after 1.2 s, both beyond idle_timeout (0.5 s) and
    within first_chunk_timeout (2 s): a reasoning model thinking before it speaks."""
    upstream.script(model, Behaviour(reply="slow thought", delay=0.6, first_content_delay=0.6))
    _, text = await harness.stream(model)
    assert text == "slow thought"


@PHASED
async def test_a_silence_after_the_first_content_is_cut_by_the_idle_timeout(
    harness: Harness, upstream: FakeUpstream, model: str
) -> None:
    upstream.script(model, Behaviour(reply="a b", chunk_delay=1.0))
    opened = await harness.open_stream(harness.body(model, stream=True))
    with pytest.raises(UpstreamTimeout) as caught:
        await stream_text(opened)
    assert (
        caught.value.code == "upstream_idle_timeout" and "silent for more than 0.5s" in caught.value.message
    )


@PHASED
async def test_the_first_content_is_still_bounded_by_its_own_timer(
    harness: Harness, upstream: FakeUpstream, model: str
) -> None:
    upstream.script(model, Behaviour(first_content_delay=3.0))
    with pytest.raises(UpstreamTimeout) as caught:
        await harness.stream(model)
    assert "sent no content within 2s" in caught.value.message
