"""Traces through the real server: a `raceway serve` worker exporting to a real OTLP/HTTP
receiver, scripted upstreams racing and hedging, the openai SDK as the client."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Gateways, RunningGateway, serving
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = "00f067aa0ba902b7"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"
SERVER = "POST /v1/chat/completions"
# Spans leave each worker every 50 ms instead of every 5 s: the tests wait for them, bounded.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}
RELEASE = "release"  # a request for this model, sent to the upstream itself, lets a held call answer


def config(upstream: FakeUpstream, endpoint: str, *, timeout: str = "2s") -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 5s, cooldown: {{failures: 1000}}'
    return f"""
    server: {{graceful_timeout: 5s}}
    telemetry:
      traces: {{endpoint: "{endpoint}", sample_ratio: 1.0, timeout: {timeout}}}
    deployments:
      - {{name: quick, {native}, model: quick}}
      - {{name: slow, {native}, model: slow}}
      - {{name: lagging, {native}, model: lagging}}
      - {{name: backup, {native}, model: backup}}
      - {{name: memo, {native}, model: memo}}
      - {{name: narrow, {native}, model: narrow, max_concurrency: 1, max_queue: 4}}
    models:
      - {{name: raced, deployments: [quick, slow], strategy: race}}
      - {{name: hedged, deployments: [lagging, backup], strategy: hedge, hedge_delay: 100ms}}
      - {{name: cached, deployments: [memo], cache: {{mode: always}}}}
      - {{name: queued, deployments: [narrow]}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, receiver: OtlpReceiver, gateways: Gateways) -> RunningGateway:
    return gateways.serve(config(module_upstream, receiver.endpoint), workers=1, env=FAST_EXPORT)


def chat(
    gateway: RunningGateway, model: str, headers: dict[str, str] | None = None, **extra: Any
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "trace me"}], **extra}
    response = httpx.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers or {}, timeout=15)
    assert response.status_code == 200, response.text
    if extra.get("stream"):
        assert "[DONE]" in response.text
    return response


def request_spans(receiver: OtlpReceiver, request_id: str, count: int) -> list[ReceivedSpan]:
    """The spans of the trace whose server span is ``request_id``'s, once ``count`` have arrived."""

    def server(spans: list[ReceivedSpan]) -> ReceivedSpan | None:
        return next((s for s in spans if s.attributes.get("raceway.request_id") == request_id), None)

    def arrived(spans: list[ReceivedSpan]) -> bool:
        found = server(spans)
        return found is not None and sum(s.trace_id == found.trace_id for s in spans) >= count

    spans = receiver.wait_for(arrived)
    found = server(spans)
    assert found is not None
    return [span for span in spans if span.trace_id == found.trace_id]


def attempts(spans: list[ReceivedSpan]) -> dict[str, ReceivedSpan]:
    return {s.attributes["raceway.deployment"]: s for s in spans if "raceway.attempt.number" in s.attributes}


@pytest.mark.parametrize("stream", [False, True])
def test_a_race_has_one_server_span_and_one_span_per_contender(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream, stream: bool
) -> None:
    threaded_upstream.script("slow", Behaviour(stall=True))
    threaded_upstream.script("quick", Behaviour(after="slow"))  # answers once both calls are out
    response = chat(gateway, "raced", stream=stream)
    count = 4 if stream else 3  # server, two attempts (+ the relay)
    spans = request_spans(receiver, response.headers["x-request-id"], count)
    servers = [s for s in spans if s.name == SERVER]
    assert len(servers) == 1 and servers[0].parent_span_id == ""
    server = servers[0]
    assert server.attributes["raceway.deployment"] == "quick"
    contenders = attempts(spans)
    assert set(contenders) == {"quick", "slow"}
    assert {name: s.attributes["raceway.attempt.outcome"] for name, s in contenders.items()} == {
        "quick": "won",
        "slow": "lost-cancelled",
    }
    for span in contenders.values():
        assert span.parent_span_id == server.span_id and span.kind == 3
        assert span.attributes["gen_ai.operation.name"] == "chat"
        assert span.attributes["gen_ai.request.model"] == span.attributes["raceway.deployment"]
    won = contenders["quick"]
    assert won.attributes["gen_ai.provider.name"] == "openai"
    assert won.attributes["gen_ai.response.model"] == "quick"
    assert won.attributes["gen_ai.usage.input_tokens"] > 0
    assert list(won.attributes["gen_ai.response.finish_reasons"]) == ["stop"]  # JSON and stream alike
    # The loser ran until the winner answered, then was cancelled: it ends after the winner's answer.
    assert contenders["slow"].end_ns >= won.start_ns
    if stream:
        (relay,) = [s for s in spans if s.name == "stream relay"]
        assert relay.parent_span_id == server.span_id
        assert relay.attributes["raceway.stream.outcome"] == "complete"
        assert "gen_ai.response.time_to_first_chunk" in won.attributes
    else:
        assert won.attributes["gen_ai.response.finish_reasons"] == ["stop"]


def test_a_hedge_shows_how_long_it_waited(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("lagging", Behaviour(stall=True))
    response = chat(gateway, "hedged")
    assert response.headers["x-raceway-deployment"] == "backup"
    spans = request_spans(receiver, response.headers["x-request-id"], 3)
    calls = attempts(spans)
    first, hedge = calls["lagging"], calls["backup"]
    assert first.attributes["raceway.attempt.hedge"] is False
    assert first.attributes["raceway.attempt.outcome"] == "lost-cancelled"
    assert hedge.attributes["raceway.attempt.hedge"] is True
    assert hedge.attributes["raceway.hedge.delay_s"] == pytest.approx(0.1)
    assert hedge.attributes["raceway.attempt.number"] == 2
    assert hedge.attributes["raceway.attempt.outcome"] == "won"
    # Started after the first call (that it waits exactly its delay is checked on virtual time,
    # tests/test_dispatch.py::test_hedge_starts_the_next_when_the_first_stalls).
    assert hedge.start_ns > first.start_ns


def test_a_cached_answer_has_no_upstream_span(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream
) -> None:
    first = chat(gateway, "cached", temperature=0)
    request_spans(receiver, first.headers["x-request-id"], 3)  # server, lookup (miss), the call
    again = chat(gateway, "cached", temperature=0)
    assert again.headers["x-raceway-cache"] == "hit"
    spans = request_spans(receiver, again.headers["x-request-id"], 2)
    assert sorted(s.name for s in spans) == ["POST /v1/chat/completions", "cache lookup"]
    (lookup,) = [s for s in spans if s.name == "cache lookup"]
    assert lookup.attributes["raceway.cache.result"] == "hit"
    (server,) = [s for s in spans if s.name == SERVER]
    assert server.attributes["raceway.cache"] == "hit"
    assert threaded_upstream.calls("memo") == 1


def test_a_call_that_waited_for_a_slot_has_an_admission_span(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream
) -> None:
    # The first call is held until the second request waits for its slot (however long that
    # takes to come in on a loaded machine), then released by a request for RELEASE.
    threaded_upstream.script("narrow", Behaviour(after=RELEASE), Behaviour())
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(chat, gateway, "queued")
        threaded_upstream_arrived(threaded_upstream, "narrow")  # the slot is taken
        queued = pool.submit(chat, gateway, "queued")
        assert gateway.metric_reaching('raceway_queue_depth{deployment="narrow"}', 1) == 1
        httpx.post(f"{threaded_upstream.base_url}/chat/completions", json={"model": RELEASE, "messages": []})
        second = queued.result()
        first.result()
    spans = request_spans(receiver, second.headers["x-request-id"], 3)
    (call,) = attempts(spans).values()
    (admission,) = [s for s in spans if s.name == "admission"]
    assert admission.parent_span_id == call.span_id
    assert admission.attributes["raceway.admission.queued"] is True
    assert admission.seconds > 0  # it waited for the first call to end (how long is the machine's)


def threaded_upstream_arrived(upstream: FakeUpstream, model: str) -> None:
    deadline = time.monotonic() + 5
    while upstream.calls(model) < 1:
        assert time.monotonic() < deadline, f"no call to {model} arrived"
        time.sleep(0.01)


def test_the_client_trace_is_continued_and_the_upstream_gets_the_attempt_span(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("slow", Behaviour(stall=True))
    threaded_upstream.script("quick", Behaviour(after="slow"))  # both calls go out
    response = chat(gateway, "raced", headers={"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"})
    spans = request_spans(receiver, response.headers["x-request-id"], 3)
    (server,) = [s for s in spans if s.name == SERVER]
    assert server.trace_id == CLIENT_TRACE and server.parent_span_id == CLIENT_PARENT
    sent = {seen.model: seen.headers for seen in threaded_upstream.requests}
    assert set(sent) == {"quick", "slow"}
    contenders = attempts(spans)
    for model, headers in sent.items():
        # Each call carries its own attempt span as parent, in the client's trace.
        assert headers["traceparent"] == f"00-{CLIENT_TRACE}-{contenders[model].span_id}-01"
        assert headers["tracestate"] == "congo=t61rcWkgMzE"


def test_the_latency_histograms_carry_the_trace_id_across_workers(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    chat(gateway, "raced", headers={"traceparent": TRACEPARENT})
    openmetrics = {"accept": "application/openmetrics-text; version=1.0.0"}
    deadline = time.monotonic() + 10  # the worker writes its exemplars once a second
    while True:
        text = httpx.get(f"{gateway.base_url}/metrics", headers=openmetrics, timeout=5).text
        marked = [
            line
            for line in text.splitlines()
            if line.startswith("raceway_request_duration_seconds_bucket{")
            and f'trace_id="{CLIENT_TRACE}"' in line
        ]
        if marked or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert marked, "no exemplar with the request's trace id"
    assert text.rstrip().endswith("# EOF")
    classic = httpx.get(f"{gateway.base_url}/metrics", timeout=5).text  # a scraper without OpenMetrics
    assert "# {" not in classic


@pytest.mark.parametrize("stream", [False, True])
def test_a_messages_request_is_traced_in_its_dialect(
    gateway: RunningGateway, receiver: OtlpReceiver, threaded_upstream: FakeUpstream, stream: bool
) -> None:
    body = {
        "model": "raced",
        "max_tokens": 32,
        "stream": stream,
        "messages": [{"role": "user", "content": "trace me"}],
    }
    response = httpx.post(f"{gateway.api_url}/messages", json=body, timeout=15)
    assert response.status_code == 200, response.text
    spans = request_spans(receiver, response.headers["x-request-id"], 4 if stream else 3)
    (server,) = [s for s in spans if s.parent_span_id == ""]
    assert server.name == "POST /v1/messages"
    assert server.attributes["raceway.dialect"] == "messages"
    assert server.attributes["raceway.upstream_api"] == "chat"  # translated to the chat upstream
    won = [s for s in attempts(spans).values() if s.attributes["raceway.attempt.outcome"] == "won"]
    assert len(won) == 1 and won[0].attributes["gen_ai.operation.name"] == "chat"
    # The attempt's span reads the answer as the client gets it: Anthropic's stop reason.
    assert list(won[0].attributes["gen_ai.response.finish_reasons"]) == ["end_turn"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_collector_that_is_down_changes_nothing_for_requests_and_drops_are_counted(
    module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    module_upstream.reset()
    down = f"http://127.0.0.1:{_closed_port()}"
    with serving(
        config(module_upstream, down, timeout="500ms"), tmp_path, workers=2, env=FAST_EXPORT
    ) as gateway:
        for _ in range(6):
            response = chat(gateway, "raced")
            assert response.headers["x-raceway-deployment"] in {"quick", "slow"}
        chat(gateway, "raced", stream=True)
        dropped = 'raceway_trace_spans_dropped_total{reason="export_failed"}'
        assert _wait_for_metric(gateway, dropped, minimum=1) >= 1


def _wait_for_metric(gateway: RunningGateway, sample: str, *, minimum: float, timeout: float = 15.0) -> float:
    """The sample's value once it reaches ``minimum``, else after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = gateway.metric(sample)
        if value >= minimum or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
