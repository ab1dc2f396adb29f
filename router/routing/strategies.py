"""Routing strategies: each is one entry of ``STRATEGIES``, its ordering and its pacing.

The ordering is a pure policy: it sees a group's usable deployments (already filtered for
health and context window) and returns them in the order to try. The pacing says how the
dispatcher calls them in that order: one after another (``fallback`` and the balancing
strategies), all at once (``race``) or staggered (``hedge``); it is plain data the config
validates against, with the strategy's name (``router.config.strategies``). Adding a strategy
is adding its name there and its entry here.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from router.config.strategies import StrategyName

if TYPE_CHECKING:  # the config validates strategy names before any deployment exists
    from router.fleet.fleet import Member

EXPLORATION = 0.05  # share of latency-routed requests sent to a random deployment


@dataclass(frozen=True, slots=True)
class RequestTraits:
    """What strategies may know about a request."""

    stream: bool
    prompt_tokens: int


class Strategy(Protocol):
    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]: ...


class ConfiguredOrder:
    """The order of the group's ``deployments`` list (fallback, race, hedge)."""

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        return list(candidates)


class RoundRobin:
    def __init__(self) -> None:
        self._turn = itertools.count()

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        if not candidates:
            return []
        start = next(self._turn) % len(candidates)
        return [*candidates[start:], *candidates[:start]]


class Weighted:
    """Random order, each next pick proportional to the remaining deployments' ``weight``."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        remaining = list(candidates)
        ordered: list[Member] = []
        while remaining:
            total = sum(m.deployment.weight for m in remaining)
            point = self._rng.random() * total
            for index, member in enumerate(remaining):
                point -= member.deployment.weight
                if point < 0 or index == len(remaining) - 1:
                    ordered.append(remaining.pop(index))
                    break
        return ordered


class LeastBusy:
    """Fewest calls in flight in this worker first; ties keep the configured order."""

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        return sorted(candidates, key=lambda m: m.stats.in_flight)


class LowestLatency:
    """Power of two choices on the recent mean latency, with exploration.

    A deployment with no recent sample counts as fastest, so a new or recovered one is
    tried again; a small share of requests goes to a random one to keep estimates fresh.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        if len(candidates) < 2:
            return list(candidates)

        def expected(member: Member) -> float:
            value = member.stats.expected_latency(request.stream)
            return 0.0 if value is None else value

        if self._rng.random() < EXPLORATION:
            first = self._rng.choice(candidates)
        else:
            a, b = self._rng.sample(list(candidates), 2)
            first = a if expected(a) <= expected(b) else b
        rest = sorted((m for m in candidates if m is not first), key=expected)
        return [first, *rest]


class Cheapest:
    """Lowest expected price for this request first; deployments with no known price last."""

    def order(self, candidates: Sequence[Member], request: RequestTraits) -> list[Member]:
        def cost(member: Member) -> float:
            if member.price is None:
                return float("inf")
            # The answer's length is unknown: assume it is as long as the prompt, at least 1 token.
            tokens = max(1, request.prompt_tokens)
            return tokens * member.price.input + tokens * member.price.output

        return sorted(candidates, key=cost)


@dataclass(frozen=True, slots=True)
class StrategyKind:
    ordering: Callable[[random.Random], Strategy]  # a fresh instance per group (it may keep a turn)
    # It only spreads load: with affinity, rendezvous hashing may place a new session instead
    # (``router.routing.affinity``), by ``weight`` when ``weighs``.
    spreads: bool = False
    weighs: bool = False


STRATEGIES: dict[str, StrategyKind] = {
    StrategyName.FALLBACK: StrategyKind(lambda rng: ConfiguredOrder()),
    StrategyName.RACE: StrategyKind(lambda rng: ConfiguredOrder()),
    StrategyName.HEDGE: StrategyKind(lambda rng: ConfiguredOrder()),
    StrategyName.ROUND_ROBIN: StrategyKind(lambda rng: RoundRobin(), spreads=True),
    StrategyName.WEIGHTED: StrategyKind(Weighted, spreads=True, weighs=True),
    StrategyName.LEAST_BUSY: StrategyKind(lambda rng: LeastBusy()),
    StrategyName.LATENCY: StrategyKind(LowestLatency),
    StrategyName.COST: StrategyKind(lambda rng: Cheapest()),
}


def strategy_for(name: str, rng: random.Random | None = None) -> Strategy:
    """A fresh strategy instance for one model group (strategies may keep state, like a turn)."""
    return STRATEGIES[name].ordering(rng or random.Random())


def kind_of(name: str) -> StrategyKind:
    return STRATEGIES[name]
