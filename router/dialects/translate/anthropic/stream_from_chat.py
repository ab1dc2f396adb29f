"""Chat chunks as an Anthropic Messages stream: ``ChatEventsToMessages``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.dialects.translate.anthropic.common import FINISH_TO_STOP, message_id_of, usage_to_messages
from router.dialects.translate.chat_chunks import FromChatChunks
from router.wire.errors import anthropic_type
from router.wire.sse import named_event
from router.wire.values import as_dict, as_list


@dataclass
class ChatEventsToMessages(FromChatChunks):
    """Chat chunks as an Anthropic Messages stream.

    One block is open at a time: a text block, a thinking block (reasoning pieces, closed by
    its signature), or a tool_use block per tool call index; opening another closes the open
    one, so thinking never lands inside a text block. ``message_delta`` waits for ``[DONE]``
    because the usage chunk comes after the finish chunk."""

    started: bool = False
    finished: bool = False
    block_count: int = 0
    open_kind: str | None = None  # "text", "thinking", "redacted", "tool"
    open_tool: int | None = None  # the chat index of the open tool_use block
    seen_tools: set[int] = field(default_factory=set)
    tool_ids: dict[str, int] = field(default_factory=dict)  # for upstreams that omit ``index``
    signed: bool = False  # the open thinking block got its signature
    thought: bool = False  # the open thinking block got text
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)

    def _chunk(self, data: dict[str, Any]) -> list[bytes]:
        out = [] if self.started else self._start(data)
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        for choice in as_list(data.get("choices"))[:1]:
            choice = as_dict(choice)
            out.extend(self._delta(as_dict(choice.get("delta"))))
            if choice.get("finish_reason"):
                self.finish_reason = str(choice["finish_reason"])
                out.extend(self._close())
        return out

    def _start(self, chunk: dict[str, Any]) -> list[bytes]:
        self.started = True
        message: dict[str, Any] = {
            "id": message_id_of(chunk.get("id")),
            "type": "message",
            "role": "assistant",
            "model": chunk.get("model") or "",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [named_event("message_start", {"type": "message_start", "message": message})]

    def _delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        reasoning = delta.get("reasoning_content")
        has_reasoning = isinstance(reasoning, str) and bool(reasoning)
        if has_reasoning:
            out += self._thinking_text(str(reasoning))
        for block in as_list(delta.get("thinking_blocks")):
            out += self._thinking_block(as_dict(block), has_reasoning)
        text = delta.get("content") or delta.get("refusal")
        if isinstance(text, str) and text:
            if self.open_kind != "text":
                out += self._open({"type": "text", "text": ""}, "text")
            out.append(self._block_delta({"type": "text_delta", "text": text}))
        for call in as_list(delta.get("tool_calls")):
            out += self._tool_call(as_dict(call))
        return out

    def _thinking_text(self, text: str) -> list[bytes]:
        """A piece of thinking, in the open thinking block unless its signature closed it."""
        out: list[bytes] = []
        if self.open_kind != "thinking" or self.signed:
            out += self._open({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
        out.append(self._block_delta({"type": "thinking_delta", "thinking": text}))
        self.thought = True
        return out

    def _thinking_block(self, block: dict[str, Any], has_reasoning: bool) -> list[bytes]:
        """A signature ends the open thinking block; a redacted block is a whole block. The
        block's own text counts only when the delta had no ``reasoning_content`` (litellm
        repeats each piece in both), and a signature's block only when its text did not come
        as pieces already (``MessagesEventsToChat`` sends the whole text with the signature)."""
        out: list[bytes] = []
        if block.get("type") == "redacted_thinking":
            out += self._open({"type": "redacted_thinking", "data": str(block.get("data", ""))}, "redacted")
            out += self._close()
        elif block.get("type") == "thinking":
            thinking = block.get("thinking")
            closing = self.open_kind == "thinking" and not self.signed and bool(block.get("signature"))
            if (
                isinstance(thinking, str)
                and thinking
                and not has_reasoning
                and not (closing and self.thought)
            ):
                out += self._thinking_text(thinking)
            if block.get("signature"):
                if self.open_kind != "thinking" or self.signed:
                    out += self._open({"type": "thinking", "thinking": "", "signature": ""}, "thinking")
                signature = str(block["signature"])
                out.append(self._block_delta({"type": "signature_delta", "signature": signature}))
                self.signed = True
        return out

    def _tool_call(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        index = self._tool_index(call)
        function = as_dict(call.get("function"))
        if index not in self.seen_tools:
            self.seen_tools.add(index)
            block = {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            out += self._open(block, "tool")
            self.open_tool = index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments and self.open_kind == "tool" and self.open_tool == index:
            out.append(self._block_delta({"type": "input_json_delta", "partial_json": arguments}))
        return out

    def _tool_index(self, call: dict[str, Any]) -> int:
        """The call's ``index``; an upstream that leaves it out (some OpenAI-compatible
        servers) tells a new call by a new ``id``."""
        if isinstance(call.get("index"), int):
            return int(call["index"])
        call_id = call.get("id")
        if isinstance(call_id, str) and call_id and call_id not in self.tool_ids:
            self.tool_ids[call_id] = len(self.tool_ids)
            return self.tool_ids[call_id]
        return self.open_tool if self.open_tool is not None else max(self.seen_tools, default=0)

    def _open(self, block: dict[str, Any], kind: str) -> list[bytes]:
        out = self._close()
        self.open_kind = kind
        self.signed = False
        self.thought = False
        start = {"type": "content_block_start", "index": self.block_count, "content_block": block}
        return [*out, named_event("content_block_start", start)]

    def _close(self) -> list[bytes]:
        if self.open_kind is None:
            return []
        self.open_kind = None
        self.open_tool = None
        self.block_count += 1
        stop = {"type": "content_block_stop", "index": self.block_count - 1}
        return [named_event("content_block_stop", stop)]

    def _block_delta(self, delta: dict[str, Any]) -> bytes:
        payload = {"type": "content_block_delta", "index": self.block_count, "delta": delta}
        return named_event("content_block_delta", payload)

    def _end(self) -> list[bytes]:
        out = [] if self.started else self._start({})
        out += self._close()
        self.finished = True
        delta = {
            "stop_reason": FINISH_TO_STOP.get(str(self.finish_reason), "end_turn"),
            "stop_sequence": None,
        }
        message_delta = {"type": "message_delta", "delta": delta, "usage": usage_to_messages(self.usage)}
        return [
            *out,
            named_event("message_delta", message_delta),
            named_event("message_stop", {"type": "message_stop"}),
        ]

    def _error(self, error: dict[str, Any]) -> list[bytes]:
        kind = anthropic_type(error.get("type"))
        payload = {"type": "error", "error": {"type": kind, "message": str(error.get("message", ""))}}
        return [named_event("error", payload)]
