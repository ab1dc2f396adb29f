"""Strategies are pure policies: given candidates and a request, the order to try them in."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from router.config.model import CooldownSettings, Deployment, Price
from router.config.strategies import StrategyName
from router.fleet.breaker import Breaker
from router.fleet.fleet import Member
from router.fleet.stats import DeploymentStats
from router.routing.strategies import (
    STRATEGIES,
    Cheapest,
    ConfiguredOrder,
    LeastBusy,
    LowestLatency,
    RequestTraits,
    RoundRobin,
    Weighted,
    strategy_for,
)
from router.spend.pricing import litellm_table_for, price_of

TRAITS = RequestTraits(stream=False, prompt_tokens=100)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def member(
    name: str, *, weight: float = 1.0, price: Price | None = None, clock: Clock | None = None
) -> Member:
    deployment = Deployment(name=name, provider="fake", model=name, weight=weight, price=price)
    clock = clock or Clock()
    return Member(deployment, None, Breaker(CooldownSettings(), clock), DeploymentStats(clock), price)  # type: ignore[arg-type]


def names(members: list[Member]) -> list[str]:
    return [m.name for m in members]


def test_configured_order_is_kept() -> None:
    candidates = [member("a"), member("b"), member("c")]
    assert names(ConfiguredOrder().order(candidates, TRAITS)) == ["a", "b", "c"]


def test_round_robin_rotates() -> None:
    candidates = [member("a"), member("b"), member("c")]
    strategy = RoundRobin()
    firsts = [strategy.order(candidates, TRAITS)[0].name for _ in range(6)]
    assert firsts == ["a", "b", "c", "a", "b", "c"]
    assert names(strategy.order(candidates, TRAITS)) == ["a", "b", "c"]


def test_weighted_split_follows_the_weights() -> None:
    candidates = [member("heavy", weight=3), member("light", weight=1)]
    strategy = Weighted(random.Random(1))
    firsts = Counter(strategy.order(candidates, TRAITS)[0].name for _ in range(4000))
    assert firsts["heavy"] / 4000 == pytest.approx(0.75, abs=0.03)
    assert sorted(names(strategy.order(candidates, TRAITS))) == ["heavy", "light"]  # nobody dropped


def test_least_busy_prefers_fewer_in_flight() -> None:
    a, b, c = member("a"), member("b"), member("c")
    a.stats.in_flight, b.stats.in_flight, c.stats.in_flight = 4, 1, 2
    assert names(LeastBusy().order([a, b, c], TRAITS)) == ["b", "c", "a"]


def test_latency_prefers_the_faster_and_explores() -> None:
    clock = Clock()
    fast, slow = member("fast", clock=clock), member("slow", clock=clock)
    for _ in range(10):
        fast.stats.observe(0.05, stream=False)
        slow.stats.observe(0.50, stream=False)
    strategy = LowestLatency(random.Random(3))
    firsts = Counter(strategy.order([slow, fast], TRAITS)[0].name for _ in range(2000))
    assert firsts["fast"] > 1900  # two choices among two: the faster, bar exploration
    assert firsts["slow"] > 0  # exploration keeps an eye on it


def test_latency_retries_a_deployment_whose_estimate_went_stale() -> None:
    clock = Clock()
    recovered, steady = member("recovered", clock=clock), member("steady", clock=clock)
    recovered.stats.observe(5.0, stream=False)  # it was terrible...
    clock.now += 120  # ...long ago
    steady.stats.observe(0.2, stream=False)
    strategy = LowestLatency(random.Random(5))
    firsts = Counter(strategy.order([steady, recovered], TRAITS)[0].name for _ in range(200))
    assert firsts["recovered"] > 150


def test_latency_uses_stream_first_chunk_times_for_streams() -> None:
    a, b = member("a"), member("b")
    a.stats.observe(0.1, stream=False)
    b.stats.observe(0.9, stream=False)
    a.stats.observe(0.9, stream=True)
    b.stats.observe(0.1, stream=True)
    strategy = LowestLatency(random.Random(2))
    streaming = RequestTraits(stream=True, prompt_tokens=10)
    assert Counter(strategy.order([a, b], streaming)[0].name for _ in range(100))["b"] > 90


def test_cost_picks_the_cheaper_and_unknown_prices_last() -> None:
    pricey = member("pricey", price=Price(input=5.0, output=15.0))
    cheap = member("cheap", price=Price(input=0.15, output=0.6))
    unknown = member("unknown")
    assert names(Cheapest().order([unknown, pricey, cheap], TRAITS)) == ["cheap", "pricey", "unknown"]


def test_prices_come_from_litellms_table_unless_configured() -> None:
    mini = Deployment(name="x", provider="openai", model="gpt-4o-mini")
    big = Deployment(name="y", provider="openai", model="gpt-4o")
    own = Deployment(name="z", provider="openai", model="gpt-4o", price=Price(input=0.01, output=0.02))
    unknown = Deployment(name="n", provider="vllm", model="my-finetune")
    table = litellm_table_for([mini, big, own, unknown])
    mini_price, big_price = price_of(mini, table), price_of(big, table)
    assert mini_price == Price(
        input=pytest.approx(0.15),  # type: ignore[arg-type]
        output=pytest.approx(0.6),  # type: ignore[arg-type]
        cache_read=pytest.approx(0.075),  # type: ignore[arg-type]  # the prompt cache's reads: half price
    )
    assert big_price is not None and big_price.input > mini_price.input  # type: ignore[union-attr]
    assert price_of(own, table) == Price(input=0.01, output=0.02)
    assert price_of(unknown, table) is None


@pytest.mark.parametrize(
    "name", ["fallback", "race", "hedge", "round_robin", "weighted", "least_busy", "latency", "cost"]
)
def test_every_configurable_strategy_is_registered(name: str) -> None:
    candidates = [member("a"), member("b")]
    assert sorted(names(strategy_for(name).order(candidates, TRAITS))) == ["a", "b"]


def test_every_strategy_the_config_accepts_has_an_ordering() -> None:
    assert sorted(STRATEGIES) == sorted(StrategyName)
    assert [name for name in StrategyName if name.pacing.fans_out] == ["race", "hedge"]
