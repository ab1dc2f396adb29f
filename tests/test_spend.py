"""The spend ledger and each worker's book: shared by workers, surviving restarts, budget tiers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from router.config.gateway_keys import Budget, GatewayKey
from router.config.load import parse_config
from router.errors import BudgetExceeded
from router.routing.budgets import Tier, steer, tier_of
from router.routing.rules import route
from router.spend.book import SpendBook
from router.spend.ledger import Spent
from router.state.local import LedgerStore
from router.wire.usage import Usage

NOON = datetime(2026, 11, 24, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


class Clock:
    def __init__(self, now: float = NOON) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def book(path: Path, clock: Clock) -> SpendBook:
    spend = SpendBook(LedgerStore(path), 0.05, clock=clock)
    spend.tracking = True
    return spend


async def stop(spend: SpendBook) -> None:
    """What a worker does at shutdown: write what is left, then close the store."""
    await spend.flush()
    await spend.store.close()


async def test_workers_see_each_others_spend_after_a_sync(tmp_path: Path) -> None:
    clock = Clock()
    first, second = book(tmp_path / "ledger.db", clock), book(tmp_path / "ledger.db", clock)
    first.record("team", 0.25, Usage(10, 5))
    assert first.spent("team") == Spent(day=0.25, month=0.25, requests=1, tokens=15)  # its own, unsynced
    assert second.spent("team") == Spent()
    await first.sync()
    second.record("team", 0.5, None)
    await second.sync()
    assert second.spent("team") == Spent(day=0.75, month=0.75, requests=2, tokens=15)
    await first.sync()
    assert first.spent("team").day == pytest.approx(0.75)
    await stop(first)
    await stop(second)


async def test_spend_survives_a_restart_and_a_clean_stop_writes_everything(tmp_path: Path) -> None:
    clock = Clock()
    before = book(tmp_path / "ledger.db", clock)
    before.record("team", 1.5, None)
    await stop(before)  # never synced: the flush writes it
    after = book(tmp_path / "ledger.db", clock)
    await after.start()
    assert after.spent("team").day == pytest.approx(1.5)
    await stop(after)


async def test_days_and_months_roll_over(tmp_path: Path) -> None:
    clock = Clock()
    spend = book(tmp_path / "ledger.db", clock)
    spend.record("team", 2.0, None)
    await spend.sync()
    clock.now += DAY  # the next day, the same month
    assert spend.spent("team") == Spent(day=0.0, month=2.0, requests=1)
    spend.record("team", 1.0, None)
    await spend.sync()
    assert spend.spent("team") == Spent(day=1.0, month=3.0, requests=2, tokens=0)
    clock.now += 7 * DAY  # December
    await spend.sync()
    assert spend.spent("team") == Spent()
    await stop(spend)


async def test_an_unwritable_ledger_keeps_the_spend_for_later(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    spend = book(blocker / "ledger.db", Clock())
    spend.record("team", 0.5, None)
    await spend.sync()  # logged, not raised
    assert spend.spent("team").day == 0.5
    await stop(spend)


BUDGET = Budget(daily=1.0, monthly=10.0, near=0.8, downgrade_to="cheap")


@pytest.mark.parametrize(
    ("spent", "tier"),
    [
        (Spent(day=0.79, month=0.79), Tier.NORMAL),
        (Spent(day=0.8, month=0.8), Tier.NEAR),
        (Spent(day=0.1, month=8.0), Tier.NEAR),  # the monthly budget counts too
        (Spent(day=1.0, month=1.0), Tier.EXCEEDED),
        (Spent(day=0.0, month=10.0), Tier.EXCEEDED),
    ],
)
def test_tiers_switch_at_the_thresholds(spent: Spent, tier: str) -> None:
    assert tier_of(BUDGET, spent) == tier


CONFIG = parse_config(
    b"""
deployments: [{name: a, provider: fake}, {name: b, provider: fake}]
models:
  - {name: best, deployments: [a]}
  - {name: cheap, deployments: [b]}
  - {name: local, deployments: [b]}
""",
    {},
)


def steered(budget: Budget, spent: Spent) -> tuple[str, str]:
    key = GatewayKey.from_secret("team", "rw-team-key-1", budget=budget)
    body = {"model": "best", "messages": []}
    routed, tier = steer(CONFIG, route(CONFIG, "best", body, key, {}), key, spent)
    return routed.group.name, tier


def test_near_the_budget_requests_go_to_the_cheaper_group() -> None:
    assert steered(BUDGET, Spent(day=0.5)) == ("best", Tier.NORMAL)
    assert steered(BUDGET, Spent(day=0.9)) == ("cheap", Tier.NEAR)
    assert steered(Budget(daily=1.0), Spent(day=0.9)) == ("best", Tier.NEAR)  # nowhere cheaper to go


def test_over_budget_requests_go_to_exceeded_to_or_are_refused_until_the_renewal() -> None:
    assert steered(Budget(daily=1.0, exceeded_to="local"), Spent(day=1.2)) == ("local", Tier.EXCEEDED)
    key = GatewayKey.from_secret("team", "rw-team-key-1", budget=Budget(daily=1.0))
    routed = route(CONFIG, "best", {"model": "best", "messages": []}, key, {})
    ten_pm = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
    with pytest.raises(BudgetExceeded) as refused:
        steer(CONFIG, routed, key, Spent(day=1.5, month=1.5), now=ten_pm)
    assert refused.value.status_code == 429 and refused.value.code == "budget_exceeded"
    assert refused.value.headers["retry-after"] == "7200"  # midnight UTC
    monthly = GatewayKey.from_secret("team", "rw-team-key-1", budget=Budget(monthly=5.0))
    with pytest.raises(BudgetExceeded) as refused:
        steer(CONFIG, routed, monthly, Spent(day=0.1, month=5.0), now=ten_pm)
    assert refused.value.headers["retry-after"] == str(6 * 86400 + 7200)  # December 1st
