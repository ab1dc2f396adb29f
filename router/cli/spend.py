"""``raceway keys spend``: each key's spend today and this month, from the configured state backend."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from router.config.model import GatewayConfig
from router.routing.budgets import tier_of
from router.spend.book import utc_day
from router.spend.ledger import Spent
from router.state import open_state
from router.state.backend import StateBackend, StoreUnavailable
from router.telemetry.metrics import Metrics


def show_spend(args: argparse.Namespace, *, load: Callable[[Path], GatewayConfig | None]) -> int:
    config = load(args.config)
    if config is None:
        return 1
    state = open_state(config, Metrics(CollectorRegistry()))
    try:
        totals = asyncio.run(_totals(state, utc_day(time.time())))
    except StoreUnavailable as exc:
        print(f"cannot read spend from {state.spend.where}: {exc}", file=sys.stderr)
        return 1
    if totals is None:
        print(f"no spend recorded yet ({state.spend.where} does not exist)")
        return 0
    print(_table(config, totals))
    return 0


async def _totals(state: StateBackend, day: str) -> dict[str, Spent] | None:
    try:
        return await state.spend.totals(day)
    finally:
        await state.close()


def _table(config: GatewayConfig, totals: dict[str, Spent]) -> str:
    rows = [("key", "today USD", "month USD", "requests", "tokens", "budget", "tier")]
    names = [key.name for key in config.keys] + sorted(set(totals) - {key.name for key in config.keys})
    budgets = {key.name: key.budget for key in config.keys}
    for name in names:
        spent = totals.get(name, Spent())
        budget = budgets.get(name)
        limits = "-"
        if budget is not None:
            parts = [
                f"{budget.daily:g}/day" if budget.daily else "",
                f"{budget.monthly:g}/month" if budget.monthly else "",
            ]
            limits = " ".join(part for part in parts if part)
        tier = tier_of(budget, spent) if budget is not None else "-"
        label = name if name in budgets else f"{name} (not in config)"
        rows.append(
            (
                label,
                f"{spent.day:.6f}",
                f"{spent.month:.6f}",
                str(spent.requests),
                str(spent.tokens),
                limits,
                tier,
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )
