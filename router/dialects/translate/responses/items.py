"""A whole Response and its output items, as built by the answers and the streams to Responses."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from router.dialects.translate.responses.common import as_str, is_number

# The ``error.code`` values of a failed Response that say "rate limited" (the Response schema
# allows a closed set: anything else is ``server_error``).
_RATE_LIMITED = frozenset({"rate_limit_error", "rate_limit_exceeded"})


def base_id(chat_id: Any) -> str:
    """The part of a chat id that Responses item ids are derived from."""
    raw = as_str(chat_id).removeprefix("chatcmpl-")
    base = re.sub(r"[^A-Za-z0-9_-]", "", raw)
    return base or uuid.uuid4().hex


def response_object(
    *,
    base: str,
    created_at: Any,
    model: Any,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete_details: dict[str, Any] | None,
) -> dict[str, Any]:
    """A whole Response with every field the openai SDK requires; request echoes are defaults
    (note 19)."""
    created = created_at if is_number(created_at) else int(time.time())
    return {
        "id": f"resp_{base}",
        "object": "response",
        "created_at": created,
        "status": status,
        "completed_at": created if status == "completed" else None,
        "background": False,
        "error": None,
        "incomplete_details": incomplete_details,
        "instructions": None,
        "max_output_tokens": None,
        "metadata": {},
        "model": as_str(model),
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": None,
        "store": False,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": None,
        "truncation": "disabled",
        "usage": usage,
    }


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


def failure(response: dict[str, Any], error: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events that end a failed Responses stream as OpenAI's service ends one, without
    their sequence numbers: ``error``, with the documented fields (``code``, ``message``,
    ``param``) and the nested ``error`` object the service sends too (the openai SDK raises
    ``APIError`` on it), then ``response.failed`` carrying ``response`` failed with its
    ``error`` (what the Agents SDK and Codex read). ``error`` is chat-shaped (``message``,
    ``type``, ``code``, ``param``)."""
    code = error.get("code")
    fields = {
        "code": str(code) if code is not None else as_str(error.get("type")) or None,
        "message": as_str(error.get("message")) or "the upstream stream failed",
        "param": error.get("param") if isinstance(error.get("param"), str) else None,
    }
    nested = {"type": as_str(error.get("type")) or "server_error", **fields}
    limited = bool({error.get("type"), code} & _RATE_LIMITED)
    failed = {
        **response,
        "status": "failed",
        "completed_at": None,
        "error": {"code": "rate_limit_exceeded" if limited else "server_error", "message": fields["message"]},
    }
    return [("error", {**fields, "error": nested}), ("response.failed", {"response": failed})]
