"""How a group's round is paced for one request: cache-aware race and hedge, the hedge budget
and the near tier, each skipped second call counted by its reason."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from router.config.model_groups import HedgeBudget, ModelGroup
from router.dispatch.hedging import HedgeAllowance
from router.dispatch.pacing import HEDGE_MIN_SAMPLES, WARM_MIN_SAMPLES, hedge_delay, pace_of
from router.fleet.fleet import Member
from router.routing.affinity import Placement
from router.routing.rules import RoutedRequest
from router.routing.sessions import AffinityResult
from router.telemetry.metrics import Metrics
from tests.test_strategies import Clock, member

RACE = ModelGroup(name="r", deployments=("a", "b"), strategy="race")
HEDGE = ModelGroup(name="h", deployments=("a", "b"), strategy="hedge", hedge_delay=0.1)
AUTO = ModelGroup(name="auto", deployments=("a", "b", "c"), strategy="hedge", hedge_min_delay=0.05)


def skipped(registry: CollectorRegistry, group: str, reason: str) -> float:
    return (
        registry.get_sample_value("raceway_hedges_skipped_total", {"model": group, "reason": reason}) or 0.0
    )


def warm(pinned: object) -> Placement:
    return Placement([pinned], AffinityResult.HIT, pinned)  # type: ignore[list-item,arg-type]


def test_a_race_sends_a_warm_session_alone_and_a_new_one_to_every_deployment() -> None:
    registry = CollectorRegistry()
    metrics, a = Metrics(registry), member("a")
    request = RoutedRequest(group=RACE, requested="r", prompt_tokens=1, stream=False)
    assert pace_of(metrics, RACE, request, None, None).all_at_once
    alone = pace_of(metrics, RACE, request, warm(a), None)
    assert alone.parallel == 1 and not alone.all_at_once
    assert request.decided.alone == "warm" and skipped(registry, "r", "warm") == 1


def test_a_warm_hedge_waits_for_the_deployment_s_warm_p95_but_never_less_than_usual() -> None:
    metrics, clock = Metrics(CollectorRegistry()), Clock()
    pinned, other = member("a", clock=clock), member("b", clock=clock)
    request = RoutedRequest(group=HEDGE, requested="h", prompt_tokens=1, stream=False)
    for _ in range(WARM_MIN_SAMPLES):
        pinned.stats.observe_warm(0.3, stream=False)
    pace = pace_of(metrics, HEDGE, request, warm(pinned), None)
    assert pace.hedge_delay is not None
    assert (pace.hedge_delay(pinned), pace.hedge_delay(other)) == (0.3, 0.1)
    quick = member("c", clock=clock)
    for _ in range(WARM_MIN_SAMPLES):
        quick.stats.observe_warm(0.01, stream=False)
    faster = pace_of(metrics, HEDGE, request, warm(quick), None)
    assert faster.hedge_delay is not None and faster.hedge_delay(quick) == hedge_delay(HEDGE, False)(quick)


def test_hedges_within_the_budget_and_none_for_a_key_near_its_own() -> None:
    registry, clock = CollectorRegistry(), Clock()
    metrics = Metrics(registry)
    allowance = HedgeAllowance(HedgeBudget(share=0.0, minimum=1), clock)
    request = RoutedRequest(group=HEDGE, requested="h", prompt_tokens=1, stream=False)
    gate = pace_of(metrics, HEDGE, request, None, allowance).may_hedge
    assert gate is not None
    assert gate() is True and gate() is False  # the minimum's one, then the budget is spent
    assert skipped(registry, "h", "budget") == 1 and request.decided.alone == "budget"
    frugal = RoutedRequest(group=HEDGE, requested="h", prompt_tokens=1, stream=False, frugal=True)
    frugal_gate = pace_of(metrics, HEDGE, frugal, None, HedgeAllowance(HedgeBudget(), clock)).may_hedge
    assert frugal_gate is not None and frugal_gate() is False
    assert skipped(registry, "h", "tier") == 1 and frugal.decided.alone == "tier"


def observed(name: str, seconds: float, count: int, *, stream: bool = False) -> Member:
    deployment = member(name)
    for _ in range(count):
        deployment.stats.observe(seconds, stream=stream)
    return deployment


def test_a_deployment_without_figures_and_no_peer_with_any_waits_a_modest_multiple_of_the_floor() -> None:
    new, other = observed("a", 0.0, 0), observed("b", 0.5, HEDGE_MIN_SAMPLES - 1)
    delay = hedge_delay(AUTO, False, [new, other])
    assert delay(new) == pytest.approx(0.2)  # 4 x hedge_min_delay, not a whole second
    assert delay(other) == pytest.approx(0.2)  # 19 samples are not enough to trust, its own or a peer's


def test_a_deployment_without_figures_borrows_the_median_p95_of_its_peers_that_have_them() -> None:
    new = observed("a", 0.0, 0)
    peers = [observed("b", 0.08, HEDGE_MIN_SAMPLES), observed("c", 0.12, 50), observed("d", 0.9, 200)]
    assert hedge_delay(AUTO, False, [new, *peers])(new) == pytest.approx(0.12)
    assert hedge_delay(AUTO, False, [new, peers[0]])(new) == pytest.approx(0.08)
    assert hedge_delay(AUTO, False, [new, observed("e", 0.01, 30)])(new) == pytest.approx(0.05)  # the floor
    # its own figures once it has enough; the peers' never count for a member that has them
    known = observed("f", 0.3, HEDGE_MIN_SAMPLES)
    assert hedge_delay(AUTO, False, [known, *peers])(known) == pytest.approx(0.3)


def test_a_stream_s_prior_is_the_peers_time_to_first_content_not_their_whole_answers() -> None:
    new = observed("a", 0.0, 0)
    peer = observed("b", 2.0, HEDGE_MIN_SAMPLES)  # whole answers: 2 s
    for _ in range(HEDGE_MIN_SAMPLES):
        peer.stats.observe(0.15, stream=True)  # first content: 150 ms
    assert hedge_delay(AUTO, True, [new, peer])(new) == pytest.approx(0.15)
    assert hedge_delay(AUTO, False, [new, peer])(new) == pytest.approx(2.0)


def test_a_configured_hedge_delay_is_kept_whatever_the_figures() -> None:
    new, peer = observed("a", 0.0, 0), observed("b", 0.9, 100)
    assert hedge_delay(HEDGE, False, [new, peer])(new) == 0.1
    assert hedge_delay(HEDGE, False, [new, peer])(peer) == 0.1


def test_the_pace_of_an_auto_hedge_borrows_from_the_round_s_candidates() -> None:
    metrics = Metrics(CollectorRegistry())
    new, peer = observed("a", 0.0, 0), observed("b", 0.07, 40)
    request = RoutedRequest(group=AUTO, requested="auto", prompt_tokens=1, stream=False)
    pace = pace_of(metrics, AUTO, request, None, None, [new, peer])
    assert pace.hedge_delay is not None and pace.hedge_delay(new) == pytest.approx(0.07)
