"""``raceway keys``: create a gateway key (shown once; the config keeps only its hash) and show spend."""

from __future__ import annotations

import argparse
import functools
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

from router.config.gateway_keys import key_digest
from router.config.model import GatewayConfig

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
    spend.set_defaults(keys_run=functools.partial(_spend, load=load))


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


def _spend(args: argparse.Namespace, *, load: Callable[[Path], GatewayConfig | None]) -> int:
    # The state backends, metrics and the spend book load for this command only, not for every
    # start of ``raceway serve`` (whose parser lists this command too).
    from router.cli.spend import show_spend

    return show_spend(args, load=load)
