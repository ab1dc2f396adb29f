"""The round engine: one by one, all at once (race) or staggered (hedge); the first success wins,
the others are cancelled, and every attempt begun is ended. Time is virtual: each test runs on
a loop whose clock jumps to the next timer, so delays are exact and nothing sleeps."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry

from router.config.model import CooldownSettings, Deployment
from router.dispatch.attempt import Attempt, Calls, Verdict
from router.dispatch.rounds import Answered, AttemptBudget, Failed, Pace, RoundFailed, outcome_of, run_round
from router.errors import UpstreamError, UpstreamRejected
from router.fleet.breaker import Breaker, State
from router.fleet.fleet import Member
from router.fleet.stats import DeploymentStats
from router.providers.correlation import Correlation
from router.providers.fake import FakeProvider
from router.telemetry.metrics import Metrics
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from tests.virtual_time import run

RACE = Pace(parallel=3, all_at_once=True)
ONE_BY_ONE = Pace()


def hedge(delay: float) -> Pace:
    return Pace(parallel=2, hedge_delay=lambda member: delay)


@dataclass
class Script:
    """What each deployment does when called: answer after ``delay``, or fail."""

    delays: dict[str, float]
    failures: dict[str, UpstreamError] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    async def call(self, member: Member, correlation: Correlation) -> bytes:
        loop = asyncio.get_running_loop()
        self.started[member.name] = loop.time()
        try:
            await asyncio.sleep(self.delays.get(member.name, 0.0))
        except asyncio.CancelledError:
            self.cancelled.append(member.name)
            raise
        if member.name in self.failures:
            raise self.failures[member.name]
        return f'{{"from": "{member.name}", "choices": []}}'.encode()


class Bench:
    def __init__(self, *names: str, failures: int = 3) -> None:
        self.registry = CollectorRegistry()
        self.calls = Calls(Metrics(self.registry))
        self.now = 0.0
        settings = CooldownSettings(failures=failures, window=60.0, duration=30.0)
        self.members = {name: self._member(name, settings) for name in names}

    def _member(self, name: str, settings: CooldownSettings) -> Member:
        deployment = Deployment(name=name, provider="fake", model="fake", cooldown=settings)
        clock = self.clock
        return Member(
            deployment, FakeProvider(deployment), Breaker(settings, clock), DeploymentStats(clock), None
        )

    def clock(self) -> float:
        return self.now

    async def round(self, script: Script, pace: Pace, *names: str, budget: int = 8) -> tuple[str, float]:
        """The winner's name and the virtual time it won at."""
        won = await run_round(
            [self.members[name] for name in names],
            lambda attempt: self.calls.complete(
                attempt, script.call, 10, FORMATS[Dialect.CHAT], Correlation()
            ),
            pace,
            AttemptBudget(budget),
            begin=self.calls.begin,
            discard=_nothing,
        )
        return won.winner.name, asyncio.get_running_loop().time()

    def all_released(self) -> bool:
        return all(m.stats.in_flight == 0 and m.gate.active == 0 for m in self.members.values())

    def upstream(self, name: str, outcome: str) -> float:
        labels = {"deployment": name, "outcome": outcome}
        return self.registry.get_sample_value("raceway_upstream_requests_total", labels) or 0.0


async def _nothing(value: object) -> None:
    return None


def test_a_race_starts_every_candidate_at_once_and_cancels_the_losers() -> None:
    bench = Bench("a", "b", "c")
    script = Script({"a": 3.0, "b": 1.0, "c": 2.0})

    async def main() -> tuple[str, float]:
        start = asyncio.get_running_loop().time()
        winner, at = await bench.round(script, RACE, "a", "b", "c")
        return winner, at - start

    assert run(main()) == ("b", 1.0)
    assert set(script.started.values()) == {0.0}
    assert sorted(script.cancelled) == ["a", "c"]
    assert bench.upstream("a", "cancelled") == bench.upstream("c", "cancelled") == 1
    assert bench.upstream("b", "success") == 1 and bench.all_released()


def test_a_race_outlives_a_contender_that_fails() -> None:
    bench = Bench("a", "b")
    script = Script({"a": 0.5, "b": 2.0}, failures={"a": UpstreamError("boom", deployment="a")})
    assert run(bench.round(script, RACE, "a", "b")) == ("b", 2.0)
    assert bench.upstream("a", "error") == 1 and bench.all_released()


def test_a_hedge_starts_the_next_call_only_after_its_delay() -> None:
    bench = Bench("a", "b")
    script = Script({"a": 5.0, "b": 1.0})
    assert run(bench.round(script, hedge(2.0), "a", "b")) == ("b", 3.0)
    assert script.started == {"a": 0.0, "b": 2.0} and script.cancelled == ["a"]


def test_a_hedge_never_starts_the_next_call_when_the_first_answers_in_time() -> None:
    bench = Bench("a", "b")
    script = Script({"a": 1.5, "b": 1.0})
    assert run(bench.round(script, hedge(2.0), "a", "b")) == ("a", 1.5)
    assert script.started == {"a": 0.0}


def test_a_hedge_its_budget_refuses_is_not_started_but_a_failure_still_moves_on() -> None:
    bench = Bench("a", "b")
    asked: list[float] = []

    def refuse() -> bool:
        asked.append(asyncio.get_running_loop().time())
        return False

    gated = Pace(parallel=2, hedge_delay=lambda member: 2.0, may_hedge=refuse)
    assert run(bench.round(Script({"a": 5.0, "b": 1.0}), gated, "a", "b")) == ("a", 5.0)
    assert asked == [2.0]  # asked once, when the delay ran out; then no timer any more
    failing = Script({"a": 3.0, "b": 1.0}, failures={"a": UpstreamError("down", deployment="a")})
    assert run(bench.round(failing, gated, "a", "b")) == ("b", 4.0)  # not a hedge: a's failure


def test_one_by_one_moves_on_after_a_retryable_failure_and_stops_at_a_rejection() -> None:
    bench = Bench("a", "b", "c")
    script = Script({"a": 1.0, "b": 1.0}, failures={"a": UpstreamError("down", deployment="a")})
    assert run(bench.round(script, ONE_BY_ONE, "a", "b", "c")) == ("b", 2.0)

    rejected = Script({}, failures={"a": UpstreamRejected("bad request", status=400, deployment="a")})
    with pytest.raises(UpstreamRejected):
        run(bench.round(rejected, ONE_BY_ONE, "a", "b"))
    assert "b" not in rejected.started and bench.all_released()


def test_when_every_call_fails_the_round_reports_each_failure() -> None:
    bench = Bench("a", "b")
    script = Script({}, failures={name: UpstreamError("down", deployment=name) for name in ("a", "b")})
    with pytest.raises(RoundFailed) as failed:
        run(bench.round(script, RACE, "a", "b"))
    assert sorted(failure.deployment or "" for failure in failed.value.failures) == ["a", "b"]


def test_the_attempt_budget_bounds_the_calls_started() -> None:
    bench = Bench("a", "b", "c")
    script = Script({"a": 1.0, "b": 2.0, "c": 0.5})  # c would win, had it been started
    assert run(bench.round(script, RACE, "a", "b", "c", budget=2)) == ("a", 1.0)
    assert set(script.started) == {"a", "b"}


def test_a_half_open_deployment_is_probed_by_one_request_at_a_time() -> None:
    bench = Bench("a", "b", failures=1)
    probed = bench.members["a"]
    probed.breaker.record_failure()
    bench.now += 30.0  # the cooldown is over: half-open
    assert probed.breaker.state is State.HALF_OPEN
    script = Script({"a": 1.0, "b": 1.0})

    async def two_requests() -> list[str]:
        first = asyncio.create_task(bench.round(script, ONE_BY_ONE, "a", "b"))
        second = asyncio.create_task(bench.round(script, ONE_BY_ONE, "a", "b"))
        return [(await first)[0], (await second)[0]]

    assert run(two_requests()) == ["a", "b"]  # the second request found the probe taken
    assert probed.breaker.state is State.HEALTHY and bench.all_released()


def test_a_failed_probe_cools_the_deployment_down_again() -> None:
    bench = Bench("a", failures=1)
    probed = bench.members["a"]
    probed.breaker.record_failure()
    bench.now += 30.0
    script = Script({}, failures={"a": UpstreamError("still down", deployment="a")})
    with pytest.raises(RoundFailed):
        run(bench.round(script, ONE_BY_ONE, "a"))
    assert probed.breaker.state is State.COOLED_DOWN


def test_a_call_cancelled_the_moment_it_starts_still_gives_its_probe_back() -> None:
    bench = Bench("a", failures=1)
    member = bench.members["a"]
    member.breaker.record_failure()
    bench.now += 30.0
    script = Script({})

    def begin_then_give_up(candidate: Member) -> Attempt | None:
        attempt = bench.calls.begin(candidate)
        assert attempt is not None and bench.calls.begin(candidate) is None  # the probe is taken
        task = asyncio.current_task()  # the request is cancelled the moment its call starts
        assert task is not None
        task.cancel()
        return attempt

    async def request() -> None:
        await run_round(
            [member],
            lambda attempt: bench.calls.complete(
                attempt, script.call, 10, FORMATS[Dialect.CHAT], Correlation()
            ),
            RACE,
            AttemptBudget(1),
            begin=begin_then_give_up,
            discard=_nothing,
        )

    async def main() -> bool:
        round_task = asyncio.create_task(request())
        await asyncio.wait([round_task])
        return round_task.cancelled()

    assert run(main()) and script.cancelled == ["a"]
    assert bench.calls.begin(member) is not None  # the probe is free again


def test_a_call_whose_task_never_ran_still_gives_its_probe_back() -> None:
    bench = Bench("a", "b", failures=1)
    probed = bench.members["a"]
    probed.breaker.record_failure()
    bench.now += 30.0
    script = Script({})

    def begin(candidate: Member) -> Attempt | None:
        if candidate.name == "b":  # a bug while the race starts its calls: a's task never runs
            raise RuntimeError("no attempt for b")
        return bench.calls.begin(candidate)

    async def request() -> None:
        await run_round(
            [probed, bench.members["b"]],
            lambda attempt: bench.calls.complete(
                attempt, script.call, 10, FORMATS[Dialect.CHAT], Correlation()
            ),
            RACE,
            AttemptBudget(2),
            begin=begin,
            discard=_nothing,
        )

    with pytest.raises(ExceptionGroup) as failed:
        run(request())
    assert failed.group_contains(RuntimeError, match="no attempt for b")
    assert script.started == {}
    assert bench.calls.begin(probed) is not None and bench.all_released()


def test_a_calls_wrapper_returns_what_it_came_to_instead_of_raising() -> None:
    async def answering() -> str:
        return "answer"

    async def failing() -> str:
        raise UpstreamError("down", deployment="a")

    async def main() -> tuple[object, object]:
        return await outcome_of(lambda _: answering(), None), await outcome_of(lambda _: failing(), None)

    answered, failed = run(main())
    assert answered == Answered("answer")
    assert isinstance(failed, Failed) and isinstance(failed.error, UpstreamError)


def test_a_race_leaves_no_task_behind_whoever_wins() -> None:
    bench = Bench("a", "b", "c")
    script = Script({"a": 3.0, "b": 1.0, "c": 2.0})

    async def main() -> set[asyncio.Task[object]]:
        before = asyncio.all_tasks()
        await bench.round(script, RACE, "a", "b", "c")
        return asyncio.all_tasks() - before

    assert run(main()) == set()
    assert sorted(script.cancelled) == ["a", "c"] and bench.all_released()


def test_a_race_the_request_gives_up_on_cancels_every_call_and_ends_every_attempt() -> None:
    bench = Bench("a", "b")
    script = Script({"a": 3.0, "b": 2.0})

    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):  # the request's deadline
                await bench.round(script, RACE, "a", "b")
        return asyncio.get_running_loop().time()

    assert run(main()) == 1.0
    assert sorted(script.cancelled) == ["a", "b"] and bench.all_released()
    assert bench.upstream("a", "cancelled") == bench.upstream("b", "cancelled") == 1


def test_an_attempt_ends_once_whatever_calls_end() -> None:
    bench = Bench("a", failures=2)
    member = bench.members["a"]

    async def main() -> Attempt:
        attempt = bench.calls.begin(member)
        assert attempt is not None
        await attempt.admit(10)
        return attempt

    attempt = run(main())
    assert member.stats.in_flight == 1
    attempt.end(Verdict.FAILURE)
    attempt.end(Verdict.FAILURE)
    attempt.end(Verdict.NONE)
    assert member.stats.in_flight == 0 and member.gate.active == 0
    assert member.breaker.state is State.HEALTHY  # one failure counted, not the two it takes


def test_an_auto_hedge_with_no_figures_yet_starts_the_second_call_after_its_prior_not_a_second() -> None:
    from router.config.model_groups import ModelGroup
    from router.dispatch.pacing import HEDGE_MIN_SAMPLES, pace_of
    from router.routing.rules import RoutedRequest

    group = ModelGroup(name="h", deployments=("a", "b", "c"), strategy="hedge", hedge_min_delay=0.05)
    request = RoutedRequest(group=group, requested="h", prompt_tokens=1, stream=False)
    metrics = Metrics(CollectorRegistry())
    bench = Bench("a", "b", "c")
    fresh = [bench.members["a"], bench.members["b"]]
    script = Script({"a": 5.0, "b": 0.1})
    assert run(bench.round(script, pace_of(metrics, group, request, None, None, fresh), "a", "b")) == (
        "b",
        pytest.approx(0.3),
    )
    assert script.started == {"a": 0.0, "b": pytest.approx(0.2)}  # 4 x hedge_min_delay
    for _ in range(HEDGE_MIN_SAMPLES):
        bench.members["c"].stats.observe(0.08, stream=False)
    # c has enough figures now (b has its one answer, a none: its call was cancelled), so a borrows c's
    assert len(bench.members["b"].stats.window(False)) == 1
    known = [bench.members["a"], bench.members["b"], bench.members["c"]]
    script = Script({"a": 5.0, "b": 0.1})
    run(bench.round(script, pace_of(metrics, group, request, None, None, known), "a", "b"))
    assert script.started == {"a": 0.0, "b": pytest.approx(0.08)}
