"""Whole answers both ways: a ``GenerateContentResponse`` as a ``chat.completion``, and back."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from router.dialects.translate.gemini.common import (
    FINISH_FROM_CHAT,
    FINISH_TO_CHAT,
    call_id,
    chat_id_of,
    field,
    parts_of,
    response_id_of,
    usage_from_chat,
    usage_to_chat,
)
from router.dialects.translate.gemini.parts import (
    assistant_text,
    call_to_part,
    model_parts_to_chat,
    thought_parts,
)
from router.errors import InvalidRequest, UpstreamError
from router.wire.values import as_dict, as_list


def gemini_answer_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole Gemini answer as a ``chat.completion``: one choice per candidate. A prompt
    blocked before any candidate is one empty choice finished by ``content_filter``."""
    response_id = field(answer, "responseId")
    choices = []
    for position, candidate in enumerate(as_list(answer.get("candidates"))):
        candidate = as_dict(candidate)
        index = candidate["index"] if isinstance(candidate.get("index"), int) else position
        message = model_parts_to_chat(
            parts_of(candidate.get("content")), partial(call_id, response_id, index)
        )
        choices.append(
            {
                "index": index,
                "message": message,
                "finish_reason": finish_to_chat(field(candidate, "finishReason"), "tool_calls" in message),
                "logprobs": None,
            }
        )
    if not choices:
        blocked = {"role": "assistant", "content": None}
        choices.append({"index": 0, "message": blocked, "finish_reason": "content_filter", "logprobs": None})
    return {
        "id": chat_id_of(response_id),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": field(answer, "modelVersion"),
        "choices": choices,
        "usage": usage_to_chat(field(answer, "usageMetadata")),
    }


def finish_to_chat(reason: Any, calls: bool) -> str:
    finish = FINISH_TO_CHAT.get(str(reason), "stop")
    return "tool_calls" if calls and finish == "stop" else finish


def chat_answer_to_gemini(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole ``chat.completion`` as a Gemini answer: one candidate per choice."""
    candidates = []
    for position, choice in enumerate(as_list(answer.get("choices"))):
        choice = as_dict(choice)
        index = choice["index"] if isinstance(choice.get("index"), int) else position
        candidates.append(
            {
                "content": {"role": "model", "parts": message_parts(as_dict(choice.get("message")), index)},
                "finishReason": FINISH_FROM_CHAT.get(str(choice.get("finish_reason")), "STOP"),
                "index": index,
            }
        )
    document: dict[str, Any] = {"candidates": candidates}
    if isinstance(answer.get("usage"), dict):
        document["usageMetadata"] = usage_from_chat(answer["usage"])
    document["modelVersion"] = answer.get("model") or ""
    document["responseId"] = response_id_of(answer.get("id"))
    return document


def message_parts(message: dict[str, Any], index: int) -> list[dict[str, Any]]:
    """A chat assistant message as model parts: thoughts, text, function calls (Gemini's order).
    An answer with nothing to say is one empty text part, as the Gemini API sends it."""
    parts = thought_parts(message)
    text = assistant_text(message)
    if text:
        parts.append({"text": text})
    for j, call in enumerate(as_list(message.get("tool_calls"))):
        try:
            parts.append(call_to_part(as_dict(call), f"choices[{index}].message.tool_calls[{j}]"))
        except InvalidRequest as exc:
            raise UpstreamError(f"the upstream answered a tool call that is not JSON: {exc.message}") from exc
    return parts or [{"text": ""}]
