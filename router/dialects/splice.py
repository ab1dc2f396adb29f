"""Splicing a continuation into the client's stream, in the client's dialect.

A ``Splicer`` reads every event the client receives (``note``): the answer so far (``partial``:
its text, and the tool calls it holds whole), its ids, its open block, the usage the broken call
reported, and whether it can be continued at all (``refusal``: thinking, a tool call cut in its
arguments, several choices, or an answer that had already ended cannot). A continuation's
events, translated into the client's dialect like the first call's, are then rewritten
(``splice``) as the rest of the same stream:

- messages: ``message_start`` and ``ping`` are dropped; when the text block was open at the
  break, the continuation's first text block is that block (its start dropped), and every index
  follows the client's; ``message_delta``'s usage adds the broken call's, input and output. A
  ``tool_use`` block whose input the client received whole (a complete JSON object) is closed
  by the splice if the break came before its ``content_block_stop``: the continuation's blocks
  follow it, and are never merged into it.
- chat and completions: ``router.dialects.splice_chat``; responses:
  ``router.dialects.splice_responses``; gemini: ``router.dialects.splice_gemini``.
"""

from __future__ import annotations

from typing import Any, Protocol

from router.dialects.continuation import Partial, ToolCall, skipped, whole_object
from router.dialects.splice_chat import ChatSplicer, CompletionsSplicer
from router.dialects.splice_gemini import GeminiSplicer
from router.dialects.splice_responses import ResponsesSplicer
from router.wire.dialect import Dialect
from router.wire.sse import named_event, read_event


class Splicer(Protocol):
    def note(self, event: bytes) -> None: ...

    def refusal(self) -> str | None:
        """Why the answer cannot be continued now (None: it can)."""
        ...

    def partial(self) -> Partial:
        """What the client received of the answer, for a continuation to go on from."""
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
    if dialect is Dialect.COMPLETIONS:
        return CompletionsSplicer()
    return None


_MESSAGES_COUNTS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class MessagesSplicer:
    __slots__ = (
        "_before",
        "_calls",
        "_close",
        "_input",
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
        self._open: tuple[int, dict[str, Any]] | None = None  # the client's open block: index, start
        self._input = ""  # the open tool_use block's input so far
        self._calls: list[ToolCall] = []  # the client's tool_use blocks, whole
        self._next = 0  # the index of the client's next block
        self._other: str | None = None
        self._stopped = False
        self._before: dict[str, int] = {}  # usage of the calls before this continuation, summed
        self._started: dict[str, int] = {}  # the current call's usage so far
        self._merge = False  # the continuation's first block continues the client's open text block
        self._close: int | None = None  # the client's tool_use block the splice closes first
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
            self._open, self._input = (index, block), ""
            self._next = index + 1
            kind = block.get("type")
            if kind == "text" and self._calls:
                self._other = "text after a tool call"
            elif kind not in ("text", "tool_use"):
                self._other = "thinking" if "thinking" in str(kind) else f"a {kind} block"
        elif kind == "content_block_delta":
            delta = payload.get("delta") or {}
            if delta.get("type") == "text_delta":
                self.text += str(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                self._input += str(delta.get("partial_json", ""))
        elif kind == "content_block_stop":
            call = self._open_call()
            if call is not None:
                self._calls.append(call)
            self._open = None
        elif kind == "message_delta":
            self._stopped = True

    def _open_call(self) -> ToolCall | None:
        """The open tool_use block as a call, if it is one (its input may be incomplete)."""
        if self._open is None or self._open[1].get("type") != "tool_use":
            return None
        block = self._open[1]
        return ToolCall(str(block.get("id", "")), str(block.get("name", "")), self._input or "{}")

    def refusal(self) -> str | None:
        if self._other is not None:
            return f"the answer holds {self._other}"
        if self._stopped:
            return "the answer had ended"
        if self._open_call() is not None and not whole_object(self._input):
            return "the answer holds a tool call cut in its arguments"
        return None if self.text or self._calls or self._open else "no text to continue"

    def partial(self) -> Partial:
        call = self._open_call()
        return Partial(self.text, (*self._calls, *([call] if call is not None else [])))

    def begin(self, skip: str = "") -> None:
        self._skip = skip
        self._before = _added(self._before, self._started)
        self._started = {}
        open_index = self._open[0] if self._open is not None else None
        self._merge = self._open is not None and self._open[1].get("type") == "text"
        self._close = open_index if self._open_call() is not None else None
        if self._close is not None:
            self._offset = self._close + 1  # the continuation's blocks follow the call it closes
        else:
            self._offset = open_index if open_index is not None else self._next

    def splice(self, event: bytes) -> list[bytes]:
        name, payload = read_event(event)
        if not isinstance(payload, dict):
            return [event]
        kind = payload.get("type")
        out: list[bytes] = []
        if self._close is not None:  # the client's tool_use block was whole: it ends before what follows
            out.append(
                named_event("content_block_stop", {"type": "content_block_stop", "index": self._close})
            )
            self._close = None
        if kind == "message_start":
            self._started = _counts((payload.get("message") or {}).get("usage"))
            return out
        if kind == "ping":
            return out
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
