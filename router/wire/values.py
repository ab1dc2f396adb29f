"""Defensive readers of the JSON a client or an upstream sent: a value of the expected type, or
an empty one (bodies are validated, answers checked for their shapes, but be safe)."""

from __future__ import annotations

from typing import Any


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else an empty one."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def as_int(value: Any) -> int:
    """A count (of tokens...); anything else counts as 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
