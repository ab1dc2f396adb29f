"""Streams that survive their upstream, and what a continuation counts for: the request's
attempts and deadline, its fallback groups, its cost, the answer cache, the client's opt-in SSE
comment, and the trace (the continuation's span linked to the broken call's), on the real
server exporting to a real OTLP receiver.
"""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.otlp_receiver import OtlpReceiver
from tests.sdks import Sdks
from tests.test_stream_resume_integration import PREFIX, SCRIPT, USER, chat_text, requests_for, resumes
from tests.test_tracing_integration import FAST_EXPORT, attempts, request_spans
from tests.test_upstream_faults_integration import access_log_line
from tests.upstream import Behaviour, FakeUpstream
from tests.upstream_wires import COMPLETION_TOKENS, PROMPT_TOKENS

pytestmark = pytest.mark.integration

# USD per million tokens: the cut call is priced apart from its continuation, so the sum shows.
CUT_PRICE = {"input": 1_000_000, "output": 2_000_000}
PREFILL_PRICE = {"input": 10_000_000, "output": 20_000_000}


def gateway_config(upstream: FakeUpstream, endpoint: str) -> str:
    base, root = upstream.base_url, upstream.root_url
    never = "cooldown: {failures: 1000}"

    def price(of: dict[str, int]) -> str:
        return f"price: {{input: {of['input']}, output: {of['output']}}}"

    return f"""
    telemetry:
      traces: {{endpoint: "{endpoint}", sample_ratio: 1.0}}
    deployments:
      - {{name: cut-chat, provider: openai, base_url: "{base}", model: cut-chat, {never}}}
      - {{name: cut-msgs, provider: anthropic, base_url: "{root}", model: cut-msgs, {price(CUT_PRICE)},
         {never}}}
      - {{name: prefill, provider: anthropic, base_url: "{root}", model: prefill, {price(PREFILL_PRICE)},
         {never}}}
      - {{name: plain, provider: openai, base_url: "{base}", model: plain, {never}}}
    models:
      - {{name: resumed, deployments: [cut-chat, prefill], resume: {{}}}}
      - {{name: priced, deployments: [cut-msgs, prefill], resume: {{}}}}
      - {{name: two-calls, deployments: [cut-chat, cut-msgs, prefill], max_attempts: 2,
         resume: {{max_resumes: 5}}}}
      - {{name: short, deployments: [cut-chat, prefill], deadline: 1s, resume: {{}}}}
      - {{name: backed, deployments: [cut-chat, plain], fallbacks: [backup], resume: {{}}}}
      - {{name: backup, deployments: [prefill]}}
      - {{name: cached, deployments: [cut-chat, prefill], cache: {{mode: always}}, resume: {{}}}}
      - {{name: uncached, deployments: [cut-chat, prefill], cache: {{mode: always}},
         resume: {{cache: false}}}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, receiver: OtlpReceiver, gateways: Gateways) -> RunningGateway:
    config = gateway_config(module_upstream, receiver.endpoint)
    return gateways.serve(config, workers=1, env=FAST_EXPORT)


@pytest.fixture
def client(gateway: RunningGateway, sdks: Sdks) -> openai.OpenAI:
    return sdks.openai(gateway)


def cut_then_continued(upstream: FakeUpstream, cut: str = "cut-chat") -> None:
    upstream.script(cut, Behaviour(reply=SCRIPT, cut_after=2))
    upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))


def test_the_continuations_span_links_to_the_broken_calls_span(
    gateway: RunningGateway, client: openai.OpenAI, receiver: OtlpReceiver, threaded_upstream: FakeUpstream
) -> None:
    cut_then_continued(threaded_upstream)
    text, _ids = chat_text(client, "resumed", "resume-traced")
    assert text == SCRIPT
    spans = attempts(request_spans(receiver, "resume-traced", 4))  # server, two attempts, the relay
    broken, continuation = spans["cut-chat"], spans["prefill"]
    assert broken.attributes["raceway.stream.outcome"] == "cut"
    assert continuation.attributes["raceway.resume.from"] == "cut-chat"
    assert continuation.links == [
        (
            broken.trace_id,
            broken.span_id,
            {"raceway.link": "resumes", "raceway.resume.at_chars": len(PREFIX)},
        )
    ]
    assert continuation.attributes["raceway.attempt.number"] == 2
    assert access_log_line(gateway, "resume-traced")["attempts"] == 2


def test_a_continuation_counts_against_the_requests_max_attempts(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("cut-chat", Behaviour(reply=SCRIPT, cut_after=2))
    threaded_upstream.script("cut-msgs", Behaviour(reply=SCRIPT, continues=True, cut_after=1))
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    before = resumes(gateway, "two-calls", "cut-msgs", "", "exhausted")
    text = ""
    with pytest.raises(openai.APIError):
        for chunk in client.chat.completions.create(model="two-calls", messages=USER, stream=True):  # type: ignore[arg-type]
            text += "".join(choice.delta.content or "" for choice in chunk.choices)
    assert text == "one two three"  # max_resumes would allow more; the two calls were all
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "two-calls", "cut-msgs", "", "exhausted") == before + 1


def test_no_continuation_starts_past_the_requests_deadline(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    cut_late = Behaviour(reply=SCRIPT, cut_after=3, chunk_delay=0.6)  # the cut comes at 1.2 s
    threaded_upstream.script("cut-chat", cut_late)
    threaded_upstream.script("prefill", Behaviour(reply=SCRIPT, continues=True))
    with pytest.raises(openai.APIError):
        for _chunk in client.chat.completions.create(model="short", messages=USER, stream=True):  # type: ignore[arg-type]
            pass
    assert not requests_for(threaded_upstream, "prefill")


def test_a_fallback_groups_deployment_continues_the_stream(
    gateway: RunningGateway, client: openai.OpenAI, threaded_upstream: FakeUpstream
) -> None:
    cut_then_continued(threaded_upstream)
    text, _ids = chat_text(client, "backed", "resume-fallback")
    assert text == SCRIPT
    assert not requests_for(threaded_upstream, "plain")  # continues: none
    assert access_log_line(gateway, "resume-fallback")["resumed"] == [
        {"from": "cut-chat", "to": "prefill", "at_chars": len(PREFIX)}
    ]


def test_the_cost_adds_both_calls(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    """The cut Messages call reported its input (and one output token) in message_start."""
    cut_then_continued(threaded_upstream, "cut-msgs")
    body = {"model": "priced", "max_tokens": 100, "messages": USER, "stream": True}
    headers = {"x-request-id": "resume-priced"}
    response = httpx.post(f"{gateway.base_url}/v1/messages", json=body, headers=headers, timeout=10)
    assert "message_stop" in response.text
    cut = (PROMPT_TOKENS * CUT_PRICE["input"] + 1 * CUT_PRICE["output"]) / 1e6
    continuation = PROMPT_TOKENS * PREFILL_PRICE["input"] + COMPLETION_TOKENS * PREFILL_PRICE["output"]
    continuation /= 1e6
    assert access_log_line(gateway, "resume-priced")["cost_usd"] == pytest.approx(cut + continuation)


def streamed(gateway: RunningGateway, model: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": model, "messages": USER, "stream": True}
    return httpx.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers or {}, timeout=10)


def streamed_text(response: httpx.Response) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for line in response.text.splitlines()
        if line.startswith("data: {")
        for choice in httpx.Response(200, content=line[6:]).json()["choices"]
    )


@pytest.mark.parametrize(("model", "kept"), [("cached", True), ("uncached", False)])
def test_a_spliced_answer_is_cached_unless_the_group_says_not(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, model: str, kept: bool
) -> None:
    cut_then_continued(threaded_upstream)
    first = streamed(gateway, model)
    assert streamed_text(first) == SCRIPT and first.headers["x-raceway-cache"] == "miss"
    threaded_upstream.script("cut-chat", Behaviour(reply="another answer"))
    again = streamed(gateway, model)
    if kept:  # what the cache replays is the whole spliced answer
        assert again.headers["x-raceway-cache"] == "hit" and streamed_text(again) == SCRIPT
    else:
        assert again.headers["x-raceway-cache"] == "miss" and streamed_text(again) == "another answer"


def test_the_sse_comment_naming_the_continuation_is_sent_only_to_a_client_that_asks(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    comment = ": raceway resumed from cut-chat to prefill\n\n"
    cut_then_continued(threaded_upstream)
    asked = streamed(gateway, "resumed", {"x-raceway-resume-comment": "1"})
    assert asked.text.endswith("data: [DONE]\n\n" + comment)  # after the stream's last event
    assert streamed_text(asked) == SCRIPT
    cut_then_continued(threaded_upstream)
    unasked = streamed(gateway, "resumed")
    assert streamed_text(unasked) == SCRIPT and ": raceway" not in unasked.text
