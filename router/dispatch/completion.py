"""What a finished call gives back (token usage, a non-streaming answer), and what a call must
answer to count as one."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from router.dialects.translate.targets import TargetLimits
from router.providers.base import Provider
from router.providers.correlation import Correlation
from router.wire.sse import Batches
from router.wire.usage import Usage

__all__ = ["EMBEDDINGS", "Answers", "Call", "Completion"]


class Answers(Protocol):
    """What a non-streaming call must answer: ``holds_answer`` says whether JSON is one (an HTML
    page from a proxy is not), ``answer_usage`` reads its tokens. Every ``WireFormat`` is one."""

    described: str

    def holds_answer(self, document: Any) -> bool: ...

    def answer_usage(self, document: Any) -> Usage | None: ...


class Call(Protocol):
    """How to make a request's call to one deployment's provider (its model taking ``limits``),
    in whatever wire API it speaks: the answer comes back in the client's dialect
    (``router.dispatch.preparation``)."""

    def complete(
        self, provider: Provider, limits: TargetLimits, correlation: Correlation
    ) -> Awaitable[bytes]: ...

    def stream(self, provider: Provider, limits: TargetLimits, correlation: Correlation) -> Batches: ...


class _EmbeddingsList:
    described = "an embeddings list"

    def holds_answer(self, document: Any) -> bool:
        return isinstance(document, dict) and isinstance(document.get("data"), list)

    def answer_usage(self, document: Any) -> Usage | None:
        usage = document.get("usage") if isinstance(document, dict) else None
        prompt = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        return Usage(prompt, 0) if isinstance(prompt, int) else None


EMBEDDINGS: Answers = _EmbeddingsList()


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
