"""Dispatch: fallback, race, hedge, retries, fallback groups, cooldowns, deadlines.

The real providers call the scripted upstream in memory (``tests/memory_upstream.py``) and
every test runs on virtual time (``tests/virtual_time.py``): delays, timeouts, hedges and
backoffs are exact and take no real time. Each deployment's upstream model is its own name,
so the scripted upstream can make each one behave differently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from router.config.model import Deployment
from router.dispatch.legs import open_stream
from router.errors import (
    InvalidRequest,
    NoDeploymentAvailable,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.fleet.breaker import State
from router.telemetry.labels import StreamOutcome
from router.wire.sse import DONE_EVENT, Batches
from tests.harness import Harness, build_harness, stream_text
from tests.helpers import reads
from tests.memory_upstream import MemoryUpstream
from tests.upstream import Behaviour
from tests.virtual_time import on_virtual_time, run


def deployments(*names: str, timeout: str = "2s", extra: str = "") -> str:
    entry = "  - {{name: {0}, provider: openai, base_url: '{{base}}', model: {0}, timeout: {1}{2}}}\n"
    return "deployments:\n" + "".join(entry.format(name, timeout, extra) for name in names)


@pytest.fixture
def upstream() -> MemoryUpstream:
    return MemoryUpstream()


@pytest.fixture
def make(upstream: MemoryUpstream) -> Iterator[Callable[[str], Harness]]:
    built: list[Harness] = []

    def make(yaml_text: str) -> Harness:
        harness = build_harness(upstream, yaml_text)
        built.append(harness)
        return harness

    yield make

    async def close() -> None:
        for harness in built:
            await harness.close()

    run(close())


FALLBACK = (
    deployments("first", "second", "third", timeout="300ms")
    + """
  - {name: refused, provider: openai, base_url: "http://127.0.0.1:9/v1", model: x, timeout: 1s}
models:
  - {name: m, deployments: [first, second]}
  - {name: via-refused, deployments: [refused, first]}
"""
)


# -- fallback -------------------------------------------------------------------------


@on_virtual_time
async def test_fallback_uses_the_first_that_answers(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    completion = await make(FALLBACK).chat("m")
    assert (completion.deployment, completion.attempts) == ("first", 1)
    assert upstream.calls("second") == 0


@pytest.mark.parametrize(
    "failure",
    [Behaviour(status=500), Behaviour(status=429), Behaviour(delay=1.0), Behaviour(status=503)],
    ids=["500", "429", "timeout", "503"],
)
@on_virtual_time
async def test_fallback_on_retryable_failures(
    make: Callable[[str], Harness], upstream: MemoryUpstream, failure: Behaviour
) -> None:
    upstream.script("first", failure)
    completion = await make(FALLBACK).chat("m")
    assert (completion.deployment, completion.attempts) == ("second", 2)


@on_virtual_time
async def test_a_404_is_a_deployment_fault_that_falls_back_and_counts(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(COOLDOWN)
    upstream.script("flaky", Behaviour(status=404))
    assert (await harness.chat("m")).deployment == "steady"
    assert harness.sample("raceway_upstream_requests_total", deployment="flaky", outcome="error") == 1
    assert (await harness.chat("m")).deployment == "steady"
    assert harness.fleet["flaky"].breaker.state is State.COOLED_DOWN  # failures: 2


@on_virtual_time
async def test_an_error_names_the_deployment_that_failed_and_the_calls_made(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(FALLBACK)
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(status=503))
    with pytest.raises(UpstreamError) as failed:
        await harness.chat("m")
    assert (failed.value.deployment, failed.value.attempts) == ("second", 2)
    upstream.script("first", Behaviour(status=400))
    with pytest.raises(UpstreamRejected) as rejected:
        await harness.chat("m")
    assert (rejected.value.deployment, rejected.value.attempts) == ("first", 1)
    upstream.script("first", Behaviour(delay=1.0))
    upstream.script("second", Behaviour(delay=1.0))
    deadline = make(
        FALLBACK.replace(
            "{name: m, deployments: [first, second]}",
            "{name: m, deployments: [first, second], deadline: 200ms}",
        )
    )
    with pytest.raises(UpstreamTimeout) as late:
        await deadline.chat("m")
    assert (late.value.deployment, late.value.attempts) == ("first", 1)


@on_virtual_time
async def test_fallback_on_connection_refused(make: Callable[[str], Harness]) -> None:
    assert (await make(FALLBACK).chat("via-refused")).deployment == "first"


@on_virtual_time
async def test_no_retry_on_a_request_error(make: Callable[[str], Harness], upstream: MemoryUpstream) -> None:
    upstream.script("first", Behaviour(status=400))
    with pytest.raises(UpstreamRejected):
        await make(FALLBACK).chat("m")
    assert upstream.calls("second") == 0


NOT_ANSWERS = [
    Behaviour(body=b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>", content_type="text/html"),
    Behaviour(body=b"garbage \x00\xff", content_type="application/octet-stream"),
    Behaviour(body=b'["a", "list"]'),
    Behaviour(body=b'{"object": "chat.completion", "model": "m"}'),
    Behaviour(body=b'{"error": {"message": "overloaded", "type": "server_error"}}'),
    Behaviour(body=b'{"choices": "none"}'),
]
NOT_ANSWER_IDS = ["html", "garbage", "array", "no-choices", "error-object", "choices-not-a-list"]


@pytest.mark.parametrize("behaviour", NOT_ANSWERS, ids=NOT_ANSWER_IDS)
@on_virtual_time
async def test_a_200_that_is_not_a_completion_is_the_deployments_failure(
    make: Callable[[str], Harness], upstream: MemoryUpstream, behaviour: Behaviour
) -> None:
    harness = make(FALLBACK)
    upstream.script("first", behaviour)
    completion = await harness.chat("m")
    assert (completion.deployment, completion.attempts) == ("second", 2)
    assert harness.sample("raceway_upstream_requests_total", deployment="first", outcome="error") == 1
    assert harness.sample("raceway_upstream_requests_total", deployment="first", outcome="success") == 0
    upstream.script("second", behaviour)
    with pytest.raises(UpstreamError) as failed:
        await harness.chat("m")
    assert failed.value.status_code == 502 and failed.value.retryable
    assert "not a chat completion" in failed.value.message


@on_virtual_time
async def test_an_embeddings_answer_must_hold_data_not_choices(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(FALLBACK)
    body = {"model": "m", "input": ["a", "b"]}
    assert (await harness.embeddings(body)).deployment == "first"
    upstream.script("first", Behaviour(body=b'{"choices": []}'))
    completion = await harness.embeddings(body)
    assert (completion.deployment, completion.attempts) == ("second", 2)


@on_virtual_time
async def test_exhausted_group_reports_the_telling_error(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(FALLBACK)
    upstream.script("first", Behaviour(status=429, headers={"retry-after": "4"}))
    upstream.script("second", Behaviour(status=429, headers={"retry-after": "2"}))
    with pytest.raises(UpstreamRateLimited) as limited:
        await harness.chat("m")
    assert limited.value.retry_after == 2.0
    harness = make(FALLBACK)
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(delay=1.0))
    with pytest.raises(UpstreamTimeout):
        await harness.chat("m")
    harness = make(FALLBACK)
    upstream.script("second", Behaviour(status=502))
    with pytest.raises(UpstreamError) as failed:
        await harness.chat("m")
    assert failed.value.status_code == 502 and "first" in failed.value.message


@on_virtual_time
async def test_stream_that_dies_before_content_falls_back(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("first", Behaviour(cut_after=0))
    upstream.script("second", Behaviour(reply="fine thanks"))
    opened, text = await make(FALLBACK).stream("m")
    assert (opened.deployment, opened.attempts, text) == ("second", 2, "fine thanks")


@on_virtual_time
async def test_stream_cut_after_content_is_not_switched(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(FALLBACK)
    upstream.script("first", Behaviour(reply="a b c d", cut_after=2))
    opened = await harness.open_stream(harness.body("m", stream=True))
    with pytest.raises(UpstreamError):
        await stream_text(opened)
    assert upstream.calls("second") == 0
    assert harness.sample("raceway_upstream_requests_total", deployment="first", outcome="stream_cut") == 1


@on_virtual_time
async def test_an_error_event_after_content_cuts_the_stream_with_its_message_scrubbed(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    error = {"error": {"message": "bad key sk-test-upstream-key", "type": "server_error"}}
    upstream.script("first", Behaviour(reply="a b c d", error_after=2, error=error))
    with pytest.raises(UpstreamError) as caught:
        await make(FALLBACK).stream("m")
    assert caught.value.code == "upstream_stream_error" and caught.value.deployment == "first"
    assert caught.value.message == "deployment first failed midway: bad key ***"
    assert upstream.calls("second") == 0


# -- what a stream sends before its content, whatever the provider ------------------------

ANY_PROVIDER = Deployment(name="d", provider="fake", model="m", max_response_size=1000)
CONTENT = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'
ERROR = b'data: {"error": {"message": "overloaded, key sk-live-abcdef123456 throttled"}}\n\n'


async def scripted(*events: bytes) -> Batches:
    """An upstream that sends ``events`` one read each."""
    for event in events:
        yield [event]


@on_virtual_time
async def test_an_error_event_before_content_fails_retryably_with_its_message_scrubbed() -> None:
    with pytest.raises(UpstreamError) as caught:
        await open_stream(ANY_PROVIDER, scripted(ERROR, CONTENT, DONE_EVENT))
    assert caught.value.code == "upstream_stream_error" and caught.value.retryable
    assert caught.value.message == "deployment d failed midway: overloaded, key *** throttled"


@pytest.mark.parametrize(
    "upstream",
    [
        lambda: scripted(CONTENT, ERROR, CONTENT, DONE_EVENT),  # one read each
        lambda: reads([CONTENT, ERROR, CONTENT, DONE_EVENT]),  # all in the read of the content
    ],
    ids=["own-read", "same-read"],
)
@on_virtual_time
async def test_an_error_event_after_content_raises_from_the_stream_and_is_not_relayed(
    upstream: Callable[[], Batches],
) -> None:
    opened = await open_stream(ANY_PROVIDER, upstream())
    relayed: list[bytes] = []
    with pytest.raises(UpstreamError) as caught:
        async for batch in opened.batches():
            relayed.extend(batch)
    assert relayed == [CONTENT] and caught.value.code == "upstream_stream_error"
    await opened.end(StreamOutcome.CUT)


@on_virtual_time
async def test_a_null_error_is_no_error() -> None:
    null = b'data: {"choices": [{"index": 0, "delta": {"role": "assistant"}}], "error": null}\n\n'
    opened = await open_stream(ANY_PROVIDER, scripted(null, CONTENT, null, DONE_EVENT))
    assert [batch async for batch in opened.batches()] == [[null, CONTENT], [null], [DONE_EVENT]]


@on_virtual_time
async def test_what_is_held_before_content_is_bounded_by_max_response_size() -> None:
    ping = b": ping\n\n"
    under = (1000 - len(CONTENT)) // len(ping)
    opened = await open_stream(ANY_PROVIDER, scripted(*[ping] * under, CONTENT, DONE_EVENT))
    assert len(opened.head) == under + 1
    with pytest.raises(UpstreamError) as caught:
        await open_stream(ANY_PROVIDER, scripted(*[ping] * (under + 1), CONTENT, DONE_EVENT))
    assert caught.value.code == "upstream_response_too_large" and caught.value.retryable


# -- race -------------------------------------------------------------------------------

RACE = (
    deployments("slow", "fast")
    + """
models:
  - {name: m, deployments: [slow, fast], strategy: race}
"""
)


@on_virtual_time
async def test_race_returns_the_faster_and_disconnects_the_loser(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(RACE)
    upstream.script("slow", Behaviour(delay=1.5, reply="slow"))
    upstream.script("fast", Behaviour(after="slow", reply="fast"))  # answers once both calls are under way
    completion = await harness.chat("m")
    assert completion.deployment == "fast" and b"fast" in completion.body
    assert completion.attempts == 2
    await upstream.disconnected("slow")
    assert upstream.disconnects == ["slow"]
    assert harness.sample("raceway_race_outcomes_total", model="m", winner="fast") == 1
    assert harness.sample("raceway_upstream_requests_total", deployment="slow", outcome="cancelled") == 1
    assert all(member.stats.in_flight == 0 for member in harness.fleet)


@on_virtual_time
async def test_race_survives_a_failing_contender(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("fast", Behaviour(status=500))
    upstream.script("slow", Behaviour(delay=0.1, reply="slow"))
    assert (await make(RACE).chat("m")).deployment == "slow"


@on_virtual_time
async def test_streaming_race_picks_the_first_content_not_the_first_open(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    # "slow" opens its stream at once but its first word comes late; "fast" opens later yet speaks first.
    upstream.script("slow", Behaviour(first_content_delay=1.0, reply="from slow"))
    upstream.script("fast", Behaviour(after="slow", reply="from fast"))
    opened, text = await make(RACE).stream("m")
    assert (opened.deployment, text) == ("fast", "from fast")
    await upstream.disconnected("slow")  # the loser's call is cancelled upstream


# -- hedge -------------------------------------------------------------------------------

HEDGE = (
    deployments("primary", "backup")
    + """
models:
  - {name: m, deployments: [primary, backup], strategy: hedge, hedge_delay: 200ms}
"""
)


@on_virtual_time
async def test_hedge_waits_when_the_first_answers_in_time(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(HEDGE)
    upstream.script("primary", Behaviour(delay=0.02))
    completion = await harness.chat("m")
    assert (completion.deployment, completion.attempts) == ("primary", 1)
    assert upstream.calls("backup") == 0
    assert harness.sample("raceway_hedges_total", model="m") == 0


@on_virtual_time
async def test_hedge_starts_the_next_when_the_first_stalls(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(HEDGE)
    upstream.script("primary", Behaviour(stall=True))
    upstream.script("backup", Behaviour(after="primary"))
    completion = await harness.chat("m")
    assert (completion.deployment, completion.attempts) == ("backup", 2)
    assert upstream.requests[1].at - upstream.requests[0].at == pytest.approx(0.2)  # after hedge_delay
    assert harness.sample("raceway_hedges_total", model="m") == 1
    await upstream.disconnected("primary")  # the stalled call is cancelled upstream


@on_virtual_time
async def test_hedge_moves_on_at_once_when_the_first_fails(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(HEDGE)
    upstream.script("primary", Behaviour(status=500))
    completion = await harness.chat("m")
    assert completion.deployment == "backup"
    assert harness.sample("raceway_hedges_total", model="m") == 0


@on_virtual_time
async def test_streaming_hedge_counts_content_not_headers(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("primary", Behaviour(first_content_delay=2.0, reply="late"))
    upstream.script("backup", Behaviour(reply="on time"))
    opened, text = await make(HEDGE).stream("m")
    assert (opened.deployment, text) == ("backup", "on time")


@on_virtual_time
async def test_auto_hedge_delay_is_the_recent_p95_with_a_floor(make: Callable[[str], Harness]) -> None:
    from router.dispatch.pacing import hedge_delay as _hedge_delay

    harness = make(
        deployments("a")
        + "models:\n  - {name: m, deployments: [a], strategy: hedge, hedge_min_delay: 30ms}\n"
    )
    group, member = harness.config.models["m"], harness.fleet["a"]
    delay = _hedge_delay(group, stream=False)
    assert delay(member) == pytest.approx(0.12)  # too few samples, no peers: 4 x hedge_min_delay
    for index in range(100):
        member.stats.observe(0.010 if index < 95 else 0.500, stream=False)
    assert delay(member) == pytest.approx(0.5)
    for _ in range(156):
        member.stats.observe(0.010, stream=False)
    assert delay(member) == pytest.approx(0.03)  # p95 is 10 ms now: the floor holds


# -- retries, fallback groups, budgets, deadlines ---------------------------------------------

CHAIN = (
    deployments("a", "b", "cheap", timeout="300ms")
    + """
models:
  - name: m
    deployments: [a, b]
    retries: {attempts: 2, backoff: 100ms, max_backoff: 1s}
    fallbacks: [small]
  - {name: small, deployments: [cheap]}
  - {name: tight, deployments: [a, b], max_attempts: 1}
  - {name: hurried, deployments: [a], deadline: 200ms}
"""
)


@on_virtual_time
async def test_retry_rounds_back_off_with_jitter(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(CHAIN)
    upstream.script("a", Behaviour(status=500), Behaviour())
    upstream.script("b", Behaviour(status=500))
    completion = await harness.chat("m")
    assert (completion.deployment, completion.attempts) == ("a", 3)
    assert len(harness.sleeps) == 1 and 0 <= harness.sleeps[0] <= 0.1
    first_round_ended, retried = upstream.requests[1].at, upstream.requests[2].at
    assert retried - first_round_ended == pytest.approx(harness.sleeps[0])  # the retry waited its backoff
    assert harness.sample("raceway_retries_total", deployment="a") == 1


@on_virtual_time
async def test_exhausted_group_falls_back_to_another_group(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(CHAIN)
    upstream.script("a", Behaviour(status=500))
    upstream.script("b", Behaviour(status=503))
    completion = await harness.chat("m")
    assert completion.deployment == "cheap"
    assert completion.attempts == 7  # three rounds of a and b (first try and two retries), then cheap
    assert upstream.calls("a") == upstream.calls("b") == 3
    assert harness.sample("raceway_fallbacks_total", model="m", **{"from": "m", "to": "small"}) == 1


@on_virtual_time
async def test_attempt_budget_bounds_the_calls(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("a", Behaviour(status=500))
    with pytest.raises(UpstreamError):
        await make(CHAIN).chat("tight")
    assert upstream.calls("a") == 1 and upstream.calls("b") == 0


@on_virtual_time
async def test_deadline_bounds_the_whole_request(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("a", Behaviour(stall=True))
    with pytest.raises(UpstreamTimeout) as caught:
        await make(CHAIN).chat("hurried")
    assert "deadline" in caught.value.message


CONTEXT = """
deployments:
  - {name: short, provider: openai, base_url: '{base}', model: short, max_input_tokens: 10}
  - {name: long, provider: openai, base_url: '{base}', model: long, max_input_tokens: 100000}
models:
  - {name: m, deployments: [short], fallbacks: [big]}
  - {name: big, deployments: [long]}
  - {name: only-short, deployments: [short]}
"""


@on_virtual_time
async def test_context_window_fallback(make: Callable[[str], Harness], upstream: MemoryUpstream) -> None:
    harness = make(CONTEXT)
    assert (await harness.chat("m")).deployment == "short"
    long_prompt = [{"role": "user", "content": "word " * 200}]
    assert (await harness.chat("m", messages=long_prompt)).deployment == "long"
    with pytest.raises(InvalidRequest) as caught:
        await harness.chat("only-short", messages=long_prompt)
    assert caught.value.code == "context_length_exceeded"


# -- cooldown ---------------------------------------------------------------------------

COOLDOWN = (
    deployments("flaky", "steady", extra=", cooldown: {failures: 2, window: 60s, duration: 30s}")
    + """
models:
  - {name: m, deployments: [flaky, steady]}
  - {name: alone, deployments: [flaky]}
"""
)


@on_virtual_time
async def test_cooldown_opens_then_probes_then_closes(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(COOLDOWN)
    upstream.script("flaky", Behaviour(status=500))
    await harness.chat("m")
    await harness.chat("m")
    flaky = harness.fleet["flaky"]
    assert flaky.breaker.state is State.COOLED_DOWN
    assert harness.sample("raceway_deployment_state", deployment="flaky") == 2
    assert (await harness.chat("m")).attempts == 1  # skipped while cooling down
    assert upstream.calls("flaky") == 2
    with pytest.raises(NoDeploymentAvailable) as unavailable:
        await harness.chat("alone")
    assert unavailable.value.headers["retry-after"] == "30"

    harness.clock.now += 30  # half-open: the next request probes it
    upstream.script("flaky", Behaviour())
    assert flaky.breaker.state is State.HALF_OPEN
    assert (await harness.chat("m")).deployment == "flaky"
    assert flaky.breaker.state is State.HEALTHY
    assert harness.sample("raceway_deployment_state", deployment="flaky") == 0


@on_virtual_time
async def test_429_with_retry_after_cools_down_for_that_long(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(COOLDOWN)
    upstream.script("flaky", Behaviour(status=429, headers={"retry-after": "7"}))
    assert (await harness.chat("m")).deployment == "steady"
    assert harness.fleet["flaky"].breaker.seconds_until_available() == 7.0


@on_virtual_time
async def test_a_huge_retry_after_cools_down_for_max_retry_after_then_probes(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(COOLDOWN)
    upstream.script("flaky", Behaviour(status=429, headers={"retry-after": "99999"}))
    assert (await harness.chat("m")).deployment == "steady"
    flaky = harness.fleet["flaky"]
    assert flaky.breaker.seconds_until_available() == 60.0  # cooldown.max_retry_after's default
    harness.clock.now += 60
    upstream.script("flaky", Behaviour())
    assert flaky.breaker.state is State.HALF_OPEN
    assert (await harness.chat("m")).deployment == "flaky"
    assert flaky.breaker.state is State.HEALTHY


@pytest.mark.parametrize("value", ["inf", "nan", "-3", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
@on_virtual_time
async def test_a_nonsense_retry_after_is_a_429_not_a_crash(
    make: Callable[[str], Harness], upstream: MemoryUpstream, value: str
) -> None:
    harness = make(COOLDOWN)
    upstream.script("flaky", Behaviour(status=429, headers={"retry-after": value}))
    with pytest.raises(UpstreamRateLimited) as limited:
        await harness.chat("alone")
    assert limited.value.status_code == 429 and limited.value.to_json()
    assert harness.fleet["flaky"].breaker.seconds_until_available() <= 60.0


# -- override ----------------------------------------------------------------------------


@on_virtual_time
async def test_pinned_deployment_skips_strategy_and_fallback(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(FALLBACK)
    completion = await harness.chat("m", headers={"x-raceway-deployment": "second"})
    assert completion.deployment == "second" and upstream.calls("first") == 0
    upstream.script("second", Behaviour(status=500))
    with pytest.raises(UpstreamError):
        await harness.chat("m", headers={"x-raceway-deployment": "second"})
    assert upstream.calls("first") == 0


# -- admission inside routing ----------------------------------------------------------------

ADMISSION = """
deployments:
  - {name: small, provider: openai, base_url: '{base}', model: small, max_concurrency: 1}
  - {name: big, provider: openai, base_url: '{base}', model: big}
  - {name: lonely, provider: openai, base_url: '{base}', model: lonely, max_concurrency: 1}
models:
  - {name: m, deployments: [small, big]}
  - {name: alone, deployments: [lonely]}
"""


@on_virtual_time
async def test_a_saturated_deployment_is_passed_over_not_queued(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(ADMISSION)
    answer = asyncio.Event()
    upstream.script("small", Behaviour(release=answer))
    first = asyncio.create_task(harness.chat("m"))
    await upstream.arrived("small")  # small is now busy with the first request
    second = await harness.chat("m")
    answer.set()
    assert (await first).deployment == "small"
    assert (second.deployment, second.attempts) == ("big", 1)  # saturated small sorted last
    assert harness.fleet["small"].breaker.state is State.HEALTHY  # saturation is not a failure


TOKENS = """
deployments:
  - {name: narrow, provider: openai, base_url: '{base}', model: narrow, tpm: 1000}
  - {name: wide, provider: openai, base_url: '{base}', model: wide}
models:
  - {name: m, deployments: [narrow, wide]}
"""


@on_virtual_time
async def test_capacity_is_judged_with_the_tokens_admission_will_charge(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(TOKENS)
    await harness.fleet["narrow"].rate.admit(900, owner="test")  # 100 tokens left this minute
    # A 1-token prompt, but up to 200 tokens of answer: 201 tokens do not fit in narrow.
    completion = await harness.chat("m", max_tokens=200)
    assert (completion.deployment, completion.attempts) == ("wide", 1)
    assert upstream.calls("narrow") == 0
    assert harness.sample("raceway_rejected_total", deployment="narrow", reason="rate_limited") == 0


@on_virtual_time
async def test_when_nothing_has_room_the_answer_is_429_with_retry_after(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    harness = make(ADMISSION)
    answer = asyncio.Event()
    upstream.script("lonely", Behaviour(release=answer))
    first = asyncio.create_task(harness.chat("alone"))
    await upstream.arrived("lonely")  # lonely is now busy with the first request
    with pytest.raises(UpstreamRateLimited) as refused:
        await harness.chat("alone")
    assert refused.value.status_code == 429 and refused.value.headers["retry-after"] == "1"
    assert harness.sample("raceway_rejected_total", deployment="lonely", reason="queue_full") == 1
    answer.set()
    await first
    assert harness.fleet["lonely"].gate.active == 0


# -- correlation ----------------------------------------------------------------------

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@on_virtual_time
async def test_every_call_carries_the_trace_and_the_answer_names_its_upstream_call(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(headers={"x-ratelimit-remaining-tokens": "90"}))
    completion = await make(FALLBACK).chat("m", headers={"traceparent": TRACEPARENT})
    assert [seen.headers.get("traceparent") for seen in upstream.requests] == [TRACEPARENT] * 2
    assert completion.correlation is not None
    assert completion.correlation.request_id == upstream.requests[1].request_id  # the winner's
    assert completion.correlation.ratelimit is None  # relayed only when the server says so
    opened, _ = await make(FALLBACK).stream("m")
    assert (
        opened.correlation is not None and opened.correlation.request_id == upstream.requests[-1].request_id
    )


@on_virtual_time
async def test_a_failed_request_names_every_upstream_call_it_made(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(status=502))
    with pytest.raises(UpstreamError) as failed:
        await make(FALLBACK).chat("m")
    first, second = (seen.request_id for seen in upstream.requests)
    assert failed.value.upstream_request_id == f"{first}, {second}"
    upstream.script("first", Behaviour(status=400))
    with pytest.raises(UpstreamRejected) as rejected:
        await make(FALLBACK).chat("m")
    assert rejected.value.upstream_request_id == upstream.requests[-1].request_id


@on_virtual_time
async def test_a_deadline_names_the_calls_that_failed_before_it(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("first", Behaviour(status=500))
    upstream.script("second", Behaviour(stall=True))
    hurried = make(
        FALLBACK.replace(
            "{name: m, deployments: [first, second]}",
            "{name: m, deployments: [first, second], deadline: 200ms}",
        )
    )
    with pytest.raises(UpstreamTimeout) as late:
        await hurried.chat("m")
    assert "deadline" in late.value.message and late.value.attempts == 2
    assert late.value.upstream_request_id == upstream.requests[0].request_id  # the stalled one sent none


@on_virtual_time
async def test_rate_limit_headers_are_kept_when_the_server_relays_them(
    make: Callable[[str], Harness], upstream: MemoryUpstream
) -> None:
    upstream.script("first", Behaviour(headers={"x-ratelimit-remaining-tokens": "90", "x-other": "no"}))
    harness = make("server: {relay_ratelimit_headers: true}\n" + FALLBACK)
    completion = await harness.chat("m")
    assert completion.correlation is not None
    assert completion.correlation.ratelimit == {"x-ratelimit-remaining-tokens": "90"}
