"""Chat chunks as a Gemini stream: ``ChatEventsToGemini``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from router.dialects.translate.chat_chunks import FromChatChunks
from router.dialects.translate.gemini.common import FINISH_FROM_CHAT, response_id_of, usage_from_chat
from router.dialects.translate.gemini.parts import call_to_part
from router.wire.errors import error_document
from router.wire.sse import data_event
from router.wire.values import as_dict, as_list


@dataclass
class ChatEventsToGemini(FromChatChunks):
    """Chat chunks as a Gemini stream: each chunk's text and thinking as a partial answer of
    its candidates, as it comes. A function call goes whole or not at all in Gemini, so the
    pieces of each tool call are gathered, and at ``[DONE]`` one last event carries the calls,
    every candidate's ``finishReason`` and the ``usageMetadata`` (chat's usage chunk comes
    after its finish chunk; the Gemini API's last event holds both)."""

    response_id: str = ""
    model: str = ""
    started: bool = False
    finished: bool = False
    usage: Any = None
    # choice index -> tool call index -> the call so far ({id, name, arguments})
    calls: dict[int, dict[int, dict[str, str]]] = field(default_factory=dict)
    finishes: dict[int, str] = field(default_factory=dict)
    thought: dict[int, bool] = field(default_factory=dict)  # thought text came since the last signature

    def _error(self, error: dict[str, Any]) -> list[bytes]:
        return [data_event(error_document(500, str(error.get("message", ""))))]

    def _chunk(self, data: dict[str, Any]) -> list[bytes]:
        if not self.started:
            self.started = True
            self.response_id = response_id_of(data.get("id"))
            self.model = str(data.get("model") or "")
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        candidates = []
        for position, choice in enumerate(as_list(data.get("choices"))):
            choice = as_dict(choice)
            index = choice["index"] if isinstance(choice.get("index"), int) else position
            parts = self._parts(index, as_dict(choice.get("delta")))
            if choice.get("finish_reason"):
                self.finishes[index] = FINISH_FROM_CHAT.get(str(choice["finish_reason"]), "STOP")
            if parts:
                candidates.append({"content": {"role": "model", "parts": parts}, "index": index})
        return [self._event({"candidates": candidates})] if candidates else []

    def _parts(self, index: int, delta: dict[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        reasoning = delta.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            parts.append({"text": reasoning, "thought": True})
            self.thought[index] = True
        for block in as_list(delta.get("thinking_blocks")):
            block = as_dict(block)
            signature = block.get("signature")
            if block.get("type") != "thinking" or not isinstance(signature, str) or not signature:
                continue
            # The block's text, unless it came as pieces already (then the signature alone).
            text = "" if self.thought.get(index) or reasoning else str(block.get("thinking") or "")
            parts.append({"text": text, "thought": True, "thoughtSignature": signature})
            self.thought[index] = False
        content = delta.get("content") or delta.get("refusal")
        if isinstance(content, str) and content:
            parts.append({"text": content})
        for call in as_list(delta.get("tool_calls")):
            self._gather(index, as_dict(call))
        return parts

    def _gather(self, index: int, call: dict[str, Any]) -> None:
        calls = self.calls.setdefault(index, {})
        position = call["index"] if isinstance(call.get("index"), int) else len(calls)
        gathered = calls.setdefault(position, {"id": "", "name": "", "arguments": ""})
        function = as_dict(call.get("function"))
        if isinstance(call.get("id"), str) and call["id"]:
            gathered["id"] = call["id"]
        if isinstance(function.get("name"), str) and function["name"]:
            gathered["name"] = function["name"]
        if isinstance(function.get("arguments"), str):
            gathered["arguments"] += function["arguments"]

    def _end(self) -> list[bytes]:
        self.finished = True
        candidates = []
        for index in sorted(set(self.finishes) | set(self.calls)):
            candidate: dict[str, Any] = {"finishReason": self.finishes.get(index, "STOP"), "index": index}
            calls = self.calls.get(index, {})
            parts = [
                call_to_part(
                    {"id": call["id"], "function": {"name": call["name"], "arguments": call["arguments"]}},
                    f"choices[{index}].delta.tool_calls[{position}]",
                )
                for position, call in sorted(calls.items())
            ]
            if parts:
                candidate = {"content": {"role": "model", "parts": parts}, **candidate}
            candidates.append(candidate)
        last: dict[str, Any] = {"candidates": candidates or [{"finishReason": "STOP", "index": 0}]}
        if isinstance(self.usage, dict):
            last["usageMetadata"] = usage_from_chat(self.usage)
        return [self._event(last)]

    def _event(self, document: dict[str, Any]) -> bytes:
        return data_event({**document, "modelVersion": self.model, "responseId": self.response_id})
