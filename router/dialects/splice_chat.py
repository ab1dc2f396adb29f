"""Splicing a continuation into a chat or legacy completions stream (``router.dialects.splice``).

Both are chunks of ``choices`` under the first call's identity:

- chat: the continuation's opening chunk (the role) is dropped; every chunk carries the first
  call's ``id``, ``created``, ``model`` and ``system_fingerprint``; the usage chunk adds the
  broken call's. An answer whose tool calls the client received whole (each call's arguments a
  complete JSON object) is continued after them: the continuation's calls are numbered after
  the client's (their ``index``), never merged into one of them.
- completions: the same identity and usage; its text choices carry no role to drop, and a
  ``logprobs.text_offset`` counts from the start of the whole text.
"""

from __future__ import annotations

from typing import Any

from router.dialects.continuation import Partial, ToolCall, refusal, skipped, whole_object
from router.wire.sse import data_event, read_event

_IDENTITY = ("id", "created", "model", "system_fingerprint")
_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class _Choices:
    """What chat and completions splicing share: the identity, the usage, the text so far."""

    __slots__ = ("_identity", "_other", "_skip", "_stopped", "_usage", "text")

    def __init__(self) -> None:
        self.text = ""
        self._identity: dict[str, Any] = {}
        self._other: str | None = None  # what the answer holds that cannot be continued, if anything
        self._stopped = False
        self._usage: dict[str, Any] | None = None  # the broken calls' usage, as they reported it
        self._skip = ""

    def _noted(self, event: bytes) -> list[dict[str, Any]]:
        """The choices of a noted chunk (its identity and usage kept)."""
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return []
        if not self._identity:
            self._identity = {key: chunk[key] for key in _IDENTITY if key in chunk}
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = [choice for choice in chunk.get("choices") or [] if isinstance(choice, dict)]
        for choice in choices:
            if choice.get("index", 0) != 0:
                self._other = "several choices"
            if choice.get("finish_reason") is not None:
                self._stopped = True
        return choices

    def _refusal(self, has_more: bool) -> str | None:
        return refusal(self._other, self._stopped, bool(self.text) or has_more)

    def begin(self, skip: str = "") -> None:
        self._skip = skip

    def _unsent(self, text: str) -> str:
        """``text`` without what the client already has (the prefill's left-out end)."""
        if self._skip:
            self._skip, text = skipped(self._skip, text)
        return text

    def _spliced(self, event: bytes, rewrite: Any) -> list[bytes]:
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return [event]  # [DONE]
        chunk = {**chunk, **{key: value for key, value in self._identity.items() if key in chunk}}
        kept = [choice for choice in map(rewrite, chunk.get("choices") or []) if choice is not None]
        usage = chunk.get("usage")
        if not kept and not isinstance(usage, dict):
            return []
        chunk["choices"] = kept
        if isinstance(usage, dict):
            chunk["usage"] = _summed(self._usage, usage)
        return [data_event(chunk)]


class ChatSplicer(_Choices):
    __slots__ = ("_calls", "_offset")

    def __init__(self) -> None:
        super().__init__()
        self._calls: dict[int, list[str]] = {}  # the client's tool calls by index: id, name, arguments
        self._offset = 0  # added to the continuation's tool call indexes

    def note(self, event: bytes) -> None:
        for choice in self._noted(event):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._calls:
                    self._other = "text after a tool call"
                self.text += str(delta["content"])
            if delta.get("tool_calls"):
                self._note_calls(delta["tool_calls"])
            elif delta.get("reasoning_content") or delta.get("reasoning"):
                self._other = "thinking"
            elif delta.get("refusal"):
                self._other = "a refusal"

    def _note_calls(self, calls: Any) -> None:
        for call in calls if isinstance(calls, list) else ():
            index = call.get("index", 0) if isinstance(call, dict) else None
            if not isinstance(index, int):
                self._other = "a tool call it cannot read"
                continue
            function = call.get("function") or {}
            known = self._calls.setdefault(index, ["", "", ""])
            known[0] = known[0] or str(call.get("id") or "")
            known[1] = known[1] or str(function.get("name") or "")
            known[2] += str(function.get("arguments") or "")

    def refusal(self) -> str | None:
        refusal = self._refusal(bool(self._calls))
        if refusal is None and any(not whole_object(arguments) for _, _, arguments in self._calls.values()):
            return "the answer holds a tool call cut in its arguments"
        return refusal

    def partial(self) -> Partial:
        calls = (ToolCall(*self._calls[index]) for index in sorted(self._calls))
        return Partial(self.text, tuple(calls))

    def begin(self, skip: str = "") -> None:
        super().begin(skip)
        self._offset = max(self._calls, default=-1) + 1

    def splice(self, event: bytes) -> list[bytes]:
        return self._spliced(event, self._choice)

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        delta = {key: value for key, value in (choice.get("delta") or {}).items() if key != "role"}
        if isinstance(delta.get("content"), str):
            delta["content"] = self._unsent(delta["content"])
        if delta.get("content") == "":
            del delta["content"]
        if self._offset and isinstance(delta.get("tool_calls"), list):
            delta["tool_calls"] = [
                {**call, "index": call.get("index", 0) + self._offset} for call in delta["tool_calls"]
            ]
        if not delta and choice.get("finish_reason") is None and choice.get("logprobs") is None:
            return None  # the continuation's opening: the client's stream opened already
        return {**choice, "delta": delta}


class CompletionsSplicer(_Choices):
    __slots__ = ("_base",)

    def __init__(self) -> None:
        super().__init__()
        self._base = 0  # the length of the text before the continuation's

    def begin(self, skip: str = "") -> None:
        super().begin(skip)
        self._base = len(self.text)

    def note(self, event: bytes) -> None:
        for choice in self._noted(event):
            self.text += str(choice.get("text") or "")

    def refusal(self) -> str | None:
        return self._refusal(False)

    def partial(self) -> Partial:
        return Partial(self.text)

    def splice(self, event: bytes) -> list[bytes]:
        return self._spliced(event, self._choice)

    def _choice(self, choice: dict[str, Any]) -> dict[str, Any] | None:
        text = self._unsent(str(choice.get("text") or ""))
        if not text and choice.get("finish_reason") is None:
            return None
        logprobs = choice.get("logprobs")
        if isinstance(logprobs, dict) and isinstance(logprobs.get("text_offset"), list):
            offsets = [offset + self._base for offset in logprobs["text_offset"] if type(offset) is int]
            logprobs = {**logprobs, "text_offset": offsets}
        return {**choice, "text": text, "logprobs": logprobs}


def _summed(before: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    if before is None:
        return usage
    summed = {**usage}
    for key in _COUNTS:
        summed[key] = _int(before.get(key)) + _int(usage.get(key))
    details, earlier = usage.get("prompt_tokens_details"), before.get("prompt_tokens_details")
    if isinstance(details, dict) or isinstance(earlier, dict):
        details, earlier = details or {}, earlier or {}
        summed["prompt_tokens_details"] = {
            **details,
            "cached_tokens": _int(details.get("cached_tokens")) + _int(earlier.get("cached_tokens")),
        }
    return summed


def _int(value: Any) -> int:
    return value if type(value) is int else 0
