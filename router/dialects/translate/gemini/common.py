"""Shared by the Gemini <-> chat translators: field readers, finish reasons, usage, ids.

The Gemini API takes its fields in camelCase and, as protobuf JSON does, in snake_case too
(``systemInstruction`` or ``system_instruction``): ``field`` reads either. Raceway holds a
Gemini request as its body with the path's model and the method's streaming folded in as
``model`` and ``stream``, the two fields the Gemini API does not have (the provider takes
them out again).
"""

from __future__ import annotations

import re
from typing import Any

from router.wire.values import as_dict, as_int, as_list

STREAM_FIELDS = ("model", "stream")  # Raceway's, not Gemini's: never sent upstream

FINISH_TO_CHAT = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
"""Gemini's finish reasons as chat's; any other (LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL...)
is ``stop``, and an answer holding function calls finishes with ``tool_calls``."""

FINISH_FROM_CHAT = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}

# Google's documented stand-in signature for function calls made by another model.
SKIP_SIGNATURE = "skip_thought_signature_validator"

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower()


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` (camelCase) or its snake_case spelling; None when absent or not an object."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(name)
    return obj.get(snake(name)) if value is None else value


def usage_to_chat(usage: Any) -> dict[str, Any]:
    """``usageMetadata`` as chat usage: tool-use prompt tokens count as prompt, thoughts as
    completion (chat's ``completion_tokens`` includes reasoning); cached content is a part of
    the prompt in both."""
    usage = as_dict(usage)
    prompt = as_int(field(usage, "promptTokenCount")) + as_int(field(usage, "toolUsePromptTokenCount"))
    thoughts = as_int(field(usage, "thoughtsTokenCount"))
    completion = as_int(field(usage, "candidatesTokenCount")) + thoughts
    chat: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": as_int(field(usage, "cachedContentTokenCount"))},
    }
    if thoughts:
        chat["completion_tokens_details"] = {"reasoning_tokens": thoughts}
    return chat


def usage_from_chat(usage: Any) -> dict[str, Any]:
    """Chat usage as ``usageMetadata`` (cache writes have no Gemini counterpart: they stay
    counted in the prompt)."""
    usage = as_dict(usage)
    prompt = as_int(usage.get("prompt_tokens"))
    completion = as_int(usage.get("completion_tokens"))
    thoughts = min(
        completion, as_int(as_dict(usage.get("completion_tokens_details")).get("reasoning_tokens"))
    )
    cached = as_int(as_dict(usage.get("prompt_tokens_details")).get("cached_tokens"))
    metadata: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": completion - thoughts,
        "totalTokenCount": prompt + completion,
    }
    if cached:
        metadata["cachedContentTokenCount"] = cached
    if thoughts:
        metadata["thoughtsTokenCount"] = thoughts
    return metadata


def chat_id_of(response_id: Any) -> str:
    return f"chatcmpl-{response_id or ''}"


def response_id_of(chat_id: Any) -> str:
    return str(chat_id or "").removeprefix("chatcmpl-")


def call_id(response_id: Any, candidate: int, position: int) -> str:
    """An id for a function call the Gemini API sent without one (chat needs one per call)."""
    return f"call_{response_id or 'gemini'}_{candidate}_{position}"


def parts_of(content: Any) -> list[dict[str, Any]]:
    return [part for part in as_list(as_dict(content).get("parts")) if isinstance(part, dict)]


__all__ = [
    "FINISH_FROM_CHAT",
    "FINISH_TO_CHAT",
    "SKIP_SIGNATURE",
    "STREAM_FIELDS",
    "call_id",
    "chat_id_of",
    "field",
    "parts_of",
    "response_id_of",
    "usage_from_chat",
    "usage_to_chat",
]
