"""The routing strategies a group may name, and how each paces its calls: plain data the
config is validated against. How each orders a group's deployments lives in
``router.routing.strategies``."""

from __future__ import annotations

import enum


class Pacing(enum.Enum):
    """How the dispatcher calls the ordered deployments within one round."""

    ONE_BY_ONE = "one_by_one"  # the next only after the previous failed
    ALL_AT_ONCE = "all_at_once"  # race: ``max_parallel`` (default: all) at once, the first answer wins
    STAGGERED = "staggered"  # hedge: the next after ``hedge_delay`` without an answer (default: 2 in flight)

    @property
    def fans_out(self) -> bool:
        return self is not Pacing.ONE_BY_ONE


class StrategyName(enum.StrEnum):
    """A group's ``strategy``, in the order the docs list them."""

    FALLBACK = "fallback"
    RACE = "race"
    HEDGE = "hedge"
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LEAST_BUSY = "least_busy"
    LATENCY = "latency"
    COST = "cost"

    @property
    def pacing(self) -> Pacing:
        return _PACING.get(self, Pacing.ONE_BY_ONE)


_PACING = {StrategyName.RACE: Pacing.ALL_AT_ONCE, StrategyName.HEDGE: Pacing.STAGGERED}

STRATEGY_NAMES = frozenset(StrategyName)


def pacing_of(name: str) -> Pacing:
    """The pacing of the strategy ``name`` (a group's validated ``strategy``)."""
    return StrategyName(name).pacing
