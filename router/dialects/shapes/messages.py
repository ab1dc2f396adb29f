"""The shapes a Messages answer and its stream events must have to be translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.dialects.shapes.fields import (
    COUNT,
    INDEX,
    LIST,
    NAME,
    OBJECT,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    STRING,
    TYPED,
    Shape,
    check,
    each,
    typed,
)

_MESSAGES_USAGE = Shape(
    {
        "input_tokens": COUNT,
        "output_tokens": COUNT,
        "cache_read_input_tokens": COUNT,
        "cache_creation_input_tokens": COUNT,
    }
)
_MESSAGE = Shape({"id": NAME, "model": OPTIONAL_STRING, "usage": OPTIONAL_OBJECT})
_MESSAGES_ANSWER = _MESSAGE | Shape({"content": LIST, "stop_reason": OPTIONAL_STRING})
_MESSAGE_START = Shape({"message": OBJECT})
_BLOCK_START = Shape({"index": INDEX, "content_block": OBJECT})
_BLOCK_DELTA = Shape({"index": INDEX, "delta": OBJECT})
_BLOCK_STOP = Shape({"index": INDEX})
_MESSAGE_DELTA = Shape({"delta": OBJECT, "usage": OPTIONAL_OBJECT})
_STOP = Shape({"stop_reason": OPTIONAL_STRING})
_BLOCKS: Mapping[str, Shape] = {
    "text": Shape({"text": STRING}),
    "tool_use": Shape({"id": NAME, "name": NAME, "input": OBJECT}),
    "thinking": Shape({"thinking": STRING, "signature": STRING}),
    "redacted_thinking": Shape({"data": STRING}),
}
_DELTAS: Mapping[str, Shape] = {
    "text_delta": Shape({"text": STRING}),
    "input_json_delta": Shape({"partial_json": STRING}),
    "thinking_delta": Shape({"thinking": STRING}),
    "signature_delta": Shape({"signature": STRING}),
}


def messages_answer(answer: Any) -> None:
    check(answer, _MESSAGES_ANSWER, "")
    if answer.get("usage"):
        check(answer["usage"], _MESSAGES_USAGE, "usage.")
    for where, block in each(answer["content"], "content"):
        typed(block, _BLOCKS, where)


def messages_event(event: Any) -> None:
    kind = check(event, TYPED, "")["type"]
    if kind == "content_block_delta":
        typed(check(event, _BLOCK_DELTA, "")["delta"], _DELTAS, "delta.")
    elif kind == "content_block_start":
        typed(check(event, _BLOCK_START, "")["content_block"], _BLOCKS, "content_block.")
    elif kind == "content_block_stop":
        check(event, _BLOCK_STOP, "")
    elif kind == "message_start":
        message = check(check(event, _MESSAGE_START, "")["message"], _MESSAGE, "message.")
        if message.get("usage"):
            check(message["usage"], _MESSAGES_USAGE, "message.usage.")
    elif kind == "message_delta":
        check(check(event, _MESSAGE_DELTA, "")["delta"], _STOP, "delta.")
        if event.get("usage"):
            check(event["usage"], _MESSAGES_USAGE, "usage.")
