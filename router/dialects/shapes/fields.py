"""The vocabulary of the shape checks: a field's JSON types, an object's shape, and the walk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    kinds: tuple[type, ...]  # the JSON types it may have (``isinstance``: cheap on every event)
    expected: str  # what the message says it must be
    required: bool = True  # else it may be absent, or null
    also: Callable[[Any], bool] | None = None  # what its type alone does not say


class Fault(Exception):
    """``where`` does not have the type the translators read it as."""


def not_bool(value: Any) -> bool:
    return type(value) is not bool  # JSON's true is no count


def from_zero(value: Any) -> bool:
    return type(value) is not bool and value >= 0


def typed_parts(value: Any) -> bool:
    """Chat content given as a list (as some servers send it): non-empty, each part typed."""
    if isinstance(value, str):
        return True
    return bool(value) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in value)


STRING = Field((str,), "a string")
NAME = Field((str,), "a non-empty string", also=bool)
INDEX = Field((int,), "a whole number from 0", also=from_zero)
OBJECT = Field((dict,), "an object")
LIST = Field((list,), "a list")
OPTIONAL_STRING = Field((str,), "a string or null", required=False)
OPTIONAL_OBJECT = Field((dict,), "an object or null", required=False)
OPTIONAL_LIST = Field((list,), "a list or null", required=False)
OPTIONAL_INDEX = Field((int,), "a whole number from 0 or null", required=False, also=from_zero)
COUNT = Field((int,), "a whole number or null", required=False, also=not_bool)
NUMBER = Field((int, float), "a number or null", required=False, also=not_bool)
CHAT_CONTENT = Field((str, list), "a string, null or a list of typed parts", required=False, also=typed_parts)


class Shape:
    """The fields of an object to check, and which of them it must have."""

    __slots__ = ("fields", "required")

    def __init__(self, fields: dict[str, Field]) -> None:
        self.fields = fields
        self.required = tuple(name for name, field in fields.items() if field.required)

    def __or__(self, other: Shape) -> Shape:
        return Shape({**self.fields, **other.fields})


ANYTHING = Shape({})


def check(value: Any, shape: Shape, where: str) -> dict[str, Any]:
    """``value`` as an object holding ``shape``'s fields (raises ``Fault`` naming the first wrong
    one). Its own fields are walked, not the shape's: upstream objects are small, shapes sparse."""
    if not isinstance(value, dict):
        raise Fault(f"{where.removesuffix('.') or 'the JSON'} must be an object")
    for name in shape.required:
        if name not in value:
            raise Fault(f"{where}{name} is missing")
    fields = shape.fields
    for name, found in value.items():
        field = fields.get(name)
        if field is None or (found is None and not field.required):
            continue
        if not isinstance(found, field.kinds) or (field.also is not None and not field.also(found)):
            raise Fault(f"{where}{name} must be {field.expected}")
    return value


def each(values: Any, where: str) -> list[tuple[str, Any]]:
    return [(f"{where}[{i}].", value) for i, value in enumerate(values or ())]


TYPED = Shape({"type": STRING})


def typed(value: Any, shapes: Mapping[str, Shape], where: str) -> dict[str, Any]:
    """An object with a string ``type``, holding its type's shape (unknown types: nothing more)."""
    found = check(value, TYPED, where)
    return check(found, shapes.get(found["type"], ANYTHING), where)
