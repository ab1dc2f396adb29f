"""``raceway keys``: create a gateway key (shown once; the config keeps only its hash) and show spend."""

from __future__ import annotations

import argparse
import asyncio
import functools
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry

from router.config.model import GatewayConfig, key_digest
from router.routing.budgets import tier_of
from router.spend.book import utc_day
from router.spend.ledger import Spent
from router.state import open_state
from router.state.backend import StateBackend, StoreUnavailable
from router.telemetry.metrics import Metrics

DEFAULT_CONFIG = Path("config/gateway.yaml")
KEY_PREFIX = "rw-"


def add_commands(parser: argparse.ArgumentParser, load: Callable[[Path], GatewayConfig | None]) -> None:
    """``load``: reads and validates a config, printing its problems (None when it has any)."""
    commands = parser.add_subparsers(dest="keys_command", required=True)
    create = commands.add_parser("create", help="make a new key: prints it once, and the config entry to add")
    create.add_argument("name", help="the key's name, as budgets, metrics and logs show it")
    create.set_defaults(keys_run=create_key)
    digest = commands.add_parser("hash", help="print the key_sha256 of a key read from standard input")
    digest.set_defaults(keys_run=hash_key)
    spend = commands.add_parser("spend", help="show each key's spend today and this month")
    spend.add_argument("-c", "--config", type=Path, default=DEFAULT_CONFIG, help="config file (YAML)")
    spend.set_defaults(keys_run=functools.partial(show_spend, load=load))


def create_key(args: argparse.Namespace) -> int:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    print(f"key (shown only now, give it to its owner): {key}")
    print("add this entry under keys: in the config (it holds only the key's hash):")
    print(f"  - {{name: {args.name}, key_sha256: {key_digest(key).hex()}}}")
    return 0


def hash_key(args: argparse.Namespace) -> int:
    key = sys.stdin.readline().strip()
    if not key:
        print("no key on standard input", file=sys.stderr)
        return 1
    print(key_digest(key).hex())
    return 0


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
