"""A whole Response of the Responses API, with every field the openai SDK requires."""

from __future__ import annotations

import time
from typing import Any

from router.wire.values import as_str, is_number


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
    """A whole Response; request echoes are defaults (note 19 of ``router.dialects.translate.responses``)."""
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
