"""Google's Gemini API schemas, built from the pydantic types of the ``google-genai`` SDK the
lock pins (``TypeAdapter(...).json_schema(by_alias=True)``: the REST wire's camelCase names).

The SDK's models forbid unknown fields already (``extra='forbid'``), so the schemas are closed.
Google publishes no machine-readable schema of the Gemini API besides a discovery document
that is not reachable from here. Where the SDK's types differ from the wire, the schemas are
patched here (the errata; ``Use`` says which apply to answers, to requests read, to requests
drawn), each for its reason:

- the SDK's own fields (``sdkHttpResponse``, ``automaticFunctionCallingHistory``, ``parsed``)
  are never on the wire;
- every SDK field is ``Optional``; the API never writes ``null`` in an answer (proto3 JSON
  leaves an unset field out), so answers may not carry one; requests may (the API reads
  ``null`` as unset);
- the request types mark required fields only in their docstrings (``"Required. ..."``):
  they are made required in the request schemas;
- proto3 JSON parsers take a field under its proto name too (``parameters_json_schema``), and
  google-genai itself sends some so (a function declaration's fields): request schemas accept
  each property under its snake_case name as well, not under both at once;
- ``generationConfig``'s numbers are unbounded in the SDK; Google documents ranges (temperature
  0 to 2, topP 0 to 1, the penalties -2 to 2 exclusive) and refuses values outside them;
- a content's ``role`` is a string to the SDK, "either 'user' or 'model'" to the API;
- the API refuses a content without parts and a part whose ``data`` oneof is unset or set twice
  ("Exactly one field within a Part should be set", the SDK's docstring): so do the request
  schemas;
- bytes are base64 on the wire (``format: base64url`` is not checked by JSON Schema): a pattern;
- the REST ``GenerateContentRequest`` / ``CountTokensRequest`` have no SDK type (the SDK builds
  them from ``GenerateContentConfig`` in its converters): assembled here from the SDK's part
  types, with the top-level fields its Gemini API converter writes;
- ``CountTokensResponse`` lacks ``promptTokensDetails`` / ``cacheTokensDetails``, which the
  API sends (its converter drops them);
- the error body is ``google.rpc.Status`` under ``error`` (the SDK reads it as a dict): its
  ``status`` one of ``google.rpc.Code``'s names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import google.genai.types as genai_types
from google.genai._common import BaseModel
from google.rpc import code_pb2  # type: ignore[import-untyped]
from pydantic import Field, TypeAdapter, create_model
from pydantic.alias_generators import to_snake

SDK_ONLY = ("sdkHttpResponse", "automaticFunctionCallingHistory", "parsed")
# The members of ``Part``'s ``data`` oneof in the API (the rest of a part is metadata about it).
PART_DATA = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)
BASE64 = r"^[A-Za-z0-9+/_-]*={0,2}$"
_NULL = {"type": "null"}

# The top level of a generateContent request, as the SDK's Gemini API converter
# (``models._GenerateContentParameters_to_mldev``) writes it.
GenerateContentRequest = create_model(
    "GenerateContentRequest",
    __base__=BaseModel,
    contents=(list[genai_types.Content], Field(min_length=1)),  # the API refuses none: 400
    system_instruction=(genai_types.Content | None, None),
    tools=(list[genai_types.Tool] | None, None),
    tool_config=(genai_types.ToolConfig | None, None),
    safety_settings=(list[genai_types.SafetySetting] | None, None),
    generation_config=(genai_types.GenerationConfig | None, None),
    cached_content=(str | None, None),
    labels=(dict[str, str] | None, None),
    service_tier=(genai_types.ServiceTier | None, None),
    store=(bool | None, None),
)


class _WholeRequest(GenerateContentRequest):  # type: ignore[misc, valid-type]
    """``generateContentRequest`` of countTokens: a whole request that names its model."""

    model: str


CountTokensRequest = create_model(
    "CountTokensRequest",
    __base__=BaseModel,
    contents=(list[genai_types.Content] | None, None),
    generate_content_request=(_WholeRequest | None, None),
)


class Use(StrEnum):
    """What a schema is built for: the errata differ."""

    ANSWER = "answer"  # what the API writes: no nulls
    REQUEST = "request"  # what the API reads: JSON or proto names, nulls as unset
    DRAWN = "drawn"  # requests to generate (tests/spec_bodies.py): JSON names only


def _patched(schema: Any, use: Use) -> Any:
    """Every object of ``schema`` with the errata applied (see the module's docstring)."""
    if isinstance(schema, list):
        return [_patched(item, use) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _patched(value, use) for key, value in schema.items()}
    if use is Use.ANSWER:
        out = _not_null(out)
    if out.get("format") == "base64url":
        out["pattern"] = BASE64
    properties = out.get("properties")
    if out.get("type") == "object" and isinstance(properties, dict):
        for name in SDK_ONLY:
            properties.pop(name, None)
        if use is not Use.ANSWER:
            marked = [
                n for n, p in properties.items() if str(p.get("description", "")).startswith("Required")
            ]
            _required(out, sorted({*out.pop("required", ()), *marked}), use)
            if use is Use.REQUEST:
                _proto_names(out)
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without its ``null`` branch."""
    if "anyOf" not in schema:
        return schema
    branches = [branch for branch in schema["anyOf"] if branch != _NULL]
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, **branches[0]} if len(branches) == 1 else {**rest, "anyOf": branches}


def _required(schema: dict[str, Any], required: list[str], use: Use) -> None:
    """``required`` present and not null (for requests read, under either of its names)."""
    properties: dict[str, Any] = schema["properties"]
    for name in required:
        properties[name] = _not_null(properties[name])
    if use is Use.DRAWN:
        schema["required"] = sorted({*schema.get("required", ()), *required})
    elif required:
        schema["allOf"] = [*schema.get("allOf", ()), *map(_either, required)]


def _proto_names(schema: dict[str, Any]) -> None:
    """Each property under its proto (snake_case) name too, never under both."""
    properties: dict[str, Any] = schema["properties"]
    twins = [(name, to_snake(name)) for name in list(properties) if to_snake(name) != name]
    for name, twin in twins:
        properties.setdefault(twin, properties[name])
    if twins:
        schema["allOf"] = [*schema.get("allOf", ()), *({"not": {"required": list(t)}} for t in twins)]


def _model_schema(model: Any, use: Use) -> dict[str, Any]:
    schema: dict[str, Any] = _patched(TypeAdapter(model).json_schema(by_alias=True), use)
    return schema


def _either(name: str) -> dict[str, Any]:
    """``name`` is present, under its JSON name or its proto name."""
    if to_snake(name) == name:
        return {"required": [name]}
    return {"anyOf": [{"required": [name]}, {"required": [to_snake(name)]}]}


def _contents_have_parts(schema: dict[str, Any], use: Use) -> None:
    """A content has parts, and each part exactly one ``data`` field, set (``null`` is unset).
    Each branch of the oneof lists the part's other fields, so a drawn part has just one."""
    definitions = schema["$defs"]
    content = definitions["Content"]
    content["properties"]["parts"] = {"type": "array", "items": {"$ref": "#/$defs/Part"}, "minItems": 1}
    content["properties"]["role"] = {"enum": ["user", "model"]}
    _required(content, ["parts"], use)
    part = definitions["Part"]
    properties: dict[str, Any] = part["properties"]
    data = {name for field in PART_DATA for name in (field, to_snake(field))}
    metadata = {name: value for name, value in properties.items() if name not in data}
    branches = []
    for field in PART_DATA:
        properties[field] = _not_null(properties[field])
        names = (field,) if use is Use.DRAWN else (field, to_snake(field))
        for name in names:
            properties[name] = properties[field]
        only = {**metadata, **{name: properties[field] for name in names}}
        branches.append(
            {**(_either(field) if use is Use.REQUEST else {"required": [field]}), "properties": only}
        )
    part["allOf"] = [*part.get("allOf", ()), {"oneOf": branches}]


# What Google's documentation of generationConfig says each number may be.
RANGES = {
    "temperature": {"minimum": 0, "maximum": 2},
    "topP": {"minimum": 0, "maximum": 1},
    "presencePenalty": {"minimum": -2, "exclusiveMaximum": 2},
    "frequencyPenalty": {"minimum": -2, "exclusiveMaximum": 2},
}


def _documented_ranges(schema: dict[str, Any]) -> None:
    properties = schema["$defs"]["GenerationConfig"]["properties"]
    for name, bounds in RANGES.items():
        for alias in {name, to_snake(name)} & set(properties):
            number = properties[alias]
            for branch in number.get("anyOf", [number]):
                if branch.get("type") == "number":
                    branch.update(bounds)


def _function_call_named(schema: dict[str, Any], use: Use) -> None:
    """A call in the history names its function (the SDK says "Optional"; the API refuses one
    without a name, and so does Raceway)."""
    call = schema["$defs"]["FunctionCall"]
    _required(call, ["name"], use)


def _count_details(schema: dict[str, Any]) -> None:
    details = {"type": "array", "items": {"$ref": "#/$defs/ModalityTokenCount"}}
    schema["properties"].update(promptTokensDetails=details, cacheTokensDetails=details)
    modality = _model_schema(genai_types.ModalityTokenCount, Use.ANSWER)
    schema.setdefault("$defs", {}).update(modality.pop("$defs", {}), ModalityTokenCount=modality)


def error_schema() -> dict[str, Any]:
    status = [value.name for value in code_pb2.Code.DESCRIPTOR.values]
    detail = {"type": "object", "properties": {"@type": {"type": "string"}}, "required": ["@type"]}
    return {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "message": {"type": "string"},
                    "status": {"enum": status},
                    "details": {"type": "array", "items": detail},
                },
                "required": ["code", "message", "status"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    }


_REQUESTS = {"GenerateContentRequest": GenerateContentRequest, "CountTokensRequest": CountTokensRequest}


def gemini_schema(name: str, *, drawn: bool = False) -> dict[str, Any]:
    """The schema of one Gemini shape, by name (``Shape`` values without their ``gemini:``);
    ``drawn``: of requests to generate, in JSON names only."""
    if name in _REQUESTS:
        use = Use.DRAWN if drawn else Use.REQUEST
        schema = _model_schema(_REQUESTS[name], use)
        _contents_have_parts(schema, use)
        _function_call_named(schema, use)
        _documented_ranges(schema)
        return schema
    if name == "GenerateContentResponse":
        return _model_schema(genai_types.GenerateContentResponse, Use.ANSWER)
    if name == "CountTokensResponse":
        schema = _model_schema(genai_types.CountTokensResponse, Use.ANSWER)
        _count_details(schema)
        return schema
    if name == "Status":
        return error_schema()
    raise KeyError(name)
