"""Routing strategies: pure policies that order a group's usable deployments for one request.

Each strategy sees the candidates (already filtered for health and context window) and
returns them in the order to try. Whether they are then called one after another
(fallback), all at once (race) or staggered (hedge) is the dispatcher's business, set
by the group's strategy name.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

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


REGISTRY: dict[str, Callable[[random.Random], Strategy]] = {
    "fallback": lambda rng: ConfiguredOrder(),
    "race": lambda rng: ConfiguredOrder(),
    "hedge": lambda rng: ConfiguredOrder(),
    "round_robin": lambda rng: RoundRobin(),
    "weighted": Weighted,
    "least_busy": lambda rng: LeastBusy(),
    "latency": LowestLatency,
    "cost": lambda rng: Cheapest(),
}


def strategy_for(name: str, rng: random.Random | None = None) -> Strategy:
    """A fresh strategy instance for one model group (strategies may keep state, like a turn)."""
    return REGISTRY[name](rng or random.Random())
