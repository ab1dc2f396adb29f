"""Prices per token: the deployment's own, else litellm's bundled table, read as plain JSON.

The table ships inside the litellm package; reading it directly costs ~30 ms once per
worker instead of the seconds ``import litellm`` takes.
"""

from __future__ import annotations

import importlib.util
import logging
from functools import cache
from pathlib import Path
from typing import Any

import orjson

from router.config.model import Deployment, Price

logger = logging.getLogger("raceway.pricing")

_TABLE = "model_prices_and_context_window_backup.json"


@cache
def litellm_price_table() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        logger.warning("litellm is not installed: no bundled price table")
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / _TABLE
    table: dict[str, Any] = orjson.loads(path.read_bytes())
    return table


def table_price(deployment: Deployment, table: dict[str, Any]) -> Price | None:
    """The deployment's price per million tokens from the table, trying ``provider/model`` first."""
    for key in (f"{deployment.provider}/{deployment.model}", deployment.model):
        entry = table.get(key)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return Price(
                input=float(entry["input_cost_per_token"]) * 1e6,
                output=float(entry.get("output_cost_per_token", 0.0)) * 1e6,
            )
    return None


def price_of(deployment: Deployment, table: dict[str, Any]) -> Price | None:
    return deployment.price or table_price(deployment, table)


def cost_usd(price: Price | None, prompt_tokens: int, completion_tokens: int) -> float:
    if price is None:
        return 0.0
    return (prompt_tokens * price.input + completion_tokens * price.output) / 1e6
