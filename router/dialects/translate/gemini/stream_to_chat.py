"""A Gemini stream (``streamGenerateContent?alt=sse``) as chat chunks: ``GeminiEventsToChat``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from router.dialects.translate.anthropic.common import json_text
from router.dialects.translate.gemini.answers import finish_to_chat
from router.dialects.translate.gemini.common import call_id, chat_id_of, parts_of, usage_to_chat
from router.dialects.translate.gemini.common import field as read
from router.wire.sse import DONE_EVENT, data_event, read_event
from router.wire.values import as_dict, as_list


@dataclass
class GeminiEventsToChat:
    """A Gemini stream as chat chunks, one per candidate an event speaks of.

    Every event is a partial answer; its ``usageMetadata``, when it has one, is the usage so
    far (so it replaces, never adds). Function calls come whole, each one a tool call chunk.
    The stream ends with the event whose candidates all carry a ``finishReason`` (the Gemini
    API's last, with the usage): then the finish chunks, the usage chunk and ``[DONE]``."""

    id: str = ""
    response_id: Any = None  # the first event's, which later ones repeat (or leave out)
    model: Any = None
    created: int = field(default_factory=lambda: int(time.time()))
    started: bool = False
    finished: bool = False
    usage: Any = None
    calls: dict[int, int] = field(default_factory=dict)  # candidate index -> its tool calls so far
    thoughts: dict[int, list[str]] = field(default_factory=dict)  # thought text since a signature
    signed: dict[int, int] = field(default_factory=dict)  # candidate index -> its signed blocks so far
    finishes: dict[int, str] = field(default_factory=dict)

    def feed(self, event: bytes) -> list[bytes]:
        if self.finished:
            return []
        _, data = read_event(event)
        if not isinstance(data, dict):
            return []  # a comment, or nothing
        if isinstance(data.get("error"), dict):
            self.finished = True
            error = data["error"]
            payload = {
                "message": str(error.get("message", "")),
                "type": str(error.get("status") or "api_error"),
            }
            return [data_event({"error": {**payload, "code": error.get("code"), "param": None}})]
        out: list[bytes] = []
        if not self.started:
            self.started = True
            self.response_id = read(data, "responseId")
            self.id = chat_id_of(self.response_id)
            self.model = read(data, "modelVersion")
            out.append(
                self._chunk(
                    [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
                )
            )
        if isinstance(read(data, "usageMetadata"), dict):
            self.usage = read(data, "usageMetadata")
        candidates = [as_dict(candidate) for candidate in as_list(data.get("candidates"))]
        for position, candidate in enumerate(candidates):
            index = candidate["index"] if isinstance(candidate.get("index"), int) else position
            delta = self._delta(index, parts_of(candidate.get("content")))
            if delta:
                out.append(self._chunk([{"index": index, "delta": delta, "finish_reason": None}]))
            reason = read(candidate, "finishReason")
            if reason is not None:
                self.finishes[index] = finish_to_chat(reason, self.calls.get(index, 0) > 0)
        if candidates and all(read(candidate, "finishReason") is not None for candidate in candidates):
            out += self._end()
        return out

    def _delta(self, index: int, parts: list[dict[str, Any]]) -> dict[str, Any]:
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        blocks: list[dict[str, Any]] = []
        for part in parts:
            text = part.get("text")
            call = read(part, "functionCall")
            if isinstance(call, dict):
                position = self.calls.get(index, 0)
                self.calls[index] = position + 1
                own = call.get("id")
                calls.append(
                    {
                        "index": position,
                        "id": own
                        if isinstance(own, str) and own
                        else call_id(self.response_id, index, position),
                        "type": "function",
                        "function": {
                            "name": str(call.get("name", "")),
                            "arguments": json_text(call.get("args") or {}),
                        },
                    }
                )
            elif isinstance(text, str) and part.get("thought") is True:
                if text:
                    reasoning.append(text)
                    self.thoughts.setdefault(index, []).append(text)
                signature = read(part, "thoughtSignature")
                if isinstance(signature, str) and signature:
                    blocks.append(self._signed_block(index, signature))
            elif isinstance(text, str) and text:
                texts.append(text)
        delta: dict[str, Any] = {}
        if reasoning:
            delta["reasoning_content"] = "".join(reasoning)
        if blocks:
            delta["thinking_blocks"] = blocks
        if texts:
            delta["content"] = "".join(texts)
        if calls:
            delta["tool_calls"] = calls
        return delta

    def _signed_block(self, index: int, signature: str) -> dict[str, Any]:
        """The signed block a signature closes, with its whole thought text (as the Messages
        translation sends a signature), numbered among the candidate's signed blocks."""
        position = self.signed.get(index, 0)
        self.signed[index] = position + 1
        thinking = "".join(self.thoughts.pop(index, ()))
        return {"type": "thinking", "thinking": thinking, "signature": signature, "index": position}

    def _chunk(self, choices: list[dict[str, Any]]) -> bytes:
        return data_event(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
            }
        )

    def _end(self) -> list[bytes]:
        self.finished = True
        out = [
            self._chunk([{"index": index, "delta": {}, "finish_reason": finish}])
            for index, finish in sorted(self.finishes.items())
        ]
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_to_chat(self.usage),
        }
        return [*out, data_event(chunk), DONE_EVENT]
