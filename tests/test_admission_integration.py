"""Admission control on the real server: caps and queues, rate limits, disconnects, draining."""

from __future__ import annotations

import asyncio
import signal
import textwrap
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import RunningGateway, start_gateway
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

KEY = "rw-admission-key-1"
THROTTLED_KEY = "rw-throttled-key-2"
RELEASE = "release"  # a request for this model, sent to the upstream itself, lets held calls answer


def config(upstream: FakeUpstream) -> str:
    base = upstream.base_url
    return textwrap.dedent(
        f"""\
        server: {{graceful_timeout: 15s}}
        deployments:
          - {{name: capped, provider: openai, base_url: "{base}", model: capped,
             max_concurrency: 2, max_queue: 3, queue_timeout: 10s}}
          - {{name: limited, provider: openai, base_url: "{base}", model: limited, rpm: 3}}
          - {{name: streamer, provider: openai, base_url: "{base}", model: streamer}}
          - {{name: stalled, provider: openai, base_url: "{base}", model: stalled}}
        models:
          - {{name: capped, deployments: [capped]}}
          - {{name: limited, deployments: [limited]}}
          - {{name: streamer, deployments: [streamer]}}
          - {{name: stalled, deployments: [stalled]}}
        keys:
          - {{name: main, key: "{KEY}"}}
          - {{name: throttled, key: "{THROTTLED_KEY}", rpm: 2}}
        """
    )


@pytest.fixture
def gateway(
    threaded_upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    """One worker, so a cap of 2 with a queue of 3 is exactly that (each worker enforces its share)."""
    path = tmp_path_factory.mktemp("admission") / "gateway.yaml"
    path.write_text(config(threaded_upstream))
    running = start_gateway(path, workers=1)
    yield running
    running.stop()


def body(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **extra}


def metric(gateway: RunningGateway, prefix: str) -> float:
    for line in httpx.get(f"{gateway.base_url}/metrics").text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def settles_to_zero(gateway: RunningGateway, sample: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while metric(gateway, sample) and time.monotonic() < deadline:
        time.sleep(0.05)
    return metric(gateway, sample) == 0


async def burst(gateway: RunningGateway, model: str, count: int, key: str = KEY) -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=20, headers={"authorization": f"Bearer {key}"}) as client:
        return await asyncio.gather(
            *(client.post(f"{gateway.api_url}/chat/completions", json=body(model)) for _ in range(count))
        )


def test_cap_and_queue_serve_five_of_ten_and_refuse_the_rest_at_once(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    # The upstream holds the calls it gets until the test releases them: no slot frees before.
    threaded_upstream.script("capped", Behaviour(after=RELEASE))

    async def main() -> tuple[list[httpx.Response], list[httpx.Response]]:
        async with (
            httpx.AsyncClient(timeout=20, headers={"authorization": f"Bearer {KEY}"}) as client,
            asyncio.TaskGroup() as group,
        ):
            url = f"{gateway.api_url}/chat/completions"
            calls = [group.create_task(client.post(url, json=body("capped"))) for _ in range(10)]
            while sum(call.done() for call in calls) < 5:
                await asyncio.wait([call for call in calls if not call.done()], return_when="FIRST_COMPLETED")
            early = [call.result() for call in calls if call.done()]
            await threaded_upstream.arrived_here("capped", 2)
            assert threaded_upstream.calls("capped") == 2  # two at the upstream, three queued, held
            await client.post(f"{threaded_upstream.base_url}/chat/completions", json=body(RELEASE))
        return early, [call.result() for call in calls]

    early, responses = asyncio.run(main())
    # Answered while every slot was still taken: refused at once, not after waiting for a slot.
    assert sorted(r.status_code for r in early) == [429] * 5
    assert sorted(r.status_code for r in responses) == [200] * 5 + [429] * 5
    assert all(r.headers.get("retry-after") for r in early)
    assert threaded_upstream.calls("capped") == 5
    assert metric(gateway, 'raceway_rejected_total{deployment="capped",reason="queue_full"}') == 5
    assert metric(gateway, 'raceway_inflight{deployment="capped"}') == 0
    assert metric(gateway, 'raceway_queue_depth{deployment="capped"}') == 0


def test_requests_per_minute_reject_a_burst(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    statuses = sorted(r.status_code for r in asyncio.run(burst(gateway, "limited", 5)))
    assert statuses == [200, 200, 200, 429, 429]
    assert threaded_upstream.calls("limited") == 3


def test_a_keys_own_rate_limit(gateway: RunningGateway) -> None:
    statuses = sorted(r.status_code for r in asyncio.run(burst(gateway, "streamer", 4, THROTTLED_KEY)))
    assert statuses == [200, 200, 429, 429]
    assert metric(gateway, 'raceway_worker_limit{kind="rpm",name="throttled",scope="key"}') == 2


def test_a_client_that_leaves_cancels_the_upstream_call(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("stalled", Behaviour(stall=True))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.api_url}/chat/completions",
            json=body("stalled"),
            headers={"authorization": f"Bearer {KEY}"},
            timeout=httpx.Timeout(5, read=0.5),
        )
    assert threaded_upstream.wait_for_disconnect("stalled")
    assert settles_to_zero(gateway, 'raceway_inflight{deployment="stalled"}')


def test_a_client_that_leaves_mid_stream_releases_the_stream(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("streamer", Behaviour(reply="a b c d e f g h", chunk_delay=0.3))
    with httpx.stream(
        "POST",
        f"{gateway.api_url}/chat/completions",
        json=body("streamer", stream=True),
        headers={"authorization": f"Bearer {KEY}"},
        timeout=10,
    ) as response:
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
    assert threaded_upstream.wait_for_disconnect("streamer")
    assert settles_to_zero(gateway, 'raceway_inflight{deployment="streamer"}')
    # The abandoned stream is still counted, as a client-closed request.
    assert metric(gateway, 'raceway_requests_total{model="streamer",status_class="4xx"}') == 1
    assert metric(gateway, 'raceway_upstream_requests_total{deployment="streamer",outcome="cancelled"}') == 1


def test_sigterm_lets_twenty_open_streams_finish(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "streamer", Behaviour(reply="one two three four five six seven eight", chunk_delay=0.15)
    )
    endings: list[str] = []
    first_chunk = threading.Barrier(21, timeout=10)

    def read_and_signal() -> None:
        with httpx.stream(
            "POST",
            f"{gateway.api_url}/chat/completions",
            json=body("streamer", stream=True),
            headers={"authorization": f"Bearer {KEY}"},
            timeout=20,
        ) as response:
            received = []
            for line in response.iter_lines():
                if line:
                    received.append(line)
                    if len(received) == 2:
                        first_chunk.wait()
            endings.append(received[-1])

    threads = [threading.Thread(target=read_and_signal) for _ in range(20)]
    for thread in threads:
        thread.start()
    first_chunk.wait()  # all 20 streams are under way
    gateway.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(30)
    assert endings == ["data: [DONE]"] * 20
    assert gateway.process.wait(30) == 0
