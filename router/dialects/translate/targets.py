"""A translated request fitted to what its target model accepts: ``TargetLimits`` and the fitters.

A translation speaks for its client to a model the client did not pick: Claude Code asks an
Anthropic model for ``max_tokens: 32000`` and thinking, and through a chat upstream that
becomes ``max_tokens: 32000`` and ``reasoning_effort`` for a model that may write 16,384 tokens
at most and refuse reasoning parameters. So after the translation (which knows dialects, not
deployments), the body is fitted to plain limits the caller derives from the deployment
(``router.fleet.targets``):

- ``max_output_tokens``: the output-token fields above it are clamped to it (chat
  ``max_tokens`` and ``max_completion_tokens``, Messages ``max_tokens``, Responses
  ``max_output_tokens``, Gemini ``generationConfig.maxOutputTokens``). A Messages thinking
  budget that no longer fits below the clamped ``max_tokens`` becomes half of it; under
  Anthropic's minimum (1,024) thinking is dropped.
- ``reasoning`` false: the reasoning parameters are dropped (chat ``reasoning_effort``,
  Messages ``thinking``, Responses ``reasoning`` and its ``reasoning.*`` includes, Gemini
  ``thinkingConfig``), and so is the reasoning in the history (chat ``reasoning_content`` and
  ``thinking_blocks``, Messages ``thinking`` / ``redacted_thinking`` blocks, Responses
  ``reasoning`` items). A message or turn left with nothing is dropped (a Messages turn's
  neighbours of one role then merge).

Identifiers are fitted by the translators themselves, whatever the deployment: they are the
target dialect's limits (``fit_identifier``). A body passed through in the client's own
dialect is never fitted: it goes as the client wrote it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Body = dict[str, Any]

OPENAI_IDENTIFIER_LIMIT = 64
"""OpenAI's ``user`` and ``safety_identifier``: at most 64 characters."""

ANTHROPIC_USER_ID_LIMIT = 256
"""Anthropic's ``metadata.user_id``: at most 256 characters."""

MIN_THINKING_BUDGET = 1024
"""Anthropic's smallest ``thinking.budget_tokens``."""


@dataclass(frozen=True, slots=True)
class TargetLimits:
    """What the model a translated request goes to accepts, as far as translation must know."""

    max_output_tokens: int | None = None  # None: not known, nothing is clamped
    reasoning: bool = True  # False: no reasoning parameters, no reasoning in the history


ANY_TARGET = TargetLimits()
"""Nothing known about the target: the translation goes as it is."""


def fit_identifier(value: str, limit: int) -> str:
    """``value`` if it fits in ``limit`` characters, else its SHA-256 in hex (64 characters, or
    the first ``limit`` of them): the same user always gets the same identifier."""
    if len(value) <= limit:
        return value
    return hashlib.sha256(value.encode()).hexdigest()[:limit]


def _clamp(body: Body, names: tuple[str, ...], cap: int | None) -> None:
    if cap is None:
        return
    for name in names:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > cap:
            body[name] = cap


def fit_chat_request(body: Body, limits: TargetLimits) -> Body:
    """A translated chat request fitted to ``limits`` (a copy; ``body`` is left as it is)."""
    if limits == ANY_TARGET:
        return body
    fitted = dict(body)
    _clamp(fitted, ("max_tokens", "max_completion_tokens"), limits.max_output_tokens)
    if not limits.reasoning:
        _drop_reasoning(fitted, "reasoning_effort", "messages", _chat_messages_without_reasoning)
    return fitted


def _drop_reasoning(
    fitted: Body, setting: str, history: str, strip: Callable[[list[Any]], list[Any]]
) -> None:
    """For a model without reasoning: the request's reasoning ``setting`` goes, and ``strip``
    takes the reasoning out of its ``history`` (the earlier turns)."""
    fitted.pop(setting, None)
    items = fitted.get(history)
    if isinstance(items, list):
        fitted[history] = strip(items)


def _chat_messages_without_reasoning(messages: list[Any]) -> list[Any]:
    return [kept for message in messages if (kept := _chat_message_without_reasoning(message)) is not None]


def _chat_message_without_reasoning(message: Any) -> Any:
    if not isinstance(message, dict) or not ("reasoning_content" in message or "thinking_blocks" in message):
        return message
    kept = {k: v for k, v in message.items() if k not in ("reasoning_content", "thinking_blocks")}
    says_something = kept.get("content") not in (None, "", []) or any(
        kept.get(name) for name in ("tool_calls", "function_call", "refusal", "audio")
    )
    return kept if says_something else None


def fit_messages_request(body: Body, limits: TargetLimits) -> Body:
    """A translated Messages request fitted to ``limits`` (a copy)."""
    if limits == ANY_TARGET:
        return body
    fitted = dict(body)
    _clamp(fitted, ("max_tokens",), limits.max_output_tokens)
    if not limits.reasoning:
        _drop_reasoning(fitted, "thinking", "messages", _turns_without_thinking)
    thinking = fitted.get("thinking")
    max_tokens = fitted.get("max_tokens")
    if isinstance(thinking, dict) and isinstance(max_tokens, int):
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int) and budget >= max_tokens:
            if max_tokens // 2 < MIN_THINKING_BUDGET:
                del fitted["thinking"]
            else:
                fitted["thinking"] = {**thinking, "budget_tokens": max_tokens // 2}
    return fitted


_THINKING_BLOCKS = ("thinking", "redacted_thinking")


def _turns_without_thinking(turns: list[Any]) -> list[Any]:
    """The turns without their thinking blocks; an emptied turn goes, and the turns of one role
    it separated merge (Anthropic wants them alternating)."""
    kept: list[Any] = []
    for turn in turns:
        content = turn.get("content") if isinstance(turn, dict) else None
        if isinstance(content, list):
            blocks = [b for b in content if not (isinstance(b, dict) and b.get("type") in _THINKING_BLOCKS)]
            if not blocks:
                continue
            turn = {**turn, "content": blocks}
        previous = kept[-1] if kept else None
        if (
            isinstance(previous, dict)
            and isinstance(turn, dict)
            and previous.get("role") == turn.get("role")
            and isinstance(previous.get("content"), list)
            and isinstance(turn.get("content"), list)
        ):
            kept[-1] = {**previous, "content": [*previous["content"], *turn["content"]]}
        else:
            kept.append(turn)
    return kept


def fit_responses_request(body: Body, limits: TargetLimits) -> Body:
    """A translated Responses request fitted to ``limits`` (a copy)."""
    if limits == ANY_TARGET:
        return body
    fitted = dict(body)
    _clamp(fitted, ("max_output_tokens",), limits.max_output_tokens)
    if not limits.reasoning:
        _drop_reasoning(fitted, "reasoning", "input", _items_without_reasoning)
        include = fitted.get("include")
        if isinstance(include, list):
            include = [name for name in include if not str(name).startswith("reasoning.")]
            if include:
                fitted["include"] = include
            else:
                del fitted["include"]
    return fitted


def _items_without_reasoning(items: list[Any]) -> list[Any]:
    return [item for item in items if not (isinstance(item, dict) and item.get("type") == "reasoning")]


def fit_gemini_request(body: Body, limits: TargetLimits) -> Body:
    """A translated Gemini request fitted to ``limits`` (a copy): ``generationConfig``'s
    ``maxOutputTokens`` clamped, ``thinkingConfig`` dropped for a model without reasoning (thought
    parts in the history stay: Gemini reads them as text a model without thinking may ignore)."""
    config = body.get("generationConfig")
    if limits == ANY_TARGET or not isinstance(config, dict):
        return body
    fitted_config = dict(config)
    _clamp(fitted_config, ("maxOutputTokens",), limits.max_output_tokens)
    if not limits.reasoning:
        fitted_config.pop("thinkingConfig", None)
    return {**body, "generationConfig": fitted_config}
