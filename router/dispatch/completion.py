"""What a finished call gives back: token usage, and a non-streaming answer."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from router.providers.correlation import Correlation


class AnswerKind(enum.Enum):
    """What a non-streaming call must answer: an object holding the list its endpoint's answers hold."""

    CHAT = "choices"  # a chat.completion
    EMBEDDINGS = "data"  # an embeddings list

    def holds(self, document: Any) -> bool:
        return isinstance(document, dict) and isinstance(document.get(self.value), list)


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_of(payload: Any) -> Usage | None:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens", 0)
    if not isinstance(prompt, int) or not isinstance(completion, int):
        return None
    return Usage(prompt, completion)


@dataclass(slots=True)
class Completion:
    """A finished non-streaming answer."""

    body: bytes
    deployment: str
    attempts: int
    upstream_seconds: float
    usage: Usage | None = None
    cost: float = 0.0
    correlation: Correlation | None = None  # the call's ties to the upstream (its request id...)
