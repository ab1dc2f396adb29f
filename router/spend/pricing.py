"""Prices per token: the deployment's own, else litellm's bundled table, read as plain JSON.

The table ships inside the litellm package (4,000+ models, 3.5 MB), read directly instead of
the seconds ``import litellm`` takes. Parsed whole it takes ~10 MB that a worker's heap keeps
after it is freed, so only the entries the deployments look up are kept: the file is searched
for their names first (~3 ms; a self-hosted model it never names ends there), and a file that
names one is read entry by entry (~30 ms), each entry not asked for dropped as soon as it is read.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from router.config.model import Deployment, Price
from router.wire.usage import Usage

logger = logging.getLogger("raceway.pricing")

_TABLE = "model_prices_and_context_window_backup.json"
_BLANK = re.compile(r"[ \t\n\r]*")  # JSON's whitespace


def table_keys(deployment: Deployment) -> tuple[str, str]:
    """The keys the table may list the deployment's model under, ``provider/model`` first."""
    return f"{deployment.provider}/{deployment.model}", deployment.model


def litellm_table_for(
    deployments: Iterable[Deployment], known: dict[str, Any] | None = None, *, path: Path | None = None
) -> dict[str, Any]:
    """The entries of litellm's bundled table (or the table at ``path``) these deployments may
    look up, None for a key the table lacks, with those ``known`` from an earlier call: the table
    is read only for a key not known yet, never for a deployment whose price, output limit and
    reasoning are all configured."""
    known = known or {}
    wanted = {
        key
        for deployment in deployments
        if deployment.price is None or deployment.max_output_tokens is None or deployment.reasoning is None
        for key in table_keys(deployment)
        if key not in known
    }
    if not wanted:
        return known
    if path is None:
        spec = importlib.util.find_spec("litellm")
        if spec is None or not spec.submodule_search_locations:
            logger.warning("litellm is not installed: no bundled price table")
            return known
        path = Path(next(iter(spec.submodule_search_locations))) / _TABLE
    data = path.read_bytes()
    named = names_in(data, wanted)
    found = entries_of(data.decode("utf-8"), named) if named else {}  # a table naming none: not parsed
    return {**known, **{key: found.get(key) for key in sorted(wanted)}}


def names_in(data: bytes, keys: set[str]) -> set[str]:
    """Those of ``keys`` the JSON ``data`` may hold as a string: one written as itself, or each
    of them once ``data`` holds a ``\\u`` or ``\\/`` escape (the other escapes stand for a quote,
    a backslash or a control character: a key holding one is always looked for in a full read)."""
    if _has_escapes_for_any_character(data):
        return set(keys)
    return {key for key in keys if any(c in '"\\' or c < " " for c in key) or f'"{key}"'.encode() in data}


def _has_escapes_for_any_character(data: bytes) -> bool:
    at = data.find(b"\\")  # in JSON only strings hold a backslash, each the start of an escape
    while at != -1:
        if data.startswith((b"u", b"/"), at + 1):
            return True
        at = data.find(b"\\", at + 2)  # past the escaped character (which may be a backslash)
    return False


def entries_of(text: str, wanted: set[str]) -> dict[str, Any]:
    """The ``wanted`` members of the JSON object ``text``, parsed one member at a time (a member
    not wanted is dropped as soon as it is read). Raises ``ValueError`` for what is not a JSON object."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] = {}
    at = _past_blanks(text, 0)
    if not text.startswith("{", at):
        raise ValueError(f"not a JSON object at {at}")
    at = _past_blanks(text, at + 1)
    while not text.startswith("}", at):
        key, at = decoder.raw_decode(text, at)
        at = _past_blanks(text, at)
        if not isinstance(key, str) or not text.startswith(":", at):
            raise ValueError(f"expected a member name and ':' at {at}")
        value, at = decoder.raw_decode(text, _past_blanks(text, at + 1))
        if key in wanted:
            found[key] = value
        at = _past_blanks(text, at)
        if text.startswith(",", at):
            at = _past_blanks(text, at + 1)
        elif not text.startswith("}", at):
            raise ValueError(f"expected ',' or '}}' at {at}")
    return found


def _past_blanks(text: str, at: int) -> int:
    blanks = _BLANK.match(text, at)
    assert blanks is not None  # the pattern matches the empty string too
    return blanks.end()


def table_price(deployment: Deployment, table: dict[str, Any]) -> Price | None:
    """The deployment's price per million tokens from the table, trying ``provider/model`` first."""
    for key in table_keys(deployment):
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
