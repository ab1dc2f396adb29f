"""Converting between a complete chat answer and its stream form.

``replay`` turns a stored ``chat.completion`` into the SSE events a streaming client
expects (role, content, tool calls, finish reason, usage on request, ``[DONE]``);
``StreamAssembler`` does the reverse, so a streamed answer can be cached and shared.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.sse import DONE_EVENT, event_json


def _event(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def replay(answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a stream carrying ``answer`` (a ``chat.completion`` JSON object)."""
    completion = orjson.loads(answer)
    envelope = {
        "id": completion.get("id", "chatcmpl-cached"),
        "object": "chat.completion.chunk",
        "created": completion.get("created", 0),
        "model": completion.get("model", ""),
    }
    if "system_fingerprint" in completion:
        envelope["system_fingerprint"] = completion["system_fingerprint"]
    events = []
    for choice in completion.get("choices", ()):
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        delta: dict[str, Any] = {"role": message.get("role", "assistant"), "content": message.get("content")}
        if message.get("tool_calls"):
            delta["tool_calls"] = [
                {**call, "index": position} for position, call in enumerate(message["tool_calls"])
            ]
        if message.get("refusal"):
            delta["refusal"] = message["refusal"]
        events.append(
            _event({**envelope, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        )
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}
        events.append(_event({**envelope, "choices": [finish]}))
    if include_usage and completion.get("usage") is not None:
        events.append(_event({**envelope, "choices": [], "usage": completion["usage"]}))
    events.append(DONE_EVENT)
    return events


class StreamAssembler:
    """Builds the ``chat.completion`` a stream amounts to, event by event."""

    __slots__ = ("_choices", "_envelope", "_usage")

    def __init__(self) -> None:
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None

    def feed(self, event: bytes) -> None:
        payload = event_json(event)
        if not isinstance(payload, dict):
            return
        if not self._envelope:
            self._envelope = {
                name: payload[name]
                for name in ("id", "created", "model", "system_fingerprint")
                if name in payload
            }
        if payload.get("usage"):
            self._usage = payload["usage"]
        for chunk in payload.get("choices") or ():
            if isinstance(chunk, dict):
                self._add(chunk)

    def _add(self, chunk: dict[str, Any]) -> None:
        index = chunk.get("index", 0)
        choice = self._choices.setdefault(
            index, {"index": index, "message": {"role": "assistant", "content": None}, "finish_reason": None}
        )
        message = choice["message"]
        delta = chunk.get("delta") or {}
        if delta.get("role"):
            message["role"] = delta["role"]
        for text_field in ("content", "refusal"):
            if delta.get(text_field):
                message[text_field] = (message.get(text_field) or "") + delta[text_field]
        for call in delta.get("tool_calls") or ():
            self._add_tool_call(message, call)
        if chunk.get("finish_reason"):
            choice["finish_reason"] = chunk["finish_reason"]

    @staticmethod
    def _add_tool_call(message: dict[str, Any], call: dict[str, Any]) -> None:
        calls: list[dict[str, Any]] = message.setdefault("tool_calls", [])
        position = call.get("index", len(calls))
        while len(calls) <= position:
            calls.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        target = calls[position]
        if call.get("id"):
            target["id"] = call["id"]
        function = call.get("function") or {}
        target["function"]["name"] += function.get("name") or ""
        target["function"]["arguments"] += function.get("arguments") or ""

    def answer(self) -> bytes | None:
        """The assembled answer, or None if the stream carried no choice."""
        if not self._choices:
            return None
        completion: dict[str, Any] = {
            "id": self._envelope.get("id", "chatcmpl-assembled"),
            "object": "chat.completion",
            "created": self._envelope.get("created", 0),
            "model": self._envelope.get("model", ""),
            "choices": [self._choices[index] for index in sorted(self._choices)],
        }
        if "system_fingerprint" in self._envelope:
            completion["system_fingerprint"] = self._envelope["system_fingerprint"]
        if self._usage is not None:
            completion["usage"] = self._usage
        return orjson.dumps(completion)
