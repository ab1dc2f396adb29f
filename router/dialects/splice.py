"""Splicing a continuation into the client's stream, in the client's dialect.

A ``Splicer`` reads every event the client receives (``note``): the answer's text so far, its
ids, its open block, the usage the broken call reported, and whether it can be continued at all
(``refusal``: a tool call, thinking, several choices, or an answer that had already ended cannot).
A continuation's events, translated into the client's dialect like the first call's, are then
rewritten (``splice``) as the rest of the same stream:

- chat: its opening chunk (the role) is dropped; every chunk carries the first call's ``id``,
  ``created``, ``model`` and ``system_fingerprint``; the usage chunk adds the broken call's.
- messages: ``message_start`` and ``ping`` are dropped; when the text block was open at the
  break, the continuation's first text block is that block (its start dropped), and every index
  follows the client's; ``message_delta``'s usage adds the broken call's, input and output.

- responses: ``router.dialects.splice_responses``; gemini: ``router.dialects.splice_gemini``.

Legacy completions has no splicer yet (``splicer_for`` is None): its streams are not resumed.
"""

from __future__ import annotations

from typing import Any, Protocol

from router.dialects.continuation import skipped
from router.dialects.splice_gemini import GeminiSplicer
from router.dialects.splice_responses import ResponsesSplicer
from router.wire.dialect import Dialect
from router.wire.sse import data_event, named_event, read_event


class Splicer(Protocol):
    text: str  # what the client received of the answer's text

    def note(self, event: bytes) -> None: ...

    def refusal(self) -> str | None:
        """Why the answer cannot be continued now (None: it can)."""
        ...

    def begin(self, skip: str = "") -> None:
        """A continuation starts: its events follow. ``skip``: the end of the text it was not sent
        (a prefill's trailing whitespace, which Anthropic refuses), dropped from the start of its
        text as far as it repeats it."""
        ...

    def splice(self, event: bytes) -> list[bytes]: ...


def splicer_for(dialect: Dialect) -> Splicer | None:
    if dialect is Dialect.CHAT:
        return ChatSplicer()
    if dialect is Dialect.MESSAGES:
        return MessagesSplicer()
    if dialect is Dialect.RESPONSES:
        return ResponsesSplicer()
    if dialect is Dialect.GEMINI:
        return GeminiSplicer()
    return None


_IDENTITY = ("id", "created", "model", "system_fingerprint")
_CHAT_COUNTS = ("prompt_tokens", "completion_tokens", "total_tokens")


class ChatSplicer:
    __slots__ = ("_identity", "_other", "_skip", "_stopped", "_usage", "text")

    def __init__(self) -> None:
        self.text = ""
        self._identity: dict[str, Any] = {}
        self._other: str | None = None  # what the answer holds besides text, if anything
        self._stopped = False
        self._usage: dict[str, Any] | None = None  # the broken calls' usage, as they reported it
        self._skip = ""

    def note(self, event: bytes) -> None:
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return
        if not self._identity:
            self._identity = {key: chunk[key] for key in _IDENTITY if key in chunk}
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        choices = chunk.get("choices") or []
        for choice in choices:
            if not isinstance(choice, dict):
                continue
            if choice.get("index", 0) != 0:
                self._other = "several choices"
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.text += delta["content"]
            if delta.get("tool_calls"):
                self._other = "a tool call"
            elif delta.get("reasoning_content") or delta.get("reasoning"):
                self._other = "thinking"
            elif delta.get("refusal"):
                self._other = "a refusal"
            if choice.get("finish_reason") is not None:
                self._stopped = True

    def refusal(self) -> str | None:
        if self._other is not None:
            return f"the answer holds {self._other}"
        if self._stopped:
            return "the answer had ended"
        return None if self.text else "no text to continue"

    def begin(self, skip: str = "") -> None:
        self._skip = skip

    def splice(self, event: bytes) -> list[bytes]:
        _name, chunk = read_event(event)
        if not isinstance(chunk, dict):
            return [event]  # [DONE]
        chunk = {**chunk, **{key: value for key, value in self._identity.items() if key in chunk}}
        kept = []
        for choice in chunk.get("choices") or []:
            delta = {key: value for key, value in (choice.get("delta") or {}).items() if key != "role"}
            if self._skip and isinstance(delta.get("content"), str):
                self._skip, delta["content"] = skipped(self._skip, delta["content"])
            if delta.get("content") == "":
                del delta["content"]
            if not delta and choice.get("finish_reason") is None and choice.get("logprobs") is None:
                continue  # the continuation's opening: the client's stream opened already
            kept.append({**choice, "delta": delta})
        usage = chunk.get("usage")
        if not kept and not isinstance(usage, dict):
            return []
        chunk["choices"] = kept
        if isinstance(usage, dict):
            chunk["usage"] = _chat_sum(self._usage, usage)
        return [data_event(chunk)]


def _chat_sum(before: dict[str, Any] | None, usage: dict[str, Any]) -> dict[str, Any]:
    if before is None:
        return usage
    summed = {**usage}
    for key in _CHAT_COUNTS:
        summed[key] = _int(before.get(key)) + _int(usage.get(key))
    details, earlier = usage.get("prompt_tokens_details"), before.get("prompt_tokens_details")
    if isinstance(details, dict) or isinstance(earlier, dict):
        details, earlier = details or {}, earlier or {}
        summed["prompt_tokens_details"] = {
            **details,
            "cached_tokens": _int(details.get("cached_tokens")) + _int(earlier.get("cached_tokens")),
        }
    return summed


_MESSAGES_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class MessagesSplicer:
    __slots__ = (
        "_before",
        "_merge",
        "_next",
        "_offset",
        "_open",
        "_other",
        "_skip",
        "_started",
        "_stopped",
        "text",
    )

    def __init__(self) -> None:
        self.text = ""
        self._open: tuple[int, str] | None = None  # the client's open block: index, type
        self._next = 0  # the index of the client's next block
        self._other: str | None = None
        self._stopped = False
        self._before: dict[str, int] = {}  # usage of the calls before this continuation, summed
        self._started: dict[str, int] = {}  # the current call's usage so far
        self._merge = False  # the continuation's first block continues the client's open text block
        self._offset = 0  # added to the continuation's block indexes
        self._skip = ""

    def note(self, event: bytes) -> None:
        _name, payload = read_event(event)
        if not isinstance(payload, dict):
            return
        kind = payload.get("type")
        if kind == "message_start":
            message = payload.get("message") or {}
            self._started = _counts(message.get("usage"))
        elif kind == "content_block_start":
            index, block = payload.get("index", 0), payload.get("content_block") or {}
            self._open = (index, str(block.get("type")))
            self._next = index + 1
            if block.get("type") != "text":
                self._other = "a tool call" if "tool" in str(block.get("type")) else "thinking"
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                self.text += str(delta.get("text", ""))
        elif kind == "content_block_stop":
            self._open = None
        elif kind == "message_delta":
            self._stopped = True

    def refusal(self) -> str | None:
        if self._other is not None:
            return f"the answer holds {self._other}"
        if self._stopped:
            return "the answer had ended"
        return None if self.text else "no text to continue"

    def begin(self, skip: str = "") -> None:
        self._skip = skip
        self._before = _added(self._before, self._started)
        self._started = {}
        self._merge = self._open is not None
        self._offset = self._open[0] if self._open is not None else self._next

    def splice(self, event: bytes) -> list[bytes]:
        name, payload = read_event(event)
        if not isinstance(payload, dict):
            return [event]
        kind = payload.get("type")
        if kind == "message_start":
            self._started = _counts((payload.get("message") or {}).get("usage"))
            return []
        if kind == "ping":
            return []
        out: list[bytes] = []
        if kind == "content_block_start" and payload.get("index") == 0 and self._merge:
            block = payload.get("content_block") or {}
            if block.get("type") == "text" and not block.get("text"):
                return []  # the client's open text block goes on
            # The continuation opened another kind of block: the client's text block ends first.
            out.append(
                named_event("content_block_stop", {"type": "content_block_stop", "index": self._offset})
            )
            self._offset += 1
            self._merge = False
        if "index" in payload:
            payload = {**payload, "index": payload["index"] + self._offset}
        delta = payload.get("delta")
        if self._skip and kind == "content_block_delta" and isinstance(delta, dict) and "text" in delta:
            self._skip, text = skipped(self._skip, str(delta["text"]))
            if not text:
                return out
            payload["delta"] = {**delta, "text": text}
        if kind == "message_delta":
            usage = _counts(payload.get("usage"))
            self._started = {**self._started, **usage}
            payload = {
                **payload,
                "usage": {**(payload.get("usage") or {}), **_added(self._before, self._started)},
            }
        out.append(named_event(name or str(kind), payload))
        return out


def _counts(usage: Any) -> dict[str, int]:
    if not isinstance(usage, dict):
        return {}
    return {key: usage[key] for key in _MESSAGES_COUNTS if type(usage.get(key)) is int}


def _added(one: dict[str, int], other: dict[str, int]) -> dict[str, int]:
    return {
        key: one.get(key, 0) + other.get(key, 0) for key in _MESSAGES_COUNTS if key in one or key in other
    }


def _int(value: Any) -> int:
    return value if type(value) is int else 0
