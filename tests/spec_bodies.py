"""Request bodies drawn from a provider's own request schema: a small, bounded generator.

``bodies(shape)`` is a hypothesis strategy of JSON documents valid against the schema of
``shape`` (``tests/oracles.py``): it walks the schema (``$ref``, ``allOf`` merged,
``anyOf`` / ``oneOf`` one branch, ``const``, ``enum``, types with their bounds), takes every
required property and a few optional ones, and keeps arrays short; past ``DEPTH`` levels it
takes only what is required and the plainest branch, so every draw is small and ends. A draw
the schema refuses (a ``oneOf`` two branches match, a ``pattern`` missed) is rejected, so what
the tests get is valid by the specification's own validator. Integers are now and then written
as whole floats (``2.0``): JSON and the specification count them as integers.

hypothesis-jsonschema was the alternative; it predates JSON Schema 2020-12 and canonicalises
whole schemas up front, which OpenAI's document (1,400 schemas, recursive ones) makes slow.
"""

from __future__ import annotations

import functools
import math
import string
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from tests.oracles import Shape, drawn_schema, openai_spec, violations

DEPTH = 5  # levels of objects and arrays before only what is required is drawn
OPTIONAL = 4  # at most this many optional properties of one object
ITEMS = 2  # at most this many array items beyond ``minItems``
_ALPHABET = string.ascii_letters + string.digits + " _-"
_TEXT = st.text(_ALPHABET, max_size=12)
_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), _TEXT)


def bodies(
    shape: Shape, *, required: tuple[str, ...] = (), **fixed: Any
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid request bodies of ``shape``, with ``fixed`` fields set (``model``: a group's name)
    and the optional top-level fields ``required`` always drawn."""
    return _drawn(shape, required, tuple(sorted(fixed.items())))


@functools.cache
def _drawn(
    shape: Shape, required: tuple[str, ...], fixed: tuple[tuple[str, Any], ...]
) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def draw_body(draw: st.DrawFn) -> dict[str, Any]:
        root = drawn_schema(shape)
        document = root if shape.self_contained else openai_spec()
        body = _Walk(draw, document, required).value(root, 0)
        assume(isinstance(body, dict))
        body.update(fixed)
        assume(not violations(shape, body))
        return body

    return draw_body()


class _Walk:
    def __init__(self, draw: st.DrawFn, document: dict[str, Any], required: tuple[str, ...]) -> None:
        self.draw = draw
        self.document = document  # where the schema's ``$ref``s point
        self.required = required  # top-level properties drawn as if required

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            reference: str = schema["$ref"]
            target: Any = self.document
            for step in reference.partition("#")[2].strip("/").split("/"):
                target = target[step.replace("~1", "/").replace("~0", "~")]
            schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return schema

    def merged(self, schema: dict[str, Any]) -> dict[str, Any]:
        """``allOf`` folded into one schema: properties and required fields of every part."""
        schema = self.resolve(schema)
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            part = self.merged(part)
            for key, item in part.items():
                if key == "properties":
                    merged["properties"] = {**merged.get("properties", {}), **item}
                elif key == "required":
                    merged["required"] = sorted({*merged.get("required", ()), *item})
                else:
                    merged.setdefault(key, item)
        return merged

    def value(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict):
            return self.draw(_SCALARS)
        schema = self.merged(schema)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.draw(st.sampled_from(schema["enum"]))
        branches = schema.get("anyOf") or schema.get("oneOf")
        if branches:
            rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
            return self.value({**rest, **self.pick(branches, depth)}, depth)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = self.draw(st.sampled_from(kind))
        if kind is None:
            kind = "object" if "properties" in schema else "array" if "items" in schema else None
        if kind == "object":
            return self.object(schema, depth)
        if kind == "array":
            return self.array(schema, depth)
        return self.scalar(kind, schema)

    def pick(self, branches: list[Any], depth: int) -> dict[str, Any]:
        """One branch; past ``DEPTH`` the first that is not an object or array, if any."""
        resolved = [self.merged(branch) if isinstance(branch, dict) else {} for branch in branches]
        if depth >= DEPTH:
            plain = [
                b for b in resolved if b.get("type") not in ("object", "array") and "properties" not in b
            ]
            if plain:
                resolved = plain
        return self.draw(st.sampled_from(resolved))

    def object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        wanted = [*schema.get("required", ()), *(self.required if depth == 0 else ())]
        required = [name for name in dict.fromkeys(wanted) if name in properties]
        optional = sorted(set(properties) - set(required))
        chosen = (
            []
            if depth >= DEPTH or not optional
            else self.draw(st.lists(st.sampled_from(optional), max_size=OPTIONAL, unique=True))
        )
        drawn = {name: self.value(properties[name], depth + 1) for name in [*required, *chosen]}
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and depth < DEPTH:
            for key in self.draw(st.lists(_TEXT.filter(bool), max_size=2, unique=True)):
                drawn[key] = self.value(extra, depth + 1)
        return drawn

    def array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        low = schema.get("minItems", 0)
        high = min(schema.get("maxItems", low + ITEMS), low + (0 if depth >= DEPTH else ITEMS))
        size = self.draw(st.integers(low, max(low, high)))
        return [self.value(schema.get("items", {}), depth + 1) for _ in range(size)]

    def scalar(self, kind: str | None, schema: dict[str, Any]) -> Any:
        if kind == "null":
            return None
        if kind == "boolean":
            return self.draw(st.booleans())
        if kind in ("integer", "number"):
            low = schema.get("minimum", schema.get("exclusiveMinimum", -10))
            high = schema.get("maximum", schema.get("exclusiveMaximum", low + 100))
            if kind == "number":
                return self.draw(st.floats(low, high, allow_nan=False, allow_infinity=False))
            number = self.draw(st.integers(math.ceil(low), math.floor(high)))
            return float(number) if self.draw(st.integers(0, 19)) == 0 else number  # now and then 2.0
        if kind == "string":
            pattern = schema.get("pattern")
            if pattern:
                return self.draw(st.from_regex(pattern, fullmatch=True).filter(lambda s: len(s) < 64))
            low = schema.get("minLength", 0)
            text: str = self.draw(st.text(_ALPHABET, min_size=low, max_size=max(low, 12)))
            return text[: schema.get("maxLength", len(text))]
        return self.draw(_SCALARS)
