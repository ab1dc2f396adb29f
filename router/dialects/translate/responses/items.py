"""A Response's output items, as built by the answers and the streams to Responses (the whole
Response: ``router.wire.response``)."""

from __future__ import annotations

import re
import uuid
from typing import Any

from router.wire.values import as_str


def base_id(chat_id: Any) -> str:
    """The part of a chat id that Responses item ids are derived from."""
    raw = as_str(chat_id).removeprefix("chatcmpl-")
    base = re.sub(r"[^A-Za-z0-9_-]", "", raw)
    return base or uuid.uuid4().hex


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}]}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


def message_item(item_id: str, parts: list[dict[str, Any]], status: str) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": parts}


def call_item(item_id: str, call_id: str, name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": item_id,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }
