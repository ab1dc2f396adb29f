"""Splicing a continuation into a Gemini stream (``router.dialects.splice`` for the others).

Every event of a Gemini stream is a whole ``GenerateContentResponse`` chunk: there is no opening
to drop. The continuation's chunks carry the client's ``responseId`` and ``modelVersion``; an
empty chunk (no part, no finish, no usage) is dropped; ``usageMetadata`` adds what the broken
call last reported (the Gemini API reports it cumulatively, often only at the end).

A function call comes whole in a part of its own: an answer is continued after its text and
after the calls the client received (sent to the continuation as the assistant's tool calls; one
without an ``id`` is named by its position), and the continuation's parts follow them, never
merged into one. A call streamed in pieces (``partialArgs``, ``willContinue``), a thought, or
text after a call, cannot be continued.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.dialects.continuation import Partial, ToolCall, refusal, skipped
from router.wire.sse import data_event, read_event

_IDENTITY = ("responseId", "modelVersion")
_COUNTS = ("promptTokenCount", "candidatesTokenCount", "totalTokenCount", "cachedContentTokenCount")


class GeminiSplicer:
    __slots__ = ("_calls", "_identity", "_other", "_skip", "_stopped", "_usage", "text")

    def __init__(self) -> None:
        self.text = ""
        self._calls: list[ToolCall] = []  # the client's function calls, in order
        self._identity: dict[str, Any] = {}
        self._other: str | None = None
        self._stopped = False
        self._usage: dict[str, Any] | None = None  # the broken calls' last usageMetadata
        self._skip = ""

    def note(self, event: bytes) -> None:
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return
        if not self._identity:
            self._identity = {key: chunk[key] for key in _IDENTITY if key in chunk}
        if isinstance(chunk.get("usageMetadata"), dict):
            self._usage = chunk["usageMetadata"]
        candidates = chunk.get("candidates") or []
        if len(candidates) > 1:
            self._other = "several candidates"
        for candidate in candidates:
            for part in (candidate.get("content") or {}).get("parts") or []:
                if part.get("thought"):
                    self._other = "thinking"
                elif "text" in part:
                    if self._calls and part["text"]:
                        self._other = "text after a tool call"
                    self.text += str(part["text"])
                elif isinstance(part.get("functionCall"), dict):
                    self._note_call(part["functionCall"])
                else:
                    self._other = "a part that is not text"
            if candidate.get("finishReason"):
                self._stopped = True

    def _note_call(self, call: dict[str, Any]) -> None:
        if "partialArgs" in call or "willContinue" in call:
            self._other = "a function call streamed in pieces"  # not read here: never continued
            return
        own = call.get("id")
        call_id = own if isinstance(own, str) and own else f"call_{len(self._calls)}"
        arguments = orjson.dumps(call.get("args") or {}).decode()
        self._calls.append(ToolCall(call_id, str(call.get("name", "")), arguments))

    def refusal(self) -> str | None:
        return refusal(self._other, self._stopped, bool(self.text or self._calls))

    def partial(self) -> Partial:
        return Partial(self.text, tuple(self._calls))

    def begin(self, skip: str = "") -> None:
        self._skip = skip

    def splice(self, event: bytes) -> list[bytes]:
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return [event]
        chunk = {**chunk, **self._identity}
        candidates = [self._unsent(candidate) for candidate in chunk.get("candidates") or []]
        candidates = [c for c in candidates if (c.get("content") or {}).get("parts") or c.get("finishReason")]
        usage = chunk.get("usageMetadata")
        if not candidates and not isinstance(usage, dict):
            return []
        chunk["candidates"] = candidates
        if isinstance(usage, dict) and self._usage is not None:
            chunk["usageMetadata"] = _summed(self._usage, usage)
        return [data_event(chunk)]

    def _unsent(self, candidate: dict[str, Any]) -> dict[str, Any]:
        """``candidate`` without the text the client already has (the prefill's left-out end)."""
        content = candidate.get("content")
        if not self._skip or not isinstance(content, dict):
            return candidate
        parts = []
        for part in content.get("parts") or []:
            if self._skip and "text" in part:
                self._skip, text = skipped(self._skip, str(part["text"]))
                if not text:
                    continue
                part = {**part, "text": text}
            parts.append(part)
        return {**candidate, "content": {**content, "parts": parts}}


def _summed(earlier: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """``usage`` with the broken call's counts added; its total, when it has one, adds the broken
    call's total (or, where it reported none, what it reported of its prompt and answer)."""
    summed = {**usage}
    for key in _COUNTS:
        if key in usage and key != "totalTokenCount":
            summed[key] = _int(usage[key]) + _int(earlier.get(key))
    if "totalTokenCount" in usage:
        before = earlier.get("totalTokenCount")
        if type(before) is not int:
            before = _int(earlier.get("promptTokenCount")) + _int(earlier.get("candidatesTokenCount"))
        summed["totalTokenCount"] = _int(usage["totalTokenCount"]) + before
    return summed


def _int(value: Any) -> int:
    return value if type(value) is int else 0
