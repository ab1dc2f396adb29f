"""Shared by the Messages <-> chat translators: texts, stop reasons, usage, ids.

The texts of contents, the stop-reason maps both ways, the server-side block types, usage
conversion (Anthropic's input leaves the cache out, chat's includes it) and the answer ids.
The defensive JSON readers are every translator's: ``router.wire.values``.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.wire.values import as_dict, as_int, as_list

STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


SERVER_BLOCK_TYPES = frozenset(
    {
        "server_tool_use",
        "web_search_tool_result",
        "web_fetch_tool_result",
        "code_execution_tool_result",
        "bash_code_execution_tool_result",
        "text_editor_code_execution_tool_result",
        "tool_search_tool_result",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
    }
)


def text_of(content: Any) -> str:
    """The text of a string content or of a list of text blocks/parts, joined."""
    if isinstance(content, str):
        return content
    return "".join(
        str(part.get("text", "")) for part in as_list(content) if isinstance(part, dict) and "text" in part
    )


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def usage_to_chat(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage (input without cache) as chat usage (prompt with cache)."""
    reads = as_int(usage.get("cache_read_input_tokens"))
    writes = as_int(usage.get("cache_creation_input_tokens"))
    prompt = as_int(usage.get("input_tokens")) + reads + writes
    completion = as_int(usage.get("output_tokens"))
    chat: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": reads},
        "cache_creation_input_tokens": writes,
    }
    thinking = as_dict(usage.get("output_tokens_details")).get("thinking_tokens")
    if isinstance(thinking, int):
        chat["completion_tokens_details"] = {"reasoning_tokens": thinking}
    return chat


def usage_to_messages(usage: dict[str, Any]) -> dict[str, Any]:
    """Chat usage as Anthropic's, whose ``input_tokens`` leaves the cache out."""
    reads = as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
    writes = as_int(usage.get("cache_creation_input_tokens"))
    anthropic: dict[str, Any] = {
        "input_tokens": max(0, as_int(usage.get("prompt_tokens")) - reads - writes),
        "output_tokens": as_int(usage.get("completion_tokens")),
        "cache_read_input_tokens": reads,
        "cache_creation_input_tokens": writes,
    }
    reasoning = as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens")
    if isinstance(reasoning, int):
        anthropic["output_tokens_details"] = {"thinking_tokens": reasoning}
    return anthropic


def chat_id_of(message_id: Any) -> str:
    return f"chatcmpl-{message_id or ''}"


def message_id_of(chat_id: Any) -> str:
    """``msg_...`` from a chat id; a round-tripped ``chatcmpl-msg_X`` gives back ``msg_X``."""
    raw = str(chat_id or "")
    raw = raw.removeprefix("chatcmpl-")
    return raw if raw.startswith("msg_") else f"msg_{raw}"
