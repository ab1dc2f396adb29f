"""What each deployment's model accepts, for the translations sent to it: the config's word,
else litellm's bundled table (read as plain JSON, as for prices), else nothing known."""

from __future__ import annotations

from typing import Any

from router.config.model import Deployment
from router.dialects.translate.targets import ANY_TARGET, TargetLimits
from router.spend.pricing import table_keys


def table_entry(deployment: Deployment, table: dict[str, Any]) -> dict[str, Any] | None:
    """The table's entry for the deployment's model, trying ``provider/model`` first."""
    for key in table_keys(deployment):
        entry = table.get(key)
        if isinstance(entry, dict):
            return entry
    return None


def target_limits(deployment: Deployment, table: dict[str, Any]) -> TargetLimits:
    """The deployment's ``max_output_tokens`` and ``reasoning`` when set; else the table's
    ``max_output_tokens`` and ``supports_reasoning`` (a model the table knows without it takes
    no reasoning parameters); a model the table does not know gets them, as the client sent."""
    entry = table_entry(deployment, table)
    max_output = deployment.max_output_tokens
    if max_output is None and entry is not None:
        listed = entry.get("max_output_tokens")
        if isinstance(listed, int) and not isinstance(listed, bool) and listed > 0:
            max_output = listed
    reasoning = deployment.reasoning
    if reasoning is None:
        reasoning = entry is None or entry.get("supports_reasoning") is True
    limits = TargetLimits(max_output_tokens=max_output, reasoning=reasoning)
    return ANY_TARGET if limits == ANY_TARGET else limits
