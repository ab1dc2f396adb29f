"""The shapes a Gemini answer and its stream chunks must have to be translated.

The Gemini API accepts and the translators read each field in camelCase or snake_case, so each
shape names both spellings. A stream chunk is a whole ``GenerateContentResponse`` (a part of
the answer), so answers and chunks share one check.
"""

from __future__ import annotations

import re
from typing import Any

from router.dialects.shapes.fields import (
    COUNT,
    NAME,
    OPTIONAL_INDEX,
    OPTIONAL_LIST,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    Field,
    Shape,
    check,
    each,
)

OPTIONAL_FLAG = Field((bool,), "true, false or null", required=False)


def _both_spellings(fields: dict[str, Field]) -> Shape:
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): kind for name, kind in fields.items()}
    return Shape({**fields, **snake})


_ANSWER = _both_spellings(
    {
        "candidates": OPTIONAL_LIST,
        "promptFeedback": OPTIONAL_OBJECT,
        "usageMetadata": OPTIONAL_OBJECT,
        "responseId": OPTIONAL_STRING,
        "modelVersion": OPTIONAL_STRING,
    }
)
_USAGE = _both_spellings(
    {
        "promptTokenCount": COUNT,
        "candidatesTokenCount": COUNT,
        "totalTokenCount": COUNT,
        "cachedContentTokenCount": COUNT,
        "thoughtsTokenCount": COUNT,
    }
)
_CANDIDATE = _both_spellings(
    {"content": OPTIONAL_OBJECT, "finishReason": OPTIONAL_STRING, "index": OPTIONAL_INDEX}
)
_CONTENT = Shape({"parts": OPTIONAL_LIST, "role": OPTIONAL_STRING})
_PART = _both_spellings(
    {
        "text": OPTIONAL_STRING,
        "thought": OPTIONAL_FLAG,
        "thoughtSignature": OPTIONAL_STRING,
        "functionCall": OPTIONAL_OBJECT,
    }
)
_CALL = Shape({"name": NAME, "args": OPTIONAL_OBJECT, "id": OPTIONAL_STRING})


def gemini_answer(answer: Any) -> None:
    check(answer, _ANSWER, "")
    usage = answer.get("usageMetadata") or answer.get("usage_metadata")
    if usage:
        check(usage, _USAGE, "usageMetadata.")
    for where, candidate in each(answer.get("candidates"), "candidates"):
        content = check(candidate, _CANDIDATE, where).get("content")
        if not content:
            continue
        for at, part in each(
            check(content, _CONTENT, f"{where}content.").get("parts"), f"{where}content.parts"
        ):
            found = check(part, _PART, at)
            call = found.get("functionCall") or found.get("function_call")
            if call:
                check(call, _CALL, f"{at}functionCall.")


def gemini_event(chunk: Any) -> None:
    if isinstance(chunk, dict) and chunk.get("error") is not None:
        return  # an error event: the stream's failure, read where failures are
    gemini_answer(chunk)
