"""Google's Gemini API schemas, built from the pydantic types of the ``google-genai`` SDK the
lock pins (``TypeAdapter(...).json_schema(by_alias=True)``: the REST wire's camelCase names).

The SDK's models forbid unknown fields already (``extra='forbid'``), so the schemas are closed.
Google publishes no machine-readable schema of the Gemini API besides a discovery document
that is not reachable from here; where the SDK's types differ from the wire, ``ERRATA`` patches
them, each with its reason:

- the SDK's own fields (``sdkHttpResponse``, ``automaticFunctionCallingHistory``, ``parsed``)
  are never on the wire;
- every SDK field is ``Optional``; the API never writes ``null`` in an answer (proto3 JSON
  leaves an unset field out), so answers may not carry one; requests may (the API reads
  ``null`` as unset);
- the request types mark required fields only in their docstrings (``"Required. ..."``):
  they are made required in the request schemas;
- proto3 JSON parsers take a field under its proto name too (``parameters_json_schema``), and
  google-genai itself sends some so (a function declaration's fields): request schemas accept
  each property under its snake_case name as well;
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

from typing import Any

import google.genai.types as genai_types
from google.genai._common import BaseModel
from google.rpc import code_pb2  # type: ignore[import-untyped]
from pydantic import Field, TypeAdapter, create_model
from pydantic.alias_generators import to_snake

SDK_ONLY = ("sdkHttpResponse", "automaticFunctionCallingHistory", "parsed")
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


def _patched(schema: Any, *, answer: bool) -> Any:
    """Every object of ``schema`` with the errata applied (see the module's docstring)."""
    if isinstance(schema, list):
        return [_patched(item, answer=answer) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _patched(value, answer=answer) for key, value in schema.items()}
    if answer and "anyOf" in out:
        branches = [branch for branch in out["anyOf"] if branch != _NULL]
        out["anyOf"] = branches
        if len(branches) == 1:
            del out["anyOf"]
            out = {**out, **branches[0]}
    if out.get("format") == "base64url":
        out["pattern"] = BASE64
    properties = out.get("properties")
    if out.get("type") == "object" and isinstance(properties, dict):
        for name in SDK_ONLY:
            properties.pop(name, None)
        if not answer:
            _twins(out, properties)
    return out


def _twins(schema: dict[str, Any], properties: dict[str, Any]) -> None:
    """Each property also under its proto (snake_case) name; a required one under either."""
    marked = [n for n, p in properties.items() if str(p.get("description", "")).startswith("Required")]
    required = sorted({*schema.pop("required", ()), *marked})
    for name in list(properties):
        if to_snake(name) != name:
            properties.setdefault(to_snake(name), properties[name])
    either = [
        {"anyOf": [{"required": [name]}, {"required": [to_snake(name)]}]}
        if to_snake(name) != name
        else {"required": [name]}
        for name in required
    ]
    if either:
        schema["allOf"] = [*schema.get("allOf", ()), *either]


def _model_schema(model: Any, *, answer: bool) -> dict[str, Any]:
    schema: dict[str, Any] = _patched(TypeAdapter(model).json_schema(by_alias=True), answer=answer)
    return schema


def _function_call_named(schema: dict[str, Any]) -> None:
    """A call in the history names its function (the SDK says "Optional"; the API refuses one
    without a name, and so does Raceway)."""
    call = schema["$defs"]["FunctionCall"]
    call["allOf"] = [*call.get("allOf", ()), {"required": ["name"]}]


def _count_details(schema: dict[str, Any]) -> None:
    details = {"type": "array", "items": {"$ref": "#/$defs/ModalityTokenCount"}}
    schema["properties"].update(promptTokensDetails=details, cacheTokensDetails=details)
    modality = _model_schema(genai_types.ModalityTokenCount, answer=True)
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


def gemini_schema(name: str) -> dict[str, Any]:
    """The schema of one Gemini shape, by name (``Shape`` values without their ``gemini:``)."""
    if name == "GenerateContentRequest":
        schema = _model_schema(GenerateContentRequest, answer=False)
        _function_call_named(schema)
        return schema
    if name == "CountTokensRequest":
        schema = _model_schema(CountTokensRequest, answer=False)
        _function_call_named(schema)
        return schema
    if name == "GenerateContentResponse":
        return _model_schema(genai_types.GenerateContentResponse, answer=True)
    if name == "CountTokensResponse":
        schema = _model_schema(genai_types.CountTokensResponse, answer=True)
        _count_details(schema)
        return schema
    if name == "Status":
        return error_schema()
    raise KeyError(name)
