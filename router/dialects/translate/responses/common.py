"""Shared by the Responses <-> chat translators: texts, usage and status.

The texts of reasoning items and of chat content, usage both ways, and a Response's status
<-> chat's finish reason. The defensive JSON readers are every translator's: ``router.wire.values``.
"""

from __future__ import annotations

from typing import Any

from router.wire.values import as_dict, as_int, as_list, as_str


def call_arguments(value: Any) -> str:
    """A function call's arguments: a call that streamed or sent none takes none, ``{}`` (JSON,
    as clients parse them), never an empty string."""
    text = as_str(value)
    return text if text.strip() else "{}"


def reasoning_texts(item: dict[str, Any]) -> list[str]:
    """A reasoning item's texts: its summary, then its full reasoning text when present."""
    texts = [as_str(as_dict(part).get("text")) for part in as_list(item.get("summary"))]
    texts += [as_str(as_dict(part).get("text")) for part in as_list(item.get("content"))]
    return [text for text in texts if text]


def chat_text(content: Any) -> str:
    """The text of chat content, a string or text parts (other parts ignored)."""
    if isinstance(content, str):
        return content
    return "".join(
        as_str(as_dict(part).get("text")) for part in as_list(content) if as_dict(part).get("type") == "text"
    )


def usage_to_chat(usage: Any) -> dict[str, Any] | None:
    """Responses usage as chat usage (input tokens already include cached ones in both)."""
    if not isinstance(usage, dict):
        return None
    prompt = as_int(usage.get("input_tokens"))
    completion = as_int(usage.get("output_tokens"))
    details = as_dict(usage.get("input_tokens_details"))
    chat: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": as_int(usage.get("total_tokens")) or prompt + completion,
        "prompt_tokens_details": {"cached_tokens": as_int(details.get("cached_tokens"))},
        "completion_tokens_details": {
            "reasoning_tokens": as_int(as_dict(usage.get("output_tokens_details")).get("reasoning_tokens"))
        },
    }
    if as_int(details.get("cache_write_tokens")):
        chat["cache_creation_input_tokens"] = details["cache_write_tokens"]
    return chat


def usage_to_responses(usage: Any) -> dict[str, Any] | None:
    """Chat usage as Responses usage; the SDK requires every detail, so absent ones are 0."""
    if not isinstance(usage, dict):
        return None
    prompt = as_int(usage.get("prompt_tokens"))
    completion = as_int(usage.get("completion_tokens"))
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens")),
            "cache_write_tokens": as_int(usage.get("cache_creation_input_tokens")),
        },
        "output_tokens": completion,
        "output_tokens_details": {
            "reasoning_tokens": as_int(
                as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens")
            )
        },
        "total_tokens": as_int(usage.get("total_tokens")) or prompt + completion,
    }


def finish_reason_of(response: dict[str, Any], has_calls: bool) -> str:
    """A Response's status as chat's finish reason."""
    if response.get("status") == "incomplete":
        reason = as_dict(response.get("incomplete_details")).get("reason")
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def status_of(finish_reason: Any) -> tuple[str, dict[str, Any] | None]:
    """Chat's finish reason as a Response's status and incomplete details."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None
