"""Whole answers both ways: a Response as a ``chat.completion``, and back."""

from __future__ import annotations

import time
from typing import Any

from router.dialects.translate.responses.common import (
    call_arguments,
    chat_text,
    finish_reason_of,
    reasoning_texts,
    status_of,
    usage_to_chat,
    usage_to_responses,
)
from router.dialects.translate.responses.items import (
    base_id,
    call_item,
    message_item,
    reasoning_item,
    refusal_part,
    text_part,
)
from router.errors import UpstreamError
from router.wire.response import response_object
from router.wire.values import as_dict, as_list, as_str, is_number


def responses_answer_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A Response as a chat.completion; a failed Response is an upstream error."""
    if answer.get("status") == "failed":
        error = as_dict(answer.get("error"))
        raise UpstreamError(as_str(error.get("message")) or "the upstream response failed")
    texts: list[str] = []
    refusals: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for item in as_list(answer.get("output")):
        item = as_dict(item)
        if item.get("type") == "message":
            for part in as_list(item.get("content")):
                part = as_dict(part)
                if part.get("type") == "output_text":
                    texts.append(as_str(part.get("text")))
                elif part.get("type") == "refusal":
                    refusals.append(as_str(part.get("refusal")))
        elif item.get("type") == "function_call":
            calls.append(_call_to_chat(item))
        elif item.get("type") == "reasoning":
            reasoning.extend(reasoning_texts(item))
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts or not (calls or refusals) else None,
        "refusal": "".join(refusals) if refusals else None,
    }
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "\n\n".join(reasoning)
    chat: dict[str, Any] = {
        "id": "chatcmpl-" + as_str(answer.get("id")).removeprefix("resp_"),
        "object": "chat.completion",
        "created": int(answer["created_at"]) if is_number(answer.get("created_at")) else int(time.time()),
        "model": as_str(answer.get("model")),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason_of(answer, bool(calls)),
                "logprobs": None,
            }
        ],
    }
    usage = usage_to_chat(answer.get("usage"))
    if usage is not None:
        chat["usage"] = usage
    return chat


def _call_to_chat(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": as_str(item.get("call_id")) or as_str(item.get("id")),
        "type": "function",
        "function": {"name": as_str(item.get("name")), "arguments": call_arguments(item.get("arguments"))},
    }


def chat_answer_to_responses(answer: dict[str, Any]) -> dict[str, Any]:
    """A chat.completion as a Response: reasoning, then the message, then the calls."""
    base = base_id(answer.get("id"))
    choices = as_list(answer.get("choices"))
    choice = as_dict(choices[0]) if choices else {}
    message = as_dict(choice.get("message"))
    status, incomplete = status_of(choice.get("finish_reason"))
    output: list[dict[str, Any]] = []
    reasoning = as_str(message.get("reasoning_content"))
    if reasoning:
        output.append(reasoning_item(f"rs_{base}", reasoning))
    text = chat_text(message.get("content"))
    refusal = as_str(message.get("refusal"))
    if text or refusal:
        parts = ([text_part(text)] if text else []) + ([refusal_part(refusal)] if refusal else [])
        output.append(
            message_item(f"msg_{base}", parts, "completed" if status == "completed" else "incomplete")
        )
    for i, call in enumerate(as_list(message.get("tool_calls"))):
        function = as_dict(as_dict(call).get("function"))
        output.append(
            call_item(
                f"fc_{base}_{i}",
                as_str(as_dict(call).get("id")),
                as_str(function.get("name")),
                call_arguments(function.get("arguments")),
                "completed",
            )
        )
    return response_object(
        base=base,
        created_at=answer.get("created"),
        model=answer.get("model"),
        status=status,
        output=output,
        usage=usage_to_responses(answer.get("usage")),
        incomplete_details=incomplete,
    )
