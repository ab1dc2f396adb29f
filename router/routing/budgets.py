"""Budget tiers, as in VAPORA's budget enforcement: a key's spend decides where its requests go.

Below ``near`` (80 % by default) of its daily or monthly budget a key's requests route
normally; from there on they go to the key's ``downgrade_to`` group (a cheaper one);
over budget they go to ``exceeded_to`` if set, else get 429 ``budget_exceeded``.

A stream that breaks midway asks again before it is continued (``KeyBudget``): its key's spend
then, plus what the stream's own calls cost so far, steers the continuation as it would steer a
new request (``router.dispatch.resume``).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from router.config.gateway_keys import Budget, GatewayKey
from router.config.model import GatewayConfig
from router.errors import BudgetExceeded
from router.routing.rules import RoutedRequest
from router.spend.ledger import Spent

BUDGET_HEADER = "x-raceway-budget-tier"


class Tier(enum.StrEnum):
    """Where a key stands against its budget (the ``x-raceway-budget-tier`` header)."""

    NORMAL = "normal"
    NEAR = "near"  # past ``near``: requests go to ``downgrade_to``
    EXCEEDED = "exceeded"  # past the budget: ``exceeded_to``, or 429


def used_fraction(budget: Budget, spent: Spent) -> float:
    """The larger of the daily and monthly fractions spent."""
    fractions = [0.0]
    if budget.daily:
        fractions.append(spent.day / budget.daily)
    if budget.monthly:
        fractions.append(spent.month / budget.monthly)
    return max(fractions)


def tier_of(budget: Budget, spent: Spent) -> Tier:
    fraction = used_fraction(budget, spent)
    if fraction >= 1.0:
        return Tier.EXCEEDED
    return Tier.NEAR if fraction >= budget.near else Tier.NORMAL


def steer(
    config: GatewayConfig, routed: RoutedRequest, key: GatewayKey, spent: Spent, now: datetime | None = None
) -> tuple[RoutedRequest, Tier]:
    """The request as its key's budget tier routes it, and the tier."""
    budget = key.budget
    assert budget is not None
    tier = tier_of(budget, spent)
    target = {Tier.NEAR: budget.downgrade_to, Tier.EXCEEDED: budget.exceeded_to}.get(tier)
    if tier is Tier.EXCEEDED and target is None:
        raise BudgetExceeded(
            f"the key {key.name!r} has spent its budget ({_describe(budget, spent)})",
            retry_after=_seconds_until_reset(budget, spent, now or datetime.now(UTC)),
        )
    if target is None or target == routed.group.name:
        return routed, tier
    # A budget outranks a pinned deployment: the pin belongs to the group it leaves.
    return dataclasses.replace(routed, group=config.models[target], pinned=None), tier


@dataclass(frozen=True, slots=True)
class KeyBudget:
    """A key's budget as a request's later calls check it: its spend is read when asked."""

    config: GatewayConfig
    key: GatewayKey
    spent: Callable[[str], Spent]  # the key's spend over every worker, as this one knows it

    def steered(self, routed: RoutedRequest, cost: float) -> RoutedRequest:
        """``routed`` as the key's budget routes it now that the request itself has cost ``cost``
        (USD, not yet in the book); ``BudgetExceeded`` when it has nowhere to go."""
        spent = self.spent(self.key.name)
        now = dataclasses.replace(spent, day=spent.day + cost, month=spent.month + cost)
        return steer(self.config, routed, self.key, now)[0]


def _describe(budget: Budget, spent: Spent) -> str:
    parts = []
    if budget.daily:
        parts.append(f"${spent.day:.4f} of ${budget.daily:g} today")
    if budget.monthly:
        parts.append(f"${spent.month:.4f} of ${budget.monthly:g} this month")
    return ", ".join(parts)


def _seconds_until_reset(budget: Budget, spent: Spent, now: datetime) -> int:
    """Until the budget that is spent renews: the next UTC day, or the next month if that one is spent."""
    if budget.monthly and spent.month >= budget.monthly:
        first_of_next = (now.replace(day=1) + timedelta(days=32)).replace(day=1)
        renewal = first_of_next.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        renewal = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, int((renewal - now).total_seconds()))
