"""The shapes a Responses answer and its stream events must have to be translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.dialects.shapes.fields import (
    COUNT,
    INDEX,
    LIST,
    NAME,
    NUMBER,
    OBJECT,
    OPTIONAL_INDEX,
    OPTIONAL_LIST,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    STRING,
    TYPED,
    Shape,
    check,
    each,
    typed,
)

_RESPONSES_USAGE = Shape(
    {
        "input_tokens": COUNT,
        "output_tokens": COUNT,
        "total_tokens": COUNT,
        "input_tokens_details": OPTIONAL_OBJECT,
        "output_tokens_details": OPTIONAL_OBJECT,
    }
)
_ITEMS: Mapping[str, Shape] = {
    "message": Shape({"content": LIST}),
    "function_call": Shape({"call_id": NAME, "name": NAME, "arguments": STRING}),
    "reasoning": Shape({"summary": OPTIONAL_LIST, "content": OPTIONAL_LIST}),
}
_PARTS: Mapping[str, Shape] = {"output_text": Shape({"text": STRING}), "refusal": Shape({"refusal": STRING})}
_RESPONSE = Shape(
    {
        "id": NAME,
        "status": OPTIONAL_STRING,
        "created_at": NUMBER,
        "model": OPTIONAL_STRING,
        "usage": OPTIONAL_OBJECT,
        "error": OPTIONAL_OBJECT,
    }
)
_RESPONSES_ANSWER = _RESPONSE | Shape({"output": LIST})
_ADDED_CALL = Shape({"call_id": NAME, "name": NAME, "arguments": OPTIONAL_STRING})
_SUMMARY = Shape({"text": STRING})
_TEXT_DELTA = Shape({"delta": STRING, "output_index": OPTIONAL_INDEX})
_ITEM_EVENT = Shape({"output_index": INDEX, "item": OBJECT})
_ARGUMENTS_DONE = Shape({"output_index": INDEX, "arguments": STRING})
_LIFECYCLE_EVENT = Shape({"response": OBJECT})
_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
    }
)
_LIFECYCLE = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)


def _item(item: Any, where: str, *, whole: bool) -> None:
    """An output item; one just added (not ``whole``) may not have its call's arguments yet."""
    found = typed(item, _ITEMS, where) if whole else check(item, TYPED, where)
    if found["type"] == "function_call" and not whole:
        check(found, _ADDED_CALL, where)
    elif found["type"] == "message":
        for at, part in each(found.get("content"), f"{where}content"):
            typed(part, _PARTS, at)
    elif found["type"] == "reasoning":
        for at, part in each(found.get("summary"), f"{where}summary") + each(
            found.get("content"), f"{where}content"
        ):
            check(part, _SUMMARY, at)


def responses_answer(answer: Any) -> None:
    if check(answer, _RESPONSES_ANSWER, "").get("usage"):
        check(answer["usage"], _RESPONSES_USAGE, "usage.")
    for where, item in each(answer["output"], "output"):
        _item(item, where, whole=True)


def responses_event(event: Any) -> None:
    kind = check(event, TYPED, "")["type"]
    if kind in _TEXT_DELTAS:
        check(event, _TEXT_DELTA, "")
    elif kind in ("response.output_item.added", "response.output_item.done"):
        _item(check(event, _ITEM_EVENT, "")["item"], "item.", whole=kind.endswith("done"))
    elif kind == "response.function_call_arguments.done":
        check(event, _ARGUMENTS_DONE, "")
    elif kind in _LIFECYCLE:
        response = check(check(event, _LIFECYCLE_EVENT, "")["response"], _RESPONSE, "response.")
        if response.get("usage"):
            check(response["usage"], _RESPONSES_USAGE, "response.usage.")
