"""The shapes a chat answer and a chat stream chunk must have to be translated."""

from __future__ import annotations

from typing import Any

from router.dialects.shapes.fields import (
    CHAT_CONTENT,
    COUNT,
    LIST,
    NAME,
    OBJECT,
    OPTIONAL_INDEX,
    OPTIONAL_LIST,
    OPTIONAL_OBJECT,
    OPTIONAL_STRING,
    STRING,
    TYPED,
    Fault,
    Shape,
    check,
    each,
)

_CHAT_ANSWER = Shape(
    {
        "choices": LIST,
        "id": OPTIONAL_STRING,
        "model": OPTIONAL_STRING,
        "usage": OPTIONAL_OBJECT,
    }
)
_CHAT_CHUNK = _CHAT_ANSWER | Shape({"choices": OPTIONAL_LIST})

_CHAT_USAGE = Shape({"prompt_tokens": COUNT, "completion_tokens": COUNT, "total_tokens": COUNT})
_CHAT_MESSAGE = Shape(
    {
        "content": CHAT_CONTENT,
        "refusal": OPTIONAL_STRING,
        "reasoning_content": OPTIONAL_STRING,
        "tool_calls": OPTIONAL_LIST,
        "thinking_blocks": OPTIONAL_LIST,
    }
)
_CHAT_CALL = Shape({"id": NAME, "function": OBJECT})
_CHAT_FUNCTION = Shape({"name": NAME, "arguments": STRING})
_CHAT_CHOICE = Shape({"message": OBJECT, "finish_reason": OPTIONAL_STRING})
_CHAT_DELTA = Shape(
    {
        "content": OPTIONAL_STRING,
        "refusal": OPTIONAL_STRING,
        "reasoning_content": OPTIONAL_STRING,
        "tool_calls": OPTIONAL_LIST,
        "thinking_blocks": OPTIONAL_LIST,
    }
)
# Pieces after a call's first may repeat its id and name empty (some servers do).
_CHAT_PIECE = Shape({"index": OPTIONAL_INDEX, "id": OPTIONAL_STRING, "function": OPTIONAL_OBJECT})
_CHAT_PIECE_FUNCTION = Shape({"name": OPTIONAL_STRING, "arguments": OPTIONAL_STRING})
_CHAT_CHUNK_CHOICE = Shape(
    {
        "index": OPTIONAL_INDEX,
        "delta": OPTIONAL_OBJECT,
        "finish_reason": OPTIONAL_STRING,
    }
)


def chat_answer(answer: Any) -> None:
    check(answer, _CHAT_ANSWER, "")
    if not answer["choices"]:
        raise Fault("choices holds no choice")
    if answer.get("usage"):
        check(answer["usage"], _CHAT_USAGE, "usage.")
    for where, choice in each(answer["choices"], "choices"):
        message = check(check(choice, _CHAT_CHOICE, where)["message"], _CHAT_MESSAGE, f"{where}message.")
        for at, call in each(message.get("tool_calls"), f"{where}message.tool_calls"):
            check(check(call, _CHAT_CALL, at)["function"], _CHAT_FUNCTION, f"{at}function.")
        for at, block in each(message.get("thinking_blocks"), f"{where}message.thinking_blocks"):
            check(block, TYPED, at)


def chat_event(chunk: Any) -> None:
    if isinstance(chunk, dict) and chunk.get("error") is not None:
        return  # an error event: the stream's failure, read where failures are
    check(chunk, _CHAT_CHUNK, "")
    if chunk.get("usage"):
        check(chunk["usage"], _CHAT_USAGE, "usage.")
    for i, choice in enumerate(chunk.get("choices") or ()):
        delta = check(choice, _CHAT_CHUNK_CHOICE, f"choices[{i}].").get("delta")
        if not delta:
            continue
        check(delta, _CHAT_DELTA, f"choices[{i}].delta.")
        for j, piece in enumerate(delta.get("tool_calls") or ()):
            function = check(piece, _CHAT_PIECE, f"choices[{i}].delta.tool_calls[{j}].").get("function")
            if function:
                check(function, _CHAT_PIECE_FUNCTION, f"choices[{i}].delta.tool_calls[{j}].function.")
        for at, block in each(delta.get("thinking_blocks"), f"choices[{i}].delta.thinking_blocks"):
            check(block, TYPED, at)
