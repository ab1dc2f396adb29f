"""Gemini's ``Schema`` (an OpenAPI 3.0 subset: ``type: OBJECT``, ``nullable``) as JSON Schema.

Used for ``functionDeclarations[].parameters`` and ``generationConfig.responseSchema``; their
JSON Schema siblings (``parametersJsonSchema``, ``responseJsonSchema``) cross as they are, and
chat's JSON Schemas go to Gemini in those.
"""

from __future__ import annotations

from typing import Any

_NESTED_ONE = ("items",)
_NESTED_MANY = ("anyOf",)
# int64 fields, which protobuf JSON may write as strings.
_COUNTS = ("maxItems", "minItems", "minProperties", "maxProperties", "minLength", "maxLength")
_DROPPED = ("nullable", "propertyOrdering", "example")


def schema_to_json(schema: Any) -> Any:
    """``schema`` as JSON Schema; anything that is not an object is left as it is."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for raw_name, value in schema.items():
        name = _camel(raw_name)
        if name in _DROPPED:
            continue
        if name == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif name == "properties" and isinstance(value, dict):
            out["properties"] = {key: schema_to_json(item) for key, item in value.items()}
        elif name in _NESTED_ONE:
            out[name] = schema_to_json(value)
        elif name in _NESTED_MANY and isinstance(value, list):
            out[name] = [schema_to_json(item) for item in value]
        elif name in _COUNTS and isinstance(value, str) and value.isdigit():
            out[name] = int(value)
        else:
            out[name] = value
    nullable = schema.get("nullable")
    if nullable is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)
