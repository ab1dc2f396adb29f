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
from router.wire.usage import Usage

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
                cache_read=_per_million(entry.get("cache_read_input_token_cost")),
                cache_write=_per_million(entry.get("cache_creation_input_token_cost")),
            )
    return None


def price_of(deployment: Deployment, table: dict[str, Any]) -> Price | None:
    return deployment.price or table_price(deployment, table)


def _per_million(per_token: object) -> float | None:
    return float(per_token) * 1e6 if isinstance(per_token, int | float) else None


def cost_usd(price: Price | None, usage: Usage) -> float:
    """Input tokens at the input price, except those the prompt cache read or wrote: at their
    own price when the table (or the config) has one, else at the input price."""
    if price is None:
        return 0.0
    read = usage.cache_read * (price.cache_read if price.cache_read is not None else price.input)
    write = usage.cache_write * (price.cache_write if price.cache_write is not None else price.input)
    fresh = max(0, usage.prompt_tokens - usage.cache_read - usage.cache_write) * price.input
    return (fresh + read + write + usage.completion_tokens * price.output) / 1e6
