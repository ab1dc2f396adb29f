"""Token usage, read from an answer or a stream event of any dialect.

``prompt_tokens`` counts every input token, prompt-cache reads and writes included (OpenAI's
way; Anthropic reports ``input_tokens`` without them, so they are added back), so that rate
limits and budgets see the same number whatever the dialect; ``cache_read`` and
``cache_write`` say how many of them the prompt cache served or stored, for their price.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def chat_usage(payload: Any) -> Usage | None:
    """Chat's (and legacy completions') ``usage``, with the extensions for cache tokens."""
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(prompt, completion, cached, _count(usage.get("cache_creation_input_tokens")))


def messages_usage(usage: Any, before: Usage | None = None) -> Usage | None:
    """Anthropic's ``usage`` object. In a stream, ``message_start`` holds the input side and
    ``message_delta`` the output so far (and, lately, the input again): ``before`` is what the
    stream said so far, and what this usage leaves out keeps its value."""
    if not isinstance(usage, dict):
        return None
    if before is None:
        before = Usage(0, 0)
    fresh, read, write = (usage.get(name) for name in _ANTHROPIC_INPUTS)
    if any(type(value) is int for value in (fresh, read, write)):
        read_count = _count(read) if read is not None else before.cache_read
        write_count = _count(write) if write is not None else before.cache_write
        prompt = _count(fresh) + read_count + write_count
    else:
        prompt, read_count, write_count = before.prompt_tokens, before.cache_read, before.cache_write
    output = usage.get("output_tokens")
    completion = _count(output) if output is not None else before.completion_tokens
    return Usage(prompt, completion, read_count, write_count)


_ANTHROPIC_INPUTS = ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def gemini_usage(usage: Any) -> Usage | None:
    """The Gemini API's ``usageMetadata``: its prompt count includes the cached content (and
    tool-use prompts count as prompt); thoughts are output, beside the candidates' tokens."""
    if not isinstance(usage, dict) or not isinstance(usage.get("promptTokenCount"), int):
        return None
    prompt = _count(usage["promptTokenCount"]) + _count(usage.get("toolUsePromptTokenCount"))
    completion = _count(usage.get("candidatesTokenCount")) + _count(usage.get("thoughtsTokenCount"))
    return Usage(prompt, completion, _count(usage.get("cachedContentTokenCount")))


def responses_usage(usage: Any) -> Usage | None:
    """The Responses API's ``usage`` object (of a response). ``cache_write_tokens`` is not
    OpenAI's: Raceway's translation from chat and Messages writes it, so that cache writes
    keep their price for a Responses client."""
    if not isinstance(usage, dict) or not isinstance(usage.get("input_tokens"), int):
        return None
    details = usage.get("input_tokens_details")
    if not isinstance(details, dict):
        details = {}
    return Usage(
        _count(usage["input_tokens"]),
        _count(usage.get("output_tokens")),
        _count(details.get("cached_tokens")),
        _count(details.get("cache_write_tokens")),
    )
