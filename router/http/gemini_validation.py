"""Gemini API request bodies: each documented field's ``Kind`` (camelCase, and the snake_case
twin the Gemini API accepts too), and the parsers that check a body against them.

The model comes from the path and streaming from the method, so a parser is given both and
folds them into the body as ``model`` and ``stream`` (see ``router.dialects.translate.gemini``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.dialects.translate.gemini.common import snake
from router.errors import InvalidRequest
from router.http.kinds import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    STRINGS,
    Kind,
    array_of,
    check_body,
    parse_json_object,
)


def _twins(fields: Mapping[str, Kind]) -> dict[str, Kind]:
    """``fields`` under their camelCase names and their snake_case ones."""
    return {**fields, **{snake(name): kind for name, kind in fields.items()}}


def _object(required: tuple[str, ...] = (), **fields: Kind) -> Kind:
    return Kind("an object", (dict,), _twins(fields), required=required)


_PART = _object(
    text=STRING,
    thought=BOOLEAN,
    thoughtSignature=STRING,
    inlineData=_object(("data",), mimeType=STRING, data=STRING),
    fileData=_object(("fileUri",), mimeType=STRING, fileUri=STRING),
    functionCall=_object(("name",), id=STRING, name=STRING, args=OBJECT),
    functionResponse=_object(("name",), id=STRING, name=STRING, response=OBJECT),
)
_CONTENT = _object(role=STRING, parts=array_of(_PART, "an array of parts"))
_DECLARATION = _object(("name",), name=STRING, description=STRING, parameters=OBJECT)
_GENERATION = _object(
    temperature=NUMBER,
    topP=NUMBER,
    topK=NUMBER,
    maxOutputTokens=INTEGER,
    stopSequences=STRINGS,
    candidateCount=INTEGER,
    seed=INTEGER,
    presencePenalty=NUMBER,
    frequencyPenalty=NUMBER,
    responseMimeType=STRING,
    responseSchema=OBJECT,
    responseLogprobs=BOOLEAN,
    logprobs=INTEGER,
    responseModalities=STRINGS,
    thinkingConfig=_object(includeThoughts=BOOLEAN, thinkingBudget=INTEGER, thinkingLevel=STRING),
)
GEMINI_FIELDS: Mapping[str, Kind] = _twins(
    {
        "contents": Kind("a non-empty array of contents", (list,), items=_CONTENT),
        "systemInstruction": Kind("a content", (dict, str), _CONTENT.fields),
        "tools": array_of(_object(functionDeclarations=array_of(_DECLARATION)), "an array of tools"),
        "toolConfig": _object(
            functionCallingConfig=_object(mode=STRING, allowedFunctionNames=STRINGS),
        ),
        "generationConfig": _GENERATION,
        "safetySettings": array_of(OBJECT),
        "cachedContent": STRING,
    }
)
_COUNT_FIELDS: Mapping[str, Kind] = {
    **GEMINI_FIELDS,
    **_twins({"generateContentRequest": Kind("an object", (dict,), GEMINI_FIELDS)}),
}


def gemini_request(model: str, stream: bool, raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of a ``generateContent`` / ``streamGenerateContent`` request, or ``InvalidRequest``."""
    body = parse_json_object(raw)
    if not body.get("contents"):
        raise InvalidRequest(
            "'contents' is required and must not be empty", param="contents", code="missing_field"
        )
    check_body(body, GEMINI_FIELDS)
    return model, {**body, "model": model, "stream": stream}


def count_tokens_request(model: str, raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of a ``countTokens`` request: ``contents``, or a whole request in
    ``generateContentRequest``."""
    body = parse_json_object(raw)
    inner = body.get("generateContentRequest", body.get("generate_content_request"))
    if not body.get("contents") and not (isinstance(inner, dict) and inner.get("contents")):
        raise InvalidRequest(
            "'contents' (or 'generateContentRequest.contents') is required",
            param="contents",
            code="missing_field",
        )
    check_body(body, _COUNT_FIELDS)
    return model, {**body, "model": model}
