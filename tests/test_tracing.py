"""Request traces (router/telemetry/tracing.py, and otel.py, otel_spans.py, otel_export.py behind
it): the no-op side, and the real one exporting to a real OTLP/HTTP receiver."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from router.config.secret import Secret
from router.config.telemetry import TraceSettings
from router.errors import Saturated, UpstreamError
from router.telemetry import tracing
from router.telemetry.exchange import Exchange, Recorder
from router.telemetry.exposition import render
from router.telemetry.labels import StreamOutcome
from router.telemetry.metrics import Metrics
from router.telemetry.otel import OtelTracing
from router.telemetry.otel_spans import OtelAttemptSpan, OtelRequestTrace, OtelSpan
from router.telemetry.traces import start_tracing
from router.telemetry.tracing import NO_ATTEMPT, NO_TRACE, OFF, current_trace, make_current
from router.wire.dialect import Dialect
from router.wire.usage import Usage
from tests.helpers import native
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_PARENT = "b7ad6b7169203331"
TRACEPARENT = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-01"
DEPLOYMENT = native(
    "primary",
    "https://user:pw@api.example.com/v1",
    "gpt-4o-mini",
    headers={"x-secret-header": Secret("hdr-secret-value")},
)
ANSWER = {
    "id": "chatcmpl-1",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "the answer"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": 8}},
}


@pytest.fixture(autouse=True)
def no_current_trace() -> Iterator[None]:
    """``begin`` makes its trace current in the test's context: no test leaves one behind."""
    yield
    make_current(NO_TRACE)


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())


def by_name(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [span for span in spans if span.name == name]


def test_off_is_a_shared_no_op(metrics: Metrics) -> None:
    tracing = start_tracing(None, metrics)
    assert tracing is OFF and not tracing.enabled
    trace = tracing.begin({"traceparent": TRACEPARENT}, "r1", "/v1/chat/completions")
    assert trace is NO_TRACE and current_trace() is NO_TRACE
    attempt = trace.attempt(DEPLOYMENT, number=1)
    assert attempt is NO_ATTEMPT
    given = {"traceparent": TRACEPARENT}
    assert attempt.propagate(given) is given  # the client's context goes upstream as before
    assert trace.exemplar() is None


@pytest.mark.parametrize(
    ("protocol", "implementations"),
    [
        (tracing.Tracing, (tracing.TracingOff, OtelTracing)),
        (tracing.RequestTrace, (tracing.UntracedRequest, OtelRequestTrace)),
        (tracing.AttemptSpan, (tracing.UntracedAttempt, OtelAttemptSpan)),
        (tracing.Span, (tracing.UntracedSpan, OtelSpan)),
    ],
)
def test_both_sides_implement_every_method_of_the_protocols(
    protocol: type[object], implementations: tuple[type[object], ...]
) -> None:
    # Neither side inherits a body from the protocol: a method one of them lacks is missing, not
    # a silent no-op (mypy --strict reports it where the object is used as the protocol).
    members = sorted(
        name for name, value in vars(protocol).items() if not name.startswith("_") and callable(value)
    )
    assert members
    for implementation in implementations:
        assert protocol not in implementation.__mro__
        missing = [name for name in members if not callable(vars(implementation).get(name))]
        assert not missing, f"{implementation.__name__} lacks {missing}"


def test_tracing_off_never_imports_opentelemetry() -> None:
    # A worker's whole start on a config without telemetry, and a request through it.
    script = """
import asyncio, sys, httpx
from router.config.load import parse_config
from router.http.app import create_app

config = parse_config(
    b"deployments: [{name: f, provider: fake}]\\nmodels: [{name: m, deployments: [f]}]\\n", {}
)

async def main():
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            headers = {"traceparent": "TRACEPARENT"}
            answer = await client.post("/v1/chat/completions", json=chat, headers=headers)
            assert answer.status_code == 200, answer.text
    loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
    assert not loaded, loaded
    print("ok")

asyncio.run(main())
""".replace("TRACEPARENT", TRACEPARENT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ok"  # after the request's access-log line


def test_a_request_continues_the_client_trace_and_sends_the_attempt_span_upstream(
    receiver: OtlpReceiver, metrics: Metrics
) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint), metrics)
    trace = tracing.begin({"traceparent": TRACEPARENT}, "req-1", "/v1/chat/completions")
    assert current_trace() is trace
    attempt = trace.attempt(DEPLOYMENT, number=1)
    sent = attempt.propagate({"traceparent": TRACEPARENT})
    attempt.admitting()
    attempt.admitted(queued=True)  # it waited for a concurrency slot: an admission span
    attempt.answered(ANSWER, Usage(12, 3, cache_read=8))
    attempt.ended()  # a JSON answer ends its attempt before the round says it won...
    attempt.won()  # ...and only then is the span complete
    exchange = Exchange("req-1", "/v1/chat/completions", key="team-a", model="public", deployment="primary")
    trace.finish(exchange, 200)
    tracing.shutdown()

    spans = receiver.wait_for(lambda spans: len([s for s in spans if s.trace_id == CLIENT_TRACE]) >= 3)
    spans = receiver.trace(CLIENT_TRACE)
    (server,) = by_name(spans, "POST /v1/chat/completions")
    (call,) = by_name(spans, "chat gpt-4o-mini")
    (admission,) = by_name(spans, "admission")
    assert server.parent_span_id == CLIENT_PARENT and server.kind == 2
    assert server.attributes["raceway.request_id"] == "req-1"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["raceway.key"] == "team-a"
    assert call.parent_span_id == server.span_id and call.kind == 3
    assert admission.parent_span_id == call.span_id
    assert sent["traceparent"] == f"00-{CLIENT_TRACE}-{call.span_id}-01"
    assert call.attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 3,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "raceway.deployment": "primary",
        "raceway.upstream_api": "chat",
        "raceway.attempt.number": 1,
        "raceway.attempt.hedge": False,
        "raceway.attempt.outcome": "won",
        "server.address": "api.example.com",
        "server.port": 443,
    }
    shown = repr([span.attributes for span in spans])
    for secret in ("sk-test-upstream-key", "hdr-secret-value", "pw"):
        assert secret not in shown
    assert "the answer" not in shown  # no completion text without capture_content


def test_race_losers_failures_and_refusals_have_their_outcome(
    receiver: OtlpReceiver, metrics: Metrics
) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint), metrics)
    trace = tracing.begin({}, "req-2", "/v1/chat/completions")
    winner = trace.attempt(DEPLOYMENT, number=1)
    loser = trace.attempt(native("second", "http://127.0.0.1:9/v1"), number=2, hedge_delay=0.25)
    failed = trace.attempt(native("third", "http://127.0.0.1:9/v1"), number=3)
    refused = trace.attempt(native("fourth", "http://127.0.0.1:9/v1"), number=4)
    failed.failed(UpstreamError("boom", deployment="third", code="upstream_error"))
    failed.ended()
    refused.admitting()
    refused.admitted(refused="queue_full")
    refused.failed(Saturated("full", reason="queue_full", deployment="fourth"))
    refused.ended()
    winner.opened(0.12, [b'data: {"id":"c1","model":"gpt-4o-mini-x","choices":[]}\n\n'])
    winner.won()
    loser.losing()
    loser.failed(asyncio.CancelledError())
    loser.ended()
    winner.stream_ended(StreamOutcome.COMPLETE, Usage(5, 7))
    winner.ended()
    trace.finish(Exchange("req-2", "/v1/chat/completions", stream=True, first_token=0.13), 200)
    tracing.shutdown()

    spans = receiver.wait_for(
        lambda spans: any(s.attributes.get("raceway.request_id") == "req-2" for s in spans)
    )
    trace_id = next(s.trace_id for s in spans if s.attributes.get("raceway.request_id") == "req-2")
    spans = receiver.trace(trace_id)
    outcomes = {
        s.attributes["raceway.deployment"]: s.attributes["raceway.attempt.outcome"]
        for s in spans
        if "raceway.attempt.outcome" in s.attributes
    }
    assert outcomes == {"primary": "won", "second": "lost-cancelled", "third": "failed", "fourth": "rejected"}
    (hedge,) = [s for s in spans if s.attributes.get("raceway.deployment") == "second"]
    assert (
        hedge.attributes["raceway.attempt.hedge"] is True
        and hedge.attributes["raceway.hedge.delay_s"] == 0.25
    )
    (third,) = [s for s in spans if s.attributes.get("raceway.deployment") == "third"]
    assert third.attributes["error.type"] == "upstream_error" and third.status_code == 2
    (won,) = [s for s in spans if s.attributes.get("raceway.deployment") == "primary"]
    assert won.attributes["gen_ai.response.time_to_first_chunk"] == 0.12
    assert won.attributes["gen_ai.usage.output_tokens"] == 7
    assert won.attributes["gen_ai.response.model"] == "gpt-4o-mini-x"
    (relay,) = by_name(spans, "stream relay")
    assert relay.attributes["raceway.stream.outcome"] == "complete"
    (admission,) = by_name(spans, "admission")
    assert admission.attributes["error.type"] == "queue_full"


def test_capture_content_puts_prompt_and_completion_on_the_attempt(
    receiver: OtlpReceiver, metrics: Metrics
) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint, capture_content=True), metrics)
    trace = tracing.begin({}, "req-3", "/v1/chat/completions")
    trace.request_body({"messages": [{"role": "user", "content": "the question"}]})
    attempt = trace.attempt(DEPLOYMENT, number=1)
    attempt.answered(ANSWER, Usage(12, 3, cache_read=8))
    attempt.ended()
    attempt.won()
    trace.finish(Exchange("req-3", "/v1/chat/completions"), 200)
    tracing.shutdown()
    spans = receiver.wait_for(
        lambda spans: any(
            s.name == "chat gpt-4o-mini" and "gen_ai.input.messages" in s.attributes for s in spans
        )
    )
    (call,) = [s for s in spans if "gen_ai.input.messages" in s.attributes]
    assert "the question" in call.attributes["gen_ai.input.messages"]
    assert "the answer" in call.attributes["gen_ai.output.messages"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_collector_drops_spans_and_counts_them(metrics: Metrics) -> None:
    settings = TraceSettings(endpoint=f"http://127.0.0.1:{_closed_port()}", timeout=0.5)
    tracing = start_tracing(settings, metrics)
    for index in range(3):
        tracing.begin({}, f"r{index}", "/v1/chat/completions").finish(
            Exchange(f"r{index}", "/v1/chat/completions"), 200
        )
    tracing.shutdown()  # exports what is queued: it fails
    assert metrics.registry is not None
    assert (
        metrics.registry.get_sample_value("raceway_trace_spans_dropped_total", {"reason": "export_failed"})
        == 3
    )


def test_a_full_queue_drops_spans_and_counts_them(
    receiver: OtlpReceiver, metrics: Metrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "2")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")  # nothing leaves the queue until shutdown
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint), metrics)
    for index in range(5):
        tracing.begin({}, f"q{index}", "/v1/chat/completions").finish(
            Exchange(f"q{index}", "/v1/chat/completions"), 200
        )
    assert metrics.registry is not None
    assert (
        metrics.registry.get_sample_value("raceway_trace_spans_dropped_total", {"reason": "queue_full"}) == 3
    )
    tracing.shutdown()


def test_latency_histograms_carry_the_trace_id_as_an_exemplar(
    receiver: OtlpReceiver, metrics: Metrics
) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint), metrics)
    exchange = Exchange("req-4", "/v1/chat/completions", model="public")
    exchange.trace = tracing.begin({"traceparent": TRACEPARENT}, "req-4", "/v1/chat/completions")
    Recorder(metrics, access_log=None).finish(exchange, 200)
    tracing.shutdown()
    text, content_type = render(
        metrics.registry, accept="application/openmetrics-text; version=1.0.0", exemplars=True
    )
    assert content_type.startswith("application/openmetrics-text")
    exemplars = [line for line in text.decode().splitlines() if "# {" in line]
    assert exemplars and all(f'trace_id="{CLIENT_TRACE}"' in line for line in exemplars)
    assert any(line.startswith("raceway_request_duration_seconds_bucket") for line in exemplars)
    classic, _ = render(metrics.registry)  # a scraper that does not ask for OpenMetrics
    assert b"# {" not in classic


def test_sampling_follows_the_client_and_else_the_ratio(receiver: OtlpReceiver, metrics: Metrics) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint, sample_ratio=0.0), metrics)
    # No client context: the ratio (0) decides; the request is not traced at all.
    assert tracing.begin({}, "req-5", "/v1/chat/completions") is NO_TRACE
    # The client sampled its trace: it is continued, whatever the ratio.
    sampled = tracing.begin({"traceparent": TRACEPARENT}, "req-6", "/v1/chat/completions")
    assert sampled is not NO_TRACE and sampled.exemplar() == {"trace_id": CLIENT_TRACE}
    # The client did not sample: not traced; its context goes upstream as it came.
    unsampled = f"00-{CLIENT_TRACE}-{CLIENT_PARENT}-00"
    trace = tracing.begin({"traceparent": unsampled}, "req-7", "/v1/chat/completions")
    assert trace is NO_TRACE and current_trace() is NO_TRACE
    assert trace.attempt(DEPLOYMENT, number=1).propagate({"traceparent": unsampled}) == {
        "traceparent": unsampled
    }
    # A malformed traceparent counts as none.
    assert tracing.begin({"traceparent": "00-zz-01"}, "req-8", "/v1/chat/completions") is NO_TRACE
    tracing.shutdown()


def test_a_ratio_samples_about_that_share(receiver: OtlpReceiver, metrics: Metrics) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint, sample_ratio=0.25), metrics)
    traced = sum(tracing.begin({}, f"s{i}", "/v1/chat/completions") is not NO_TRACE for i in range(2000))
    assert 350 < traced < 650  # 500 expected; the bounds are over 6 standard deviations away
    tracing.shutdown()


def test_attempts_read_every_dialects_answers_and_endpoints_name_their_operation(
    receiver: OtlpReceiver, metrics: Metrics
) -> None:
    tracing = start_tracing(TraceSettings(endpoint=receiver.endpoint), metrics)
    trace = tracing.begin({}, "req-9", "/v1/completions")
    claude = native("claude", "https://api.anthropic.com", "claude-sonnet-4-5", provider="anthropic")
    attempt = trace.attempt(claude, number=1)
    message = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-sonnet-4-5-20250929",
        "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 4, "output_tokens": 2, "cache_creation_input_tokens": 3},
    }
    attempt.answered(message, Usage(7, 2, cache_write=3))
    attempt.ended()
    attempt.won()
    trace.finish(
        Exchange("req-9", "/v1/completions", dialect=Dialect.COMPLETIONS, upstream_api=Dialect.MESSAGES), 200
    )
    tracing.shutdown()
    spans = receiver.wait_for(lambda spans: any(s.name == "text_completion claude-sonnet-4-5" for s in spans))
    (call,) = [s for s in spans if s.name == "text_completion claude-sonnet-4-5"]
    assert call.attributes["gen_ai.provider.name"] == "anthropic"
    assert call.attributes["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert call.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert call.attributes["gen_ai.usage.input_tokens"] == 7
    assert call.attributes["gen_ai.usage.cache_creation.input_tokens"] == 3
    (server,) = [s for s in spans if s.attributes.get("raceway.request_id") == "req-9"]
    assert server.attributes["raceway.dialect"] == "completions"
    assert server.attributes["raceway.upstream_api"] == "messages"
