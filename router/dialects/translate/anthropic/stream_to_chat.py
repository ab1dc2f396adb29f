"""An Anthropic Messages stream as chat chunks: ``MessagesEventsToChat``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from router.dialects.translate.anthropic.common import STOP_TO_FINISH, chat_id_of, json_text, usage_to_chat
from router.wire.sse import DONE_EVENT, data_event, read_event
from router.wire.values import as_dict, as_int


@dataclass
class MessagesEventsToChat:
    """An Anthropic Messages stream as chat chunks.

    Input tokens come from ``message_start``; output tokens from ``message_delta``, whose
    usage is cumulative (so it replaces, never adds)."""

    id: str = ""
    model: Any = None
    created: int = field(default_factory=lambda: int(time.time()))
    usage: dict[str, Any] = field(default_factory=dict)
    # Anthropic block index -> position among the tool calls / among the thinking blocks.
    tool_positions: dict[int, int] = field(default_factory=dict)
    thinking_positions: dict[int, int] = field(default_factory=dict)
    thinking_count: int = 0
    # Anthropic block index -> its thinking so far, which its signature's chunk carries whole.
    thinking_texts: dict[int, list[str]] = field(default_factory=dict)
    # Anthropic block indexes of the tool calls that have not sent any arguments yet.
    tools_without_arguments: set[int] = field(default_factory=set)
    finish_sent: bool = False
    finished: bool = False

    def feed(self, event: bytes) -> list[bytes]:
        if self.finished:
            return []
        name, data = read_event(event)
        data = as_dict(data)
        kind = data.get("type", name)
        if kind == "message_start":
            return self._start(as_dict(data.get("message")))
        if kind == "content_block_start":
            return self._block_start(as_int(data.get("index")), as_dict(data.get("content_block")))
        if kind == "content_block_delta":
            return self._block_delta(as_int(data.get("index")), as_dict(data.get("delta")))
        if kind == "content_block_stop":
            return self._settle_arguments([as_int(data.get("index"))])
        if kind == "message_delta":
            return self._settle_arguments(sorted(self.tools_without_arguments)) + self._message_delta(data)
        if kind == "message_stop":
            out = self._settle_arguments(sorted(self.tools_without_arguments))
            # A stop without a stop_reason still needs a finish chunk for a well-formed stream.
            out += [] if self.finish_sent else self._delta({}, "stop")
            self.finished = True
            return [*out, data_event({**self._chunk([]), "usage": usage_to_chat(self.usage)}), DONE_EVENT]
        if kind == "error":
            self.finished = True
            error = as_dict(data.get("error"))
            payload = {"message": error.get("message", ""), "type": error.get("type", "api_error")}
            return [data_event({"error": {**payload, "code": None, "param": None}})]
        return []  # ping, unknown

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def _delta(self, delta: dict[str, Any], finish_reason: str | None = None) -> list[bytes]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return [data_event(self._chunk([choice]))]

    def _start(self, message: dict[str, Any]) -> list[bytes]:
        self.id = chat_id_of(message.get("id"))
        self.model = message.get("model")
        self.usage = dict(as_dict(message.get("usage")))
        return self._delta({"role": "assistant", "content": "", "refusal": None})

    def _block_start(self, index: int, block: dict[str, Any]) -> list[bytes]:
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return self._delta({"content": block["text"]})
        if kind == "tool_use":
            position = self.tool_positions[index] = len(self.tool_positions)
            # Anthropic starts with an empty input and sends it as deltas; a proxy may not.
            start_input = block.get("input")
            arguments = json_text(start_input) if isinstance(start_input, dict) and start_input else ""
            if not arguments:
                self.tools_without_arguments.add(index)
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": arguments},
            }
            return self._delta({"tool_calls": [call]})
        if kind == "thinking":
            self.thinking_positions[index] = self._next_thinking()
            self.thinking_texts[index] = []
            if block.get("thinking"):
                self.thinking_texts[index].append(str(block["thinking"]))
                return self._delta({"reasoning_content": block["thinking"]})
        if kind == "redacted_thinking":
            redacted = {
                "type": "redacted_thinking",
                "data": block.get("data", ""),
                "index": self._next_thinking(),
            }
            return self._delta({"thinking_blocks": [redacted]})
        return []

    def _next_thinking(self) -> int:
        self.thinking_count += 1
        return self.thinking_count - 1

    def _block_delta(self, index: int, delta: dict[str, Any]) -> list[bytes]:
        kind = delta.get("type")
        if kind == "text_delta":
            return self._delta({"content": delta.get("text", "")})
        if kind == "input_json_delta" and index in self.tool_positions:
            arguments = delta.get("partial_json", "")
            if not arguments:  # Anthropic opens every input with an empty piece
                return []
            self.tools_without_arguments.discard(index)
            return self._arguments(index, arguments)
        if kind == "thinking_delta":
            piece = delta.get("thinking", "")
            self.thinking_texts.setdefault(index, []).append(str(piece))
            return self._delta({"reasoning_content": piece})
        if kind == "signature_delta":
            signed = {
                "type": "thinking",
                "thinking": "".join(self.thinking_texts.get(index, ())),
                "signature": delta.get("signature", ""),
                "index": self.thinking_positions.get(index, 0),
            }
            return self._delta({"thinking_blocks": [signed]})
        return []  # citations_delta and unknown deltas

    def _arguments(self, index: int, arguments: str) -> list[bytes]:
        piece = {"index": self.tool_positions[index], "function": {"arguments": arguments}}
        return self._delta({"tool_calls": [piece]})

    def _settle_arguments(self, indexes: list[int]) -> list[bytes]:
        """A tool call whose block ends without arguments takes none: ``{}``, as in a whole answer."""
        out: list[bytes] = []
        for index in indexes:
            if index in self.tools_without_arguments:
                self.tools_without_arguments.discard(index)
                out += self._arguments(index, "{}")
        return out

    def _message_delta(self, data: dict[str, Any]) -> list[bytes]:
        for key, value in as_dict(data.get("usage")).items():
            if value is not None:
                self.usage[key] = value
        stop_reason = as_dict(data.get("delta")).get("stop_reason")
        if stop_reason is None or self.finish_sent:
            return []
        self.finish_sent = True
        return self._delta({}, STOP_TO_FINISH.get(str(stop_reason), "stop"))
