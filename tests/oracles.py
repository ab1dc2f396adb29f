"""The providers' own schemas as test oracles: is this request, answer or stream event what the
provider's specification says it is?

OpenAI's shapes come from its published OpenAPI 3.1 document, vendored in ``tests/schemas/``
at a pinned commit (JSON Schema 2020-12, ``$ref``s resolved into its ``components``);
Anthropic's from the pydantic types of the ``anthropic`` SDK (``TypeAdapter(...).json_schema()``),
the only machine-readable description of its API there is; Google's Gemini API's likewise from
the ``google-genai`` SDK's (``tests/gemini_oracles.py``, with its own errata). Where a specification is itself
wrong, ``ERRATA`` patches it, each patch with its reason: so a violation reported here is a
difference from what the provider really sends or accepts, never from a mistake of the document.
"""

from __future__ import annotations

import copy
import functools
import gzip
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import anthropic.types as anthropic_types
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from pydantic import TypeAdapter
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from tests.gemini_oracles import gemini_schema

SPEC = Path(__file__).parent / "schemas" / "openai-openapi.yaml.gz"
_SPEC_URI = "urn:openai-openapi"


class Shape(StrEnum):
    """What a JSON document is meant to be, and whose schema says so."""

    CHAT_REQUEST = "CreateChatCompletionRequest"
    CHAT_ANSWER = "CreateChatCompletionResponse"
    CHAT_CHUNK = "CreateChatCompletionStreamResponse"
    COMPLETIONS_REQUEST = "CreateCompletionRequest"
    COMPLETION = "CreateCompletionResponse"
    COMPLETION_CHUNK = "CreateCompletionStreamResponse"  # not in the document: see ERRATA
    EMBEDDINGS_REQUEST = "CreateEmbeddingRequest"
    EMBEDDINGS = "CreateEmbeddingResponse"
    RESPONSES_REQUEST = "CreateResponse"
    RESPONSE = "Response"
    RESPONSE_EVENT = "ResponseStreamEvent"
    OPENAI_ERROR = "ErrorResponse"
    MESSAGES_REQUEST = "anthropic:MessageCreateParams"
    COUNT_TOKENS_REQUEST = "anthropic:MessageCountTokensParams"
    MESSAGE = "anthropic:Message"
    MESSAGE_EVENT = "anthropic:RawMessageStreamEvent"
    TOKEN_COUNT = "anthropic:MessageTokensCount"
    ANTHROPIC_ERROR = "anthropic:ErrorResponse"
    GEMINI_REQUEST = "gemini:GenerateContentRequest"
    GEMINI_COUNT_REQUEST = "gemini:CountTokensRequest"
    GEMINI_ANSWER = "gemini:GenerateContentResponse"  # a whole answer and each stream event alike
    GEMINI_TOKEN_COUNT = "gemini:CountTokensResponse"
    GEMINI_ERROR = "gemini:Status"

    @property
    def self_contained(self) -> bool:
        """Built from an SDK's types, with its own ``$defs`` (not a part of OpenAI's document)."""
        return self.value.startswith(("anthropic:", "gemini:"))


@dataclass(frozen=True)
class Dialect:
    """The shapes of one endpoint's answers: JSON, each stream event, an error body."""

    answer: Shape
    event: Shape
    error: Shape

    def shape_of_event(self, event: dict[str, Any]) -> Shape:
        """Chat, completions and Gemini streams end a failure with ``data: {"error": ...}``: an error body."""
        if self.event in (Shape.CHAT_CHUNK, Shape.COMPLETION_CHUNK, Shape.GEMINI_ANSWER) and "error" in event:
            return self.error
        return self.event


DIALECTS = {
    "chat": Dialect(Shape.CHAT_ANSWER, Shape.CHAT_CHUNK, Shape.OPENAI_ERROR),
    "completions": Dialect(Shape.COMPLETION, Shape.COMPLETION_CHUNK, Shape.OPENAI_ERROR),
    "responses": Dialect(Shape.RESPONSE, Shape.RESPONSE_EVENT, Shape.OPENAI_ERROR),
    "messages": Dialect(Shape.MESSAGE, Shape.MESSAGE_EVENT, Shape.ANTHROPIC_ERROR),
    "embeddings": Dialect(Shape.EMBEDDINGS, Shape.EMBEDDINGS, Shape.OPENAI_ERROR),
    "gemini": Dialect(Shape.GEMINI_ANSWER, Shape.GEMINI_ANSWER, Shape.GEMINI_ERROR),
}
# What a request to each upstream path must be (the paths the fake upstreams serve).
REQUESTS = {
    "/v1/chat/completions": Shape.CHAT_REQUEST,
    "/v1/completions": Shape.COMPLETIONS_REQUEST,
    "/v1/embeddings": Shape.EMBEDDINGS_REQUEST,
    "/v1/responses": Shape.RESPONSES_REQUEST,
    "/v1/messages": Shape.MESSAGES_REQUEST,
    "/v1/messages/count_tokens": Shape.COUNT_TOKENS_REQUEST,
}
# Gemini's paths name the model: ``/v1beta/models/{model}:{method}``.
_GEMINI_PATH = re.compile(r"/v1(?:beta)?/models/[^/:]+:(?P<method>\w+)")
GEMINI_REQUESTS = {
    "generateContent": Shape.GEMINI_REQUEST,
    "streamGenerateContent": Shape.GEMINI_REQUEST,
    "countTokens": Shape.GEMINI_COUNT_REQUEST,
}


def request_shape(path: str) -> Shape:
    """What a request to ``path`` of an upstream must be."""
    found = _GEMINI_PATH.fullmatch(path)
    return GEMINI_REQUESTS[found["method"]] if found else REQUESTS[path]


# -- errata: where the published specification is wrong ---------------------------------


@dataclass(frozen=True)
class Erratum:
    where: str  # the schema patched
    reason: str
    patch: Callable[[dict[str, Any]], None]  # edits the loaded document in place


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = spec["components"]["schemas"][name]
    return found


def _or_null(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _response_usage_nullable(spec: dict[str, Any]) -> None:
    for part in _schema(spec, "Response")["allOf"]:
        properties = part.get("properties", {})
        if "usage" in properties:
            properties["usage"] = _or_null(properties["usage"])


def _base64_embeddings(spec: dict[str, Any]) -> None:
    properties = _schema(spec, "Embedding")["properties"]
    properties["embedding"] = {"anyOf": [properties["embedding"], {"type": "string"}]}


def _embedding_input_not_empty(spec: dict[str, Any]) -> None:
    branches = _schema(spec, "CreateEmbeddingRequest")["properties"]["input"]["oneOf"]
    branches[0]["minLength"] = 1
    branches[1]["items"]["minLength"] = 1


def _completion_chunks(spec: dict[str, Any]) -> None:
    chunk = copy.deepcopy(_schema(spec, "CreateCompletionResponse"))
    choice = chunk["properties"]["choices"]["items"]["properties"]
    choice["finish_reason"] = _or_null(choice["finish_reason"])
    spec["components"]["schemas"]["CreateCompletionStreamResponse"] = chunk


def _input_items_overlap(spec: dict[str, Any]) -> None:
    item = _schema(spec, "InputItem")
    item["anyOf"] = item.pop("oneOf")


ERRATA = (
    Erratum(
        "every schema with `nullable: true`",
        "OpenAPI 3.0's keyword in a 3.1 document (JSON Schema ignores it): read as `null` allowed, as "
        "OpenAI's SDK generator does; chunks' `finish_reason: null` would fail otherwise",
        lambda spec: _nullable_as_null(spec),
    ),
    Erratum(
        "Response.usage",
        "non-nullable, though OpenAI's own `response.created` / `response.in_progress` events carry "
        "`usage: null` (the openai SDK types it Optional)",
        _response_usage_nullable,
    ),
    Erratum(
        "Embedding.embedding",
        "typed as an array of floats only; with `encoding_format: base64` it is a base64 string",
        _base64_embeddings,
    ),
    Erratum(
        "CreateEmbeddingRequest.input",
        "its description says it `cannot be an empty string`, its schema allows one (OpenAI refuses it)",
        _embedding_input_not_empty,
    ),
    Erratum(
        "CreateCompletionResponse as a stream chunk (CreateCompletionStreamResponse, added)",
        "the document says streamed completions share the answer's shape, whose `finish_reason` is "
        "a string; OpenAI's chunks carry `finish_reason: null` until the last one",
        _completion_chunks,
    ),
    Erratum(
        "InputItem",
        "a `oneOf` whose branches overlap: a user `message` with a list of input parts is both an "
        "EasyInputMessage and an Item's InputMessage (OpenAI takes it; the openai SDK types a plain "
        "union): read as `anyOf`",
        _input_items_overlap,
    ),
)


def _nullable_as_null(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in list(value.items()):
            _nullable_as_null(item)
            if isinstance(item, dict) and item.pop("nullable", False) is True:
                value[key] = _or_null(item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _nullable_as_null(item)
            if isinstance(item, dict) and item.pop("nullable", False) is True:
                value[index] = _or_null(item)


@functools.cache
def openai_spec() -> dict[str, Any]:
    """The vendored OpenAPI document, with ``ERRATA`` applied (parsed once per process)."""
    with gzip.open(SPEC, "rt", encoding="utf-8") as text:
        spec: dict[str, Any] = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for erratum in ERRATA:
        erratum.patch(spec)
    return spec


# -- Anthropic, from the SDK's types ----------------------------------------------------

# The SDK's union of stream events leaves out two that Anthropic's streaming documentation
# lists and its API sends: ``ping`` (between any events) and ``error`` (a failure midway).
_PING = {
    "type": "object",
    "properties": {"type": {"const": "ping"}},
    "required": ["type"],
    "additionalProperties": False,
}


def _closed(schema: Any) -> None:
    """Objects refuse unknown fields: the SDK's models allow extras for forward compatibility
    (and its TypedDicts say nothing), but the API sends none and refuses unknown request fields."""
    if isinstance(schema, dict):
        if "properties" in schema and schema.get("additionalProperties", True) is True:
            schema["additionalProperties"] = False
        for item in schema.values():
            _closed(item)
    elif isinstance(schema, list):
        for item in schema:
            _closed(item)


def _at_least_one_message(schema: dict[str, Any]) -> None:
    """The SDK types ``messages`` as any iterable; Anthropic refuses an empty list (400)."""
    for definition in schema.get("$defs", {}).values():
        if definition.get("title", "").startswith(("MessageCreateParams", "MessageCountTokensParams")):
            definition["properties"]["messages"]["minItems"] = 1
    if "messages" in schema.get("properties", {}):
        schema["properties"]["messages"]["minItems"] = 1


def _anthropic_schema(name: str) -> dict[str, Any]:
    schema = TypeAdapter(getattr(anthropic_types, name)).json_schema()
    _closed(schema)
    _at_least_one_message(schema)
    if name == "RawMessageStreamEvent":
        error = _anthropic_schema("ErrorResponse")
        definitions = {**schema.pop("$defs"), **error.pop("$defs", {})}
        schema = {"anyOf": [schema, _PING, error], "$defs": definitions}
    return schema


# -- validation ---------------------------------------------------------------------------


@functools.cache
def root_schema(shape: Shape) -> dict[str, Any]:
    """The schema of ``shape``: Anthropic's whole, with its ``$defs``; OpenAI's a ``$ref`` into
    the document's components (as ``#/components/schemas/...``, where the document's own point)."""
    if shape.startswith("anthropic:"):
        return _anthropic_schema(shape.removeprefix("anthropic:"))
    if shape.startswith("gemini:"):
        return gemini_schema(shape.removeprefix("gemini:"))
    return {"$ref": f"#/components/schemas/{shape}"}


@functools.cache
def drawn_schema(shape: Shape) -> dict[str, Any]:
    """The schema requests of ``shape`` are drawn from: ``root_schema``, but Gemini's in its
    JSON names only (its validators take proto names too)."""
    if shape.startswith("gemini:"):
        return gemini_schema(shape.removeprefix("gemini:"), drawn=True)
    return root_schema(shape)


@functools.cache
def validator(shape: Shape) -> Draft202012Validator:
    schema = root_schema(shape)
    if shape.self_contained:
        return Draft202012Validator(schema)
    resource = DRAFT202012.create_resource(openai_spec())
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return Draft202012Validator({"$ref": _SPEC_URI + schema["$ref"]}, registry=registry)


def violations(shape: Shape, instance: Any) -> list[str]:
    """What in ``instance`` the schema of ``shape`` refuses, one line each ([] when valid)."""
    return sorted(_describe(shape, error) for error in validator(shape).iter_errors(instance))


def _describe(shape: Shape, error: ValidationError) -> str:
    deepest = _deepest(error)
    where = "/".join(str(part) for part in deepest.absolute_path) or "(root)"
    message = deepest.message if len(deepest.message) < 240 else deepest.message[:240] + "…"
    return f"{shape.value} at {where}: {message}"


def _deepest(error: ValidationError) -> ValidationError:
    """Of an anyOf / oneOf that failed, the error of the branch meant for the instance: the one
    whose discriminator (a ``type`` const, or the JSON type itself) it matches, with the fewest
    errors; the failed anyOf itself when no branch is meant for it."""
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for inner in error.context:
            branches.setdefault(inner.relative_schema_path[0], []).append(inner)
        meant = [errors for errors in branches.values() if not any(map(_mismatched_kind, errors))]
        if not meant:
            return error
        error = max(min(meant, key=len), key=relevance)
    return error


def _mismatched_kind(error: ValidationError) -> bool:
    """The instance is not of the branch's kind at all: another JSON type, or another ``type`` tag."""
    depth = len(error.relative_path)
    if error.validator == "type" and depth == 0:
        return True
    if error.validator in ("const", "enum") and depth <= 1:
        return depth == 0 or error.relative_path[0] in ("type", "object")
    return False


def all_violations(checks: Iterable[tuple[Shape, Any]]) -> list[str]:
    return [line for shape, instance in checks for line in violations(shape, instance)]


def request_checks(seen: Iterable[tuple[str, dict[str, Any]]]) -> Iterator[tuple[Shape, Any]]:
    """(path, body) of what reached an upstream, each with the shape its path asks for."""
    for path, body in seen:
        yield request_shape(path), body
