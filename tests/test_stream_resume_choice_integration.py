"""Who continues a broken stream, on the real server (one worker) with the official SDK: the next
candidate of its group as a fallback round of the group's strategy would pick it, and only while
the key's budget allows, as for a new request.

Every deployment but the cut one can continue (Anthropic's prefill), so the choice shows in which
deployment the continuation was asked of.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import anthropic
import httpx
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.test_stream_resume_integration import SCRIPT, USER, requests_for, resumes
from tests.test_upstream_faults_integration import access_log_line
from tests.upstream import Behaviour, FakeUpstream
from tests.upstream_wires import PROMPT_TOKENS

pytestmark = pytest.mark.integration

OPEN, TIGHT, MOVED, COUNTED = "rw-open-key-1", "rw-tight-key-2", "rw-moved-key-3", "rw-counted-key-4"
# USD per million tokens. The cut Messages call reports its input in message_start (5 tokens,
# and one output token, priced at 0): it has cost 1.0 USD when it breaks; a continuation 0.5.
CUT_COST, CONTINUATION_COST = 1.0, 0.5
CUT_PRICE = f"price: {{input: {CUT_COST / PROMPT_TOKENS * 1e6:.0f}, output: 0}}"
CONTINUATION_PRICE = f"price: {{input: {CONTINUATION_COST / PROMPT_TOKENS * 1e6:.0f}, output: 0}}"


def gateway_config(upstream: FakeUpstream) -> str:
    root = upstream.root_url
    never = "cooldown: {failures: 1000}"

    def anthropic_deployment(name: str, model: str, price: str = "") -> str:
        extra = f", {price}" if price else ""
        return f'{{name: {name}, provider: anthropic, base_url: "{root}", model: {model}, {never}{extra}}}'

    deployments = [
        # For the cost strategy: the cut one is the cheapest, the declared next the dearest.
        anthropic_deployment("cut-cheapest", "cut-msgs", "price: {input: 1, output: 1}"),
        anthropic_deployment("dear", "dear", "price: {input: 9, output: 9}"),
        anthropic_deployment("cheap", "cheap", "price: {input: 2, output: 2}"),
        anthropic_deployment("cut", "cut-msgs"),
        anthropic_deployment("busy", "busy"),
        anthropic_deployment("idle", "idle"),
        anthropic_deployment("cut-priced", "cut-msgs", CUT_PRICE),
        anthropic_deployment("prefill", "prefill", CONTINUATION_PRICE),
        anthropic_deployment("spare", "spare"),
        anthropic_deployment("first", "first"),
        anthropic_deployment("second", "second"),
    ]
    listed = "\n".join(f"      - {deployment}" for deployment in deployments)
    return f"""
    state: {{sync_interval: 0.05s}}
    deployments:
{listed}
    models:
      - {{name: by-cost, strategy: cost, deployments: [cut-cheapest, dear, cheap], resume: {{}}}}
      - {{name: least-busy, strategy: least_busy, deployments: [cut, busy, idle], resume: {{}}}}
      - {{name: hold-busy, deployments: [busy]}}
      - {{name: priced, deployments: [cut-priced, prefill], resume: {{}}}}
      - {{name: spare-group, deployments: [spare]}}
      - {{name: sticky, deployments: [cut, first, second], affinity: {{}}, resume: {{}}}}
    keys:
      - {{name: open, key: "{OPEN}", budget: {{daily: 1000}}}}
      - {{name: tight, key: "{TIGHT}", budget: {{daily: {CUT_COST / 2}}}}}
      - {{name: moved, key: "{MOVED}", budget: {{daily: {CUT_COST / 2}, exceeded_to: spare-group}}}}
      - {{name: counted, key: "{COUNTED}", budget: {{daily: 1000}}}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def claude(gateway: RunningGateway, sdks: Sdks) -> anthropic.AsyncAnthropic:
    return sdks.async_anthropic(gateway, key=OPEN, timeout=10)


async def streamed_text(
    claude: anthropic.AsyncAnthropic, model: str, request_id: str, key: str = OPEN, **headers: str
) -> str:
    async with claude.with_options(api_key=key).messages.stream(
        model=model,
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
        extra_headers={"x-request-id": request_id, **headers},
    ) as events:
        return "".join([text async for text in events.text_stream])


def cut_then_continued(upstream: FakeUpstream, *continuing: str) -> None:
    upstream.script("cut-msgs", Behaviour(reply=SCRIPT, cut_after=2))
    for model in continuing:
        upstream.script(model, Behaviour(reply=SCRIPT, continues=True))


async def test_a_cost_group_continues_on_its_next_cheapest_deployment_not_the_declared_next(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    cut_then_continued(threaded_upstream, "dear", "cheap")
    assert await streamed_text(claude, "by-cost", "resume-by-cost") == SCRIPT
    assert len(requests_for(threaded_upstream, "cheap")) == 1
    assert not requests_for(threaded_upstream, "dear")  # declared second, but the dearest
    assert access_log_line(gateway, "resume-by-cost")["resumed"] == [
        {"from": "cut-cheapest", "to": "cheap", "at_chars": len("one two")}
    ]


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.02)


async def test_a_least_busy_group_continues_on_its_least_busy_deployment(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    """``busy`` has a call in flight (one that never answers) while the stream breaks: the
    continuation goes to ``idle``, declared after it."""
    threaded_upstream.script("busy", Behaviour(stall=True), Behaviour(reply=SCRIPT, continues=True))
    cut_then_continued(threaded_upstream, "idle")
    body = {"model": "hold-busy", "max_tokens": 10, "messages": USER}
    async with httpx.AsyncClient(timeout=10) as http:
        held = asyncio.create_task(
            http.post(f"{gateway.base_url}/v1/messages", json=body, headers={"x-api-key": OPEN})
        )
        try:
            await until(lambda: gateway.metric('raceway_inflight{deployment="busy"}') == 1, "busy in flight")
            assert await streamed_text(claude, "least-busy", "resume-least-busy") == SCRIPT
        finally:
            held.cancel()
            await asyncio.gather(held, return_exceptions=True)
    await until(lambda: "busy" in threaded_upstream.disconnects, "the held call abandoned")
    assert len(requests_for(threaded_upstream, "idle")) == 1
    assert len(requests_for(threaded_upstream, "busy")) == 1  # the held call only
    assert access_log_line(gateway, "resume-least-busy")["resumed"] == [
        {"from": "cut", "to": "idle", "at_chars": len("one two")}
    ]


async def test_a_key_over_its_budget_after_the_break_is_not_continued(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    """Within budget when it began; the broken call's cost puts the key past it: no continuation
    is asked for (the stream ends with the error event), as a new request would be refused."""
    cut_then_continued(threaded_upstream, "prefill")
    before = resumes(gateway, "priced", "cut-priced", "", "exhausted")
    with pytest.raises(anthropic.APIStatusError) as failed:
        await streamed_text(claude, "priced", "resume-tight", key=TIGHT)
    assert failed.value.status_code == 200  # the stream had begun: its error event
    assert not requests_for(threaded_upstream, "prefill")
    assert resumes(gateway, "priced", "cut-priced", "", "exhausted") == before + 1


async def test_a_key_over_its_budget_after_the_break_is_continued_in_its_exceeded_to_group(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    cut_then_continued(threaded_upstream, "prefill", "spare")
    assert await streamed_text(claude, "priced", "resume-moved", key=MOVED) == SCRIPT
    assert not requests_for(threaded_upstream, "prefill")
    assert len(requests_for(threaded_upstream, "spare")) == 1
    assert access_log_line(gateway, "resume-moved")["resumed"] == [
        {"from": "cut-priced", "to": "spare", "at_chars": len("one two")}
    ]


async def test_the_key_is_charged_for_the_broken_call_and_its_continuation(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    cut_then_continued(threaded_upstream, "prefill")
    assert await streamed_text(claude, "priced", "resume-counted", key=COUNTED) == SCRIPT
    spend = 'raceway_key_spend_usd{key="counted",period="day"}'
    await until(lambda: gateway.metric(spend) > 0, "the spend synced")
    assert gateway.metric(spend) == pytest.approx(CUT_COST + CONTINUATION_COST)


async def test_a_session_is_pinned_where_its_turn_was_continued(
    gateway: RunningGateway, claude: anthropic.AsyncAnthropic, threaded_upstream: FakeUpstream
) -> None:
    """The continuation served the rest of the turn (and holds its prompt in its cache): the
    session's next turn goes there, not to the deployment that broke."""
    threaded_upstream.script("first", Behaviour(reply=SCRIPT, continues=True), Behaviour(reply="next"))
    cut_then_continued(threaded_upstream)
    session = {"x-claude-code-session-id": "resumed-session"}
    assert await streamed_text(claude, "sticky", "resume-sticky", **session) == SCRIPT
    assert access_log_line(gateway, "resume-sticky")["deployment"] == "cut"
    raw = await claude.messages.with_raw_response.create(
        model="sticky",
        max_tokens=100,
        messages=USER,  # type: ignore[arg-type]
        extra_headers=session,
    )
    assert (raw.headers["x-raceway-deployment"], raw.headers["x-raceway-affinity"]) == ("first", "hit")
    assert len(requests_for(threaded_upstream, "cut-msgs")) == 1  # the broken turn's only
