"""Each upstream timeout fires on its own phase and becomes a classified, retryable 504."""

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
        models:
          - {{name: total, deployments: [total]}}
          - {{name: first, deployments: [first]}}
          - {{name: idle, deployments: [idle]}}
          - {{name: connect, deployments: [connect]}}
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
