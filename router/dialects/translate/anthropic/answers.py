"""Whole answers both ways: a Messages answer as a ``chat.completion``, and back."""

from __future__ import annotations

import time
from typing import Any

from router.dialects.translate.anthropic.blocks import (
    assistant_to_chat,
    call_to_tool_use,
    chat_thinking_blocks,
)
from router.dialects.translate.anthropic.common import (
    FINISH_TO_STOP,
    STOP_TO_FINISH,
    chat_id_of,
    message_id_of,
    text_of,
    usage_to_chat,
    usage_to_messages,
)
from router.errors import InvalidRequest, UpstreamError
from router.wire.values import as_dict, as_list


def messages_answer_to_chat(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole Messages answer as a ``chat.completion``."""
    message = assistant_to_chat(answer.get("content"), None)
    message["refusal"] = None  # chat's schema requires it; Anthropic refuses in text (stop_reason refusal)
    return {
        "id": chat_id_of(answer.get("id")),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.get("model"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": STOP_TO_FINISH.get(str(answer.get("stop_reason")), "stop"),
                "logprobs": None,
            }
        ],
        "usage": usage_to_chat(as_dict(answer.get("usage"))),
    }


def chat_answer_to_messages(answer: dict[str, Any]) -> dict[str, Any]:
    """A whole ``chat.completion`` (its first choice) as a Messages answer."""
    choice = as_dict(next(iter(as_list(answer.get("choices"))), {}))
    message = as_dict(choice.get("message"))
    content: list[dict[str, Any]] = _answer_thinking_blocks(message)
    text = text_of(message.get("content")) or (message.get("refusal") or "")
    if text:
        content.append({"type": "text", "text": str(text)})
    for j, call in enumerate(as_list(message.get("tool_calls"))):
        try:
            content.append(call_to_tool_use(as_dict(call), f"choices[0].message.tool_calls[{j}]"))
        except InvalidRequest as exc:
            raise UpstreamError(f"the upstream answered a tool call that is not JSON: {exc.message}") from exc
    finish = choice.get("finish_reason")
    return {
        "id": message_id_of(answer.get("id")),
        "type": "message",
        "role": "assistant",
        "model": answer.get("model"),
        "content": content,
        "stop_reason": FINISH_TO_STOP.get(str(finish), "end_turn"),
        "stop_sequence": None,
        "usage": usage_to_messages(as_dict(answer.get("usage"))),
    }


def _answer_thinking_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The thinking of a chat answer as blocks: its ``thinking_blocks`` when signed, else its
    ``reasoning_content`` as one unsigned block (a chat upstream such as DeepSeek has no signature)."""
    blocks = chat_thinking_blocks(message)
    reasoning = message.get("reasoning_content")
    if not blocks and isinstance(reasoning, str) and reasoning:
        blocks.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    return blocks
