"""Converting between a complete chat answer and its stream form, losing nothing either way.

``replay`` turns a stored ``chat.completion`` into the SSE events a streaming client
expects (for each choice its role, its whole message with its logprobs, its finish
reason; then usage on request; ``[DONE]``); ``StreamAssembler`` does the reverse, so a streamed answer can be
cached and shared. Whatever the answer carries travels: top-level fields (``id``,
``system_fingerprint``, ``service_tier``, a provider's extras), every message field
(content, refusal, tool calls, ``reasoning_content``...), each choice's logprobs, and the
usage with its details. Assembling follows the stream format's rule: text and lists
accumulate, tool calls merge by their index, anything else keeps its latest value.

The stream is the upstream's to shape, so assembling it is bounded (``MAX_CHOICES``
choices, ``MAX_TOOL_CALLS`` tool calls each, ``max_bytes`` of events in all) and never
raises: a stream past a bound or malformed (an index that is not a small non-negative
integer...) is dropped, with one warning, and its answer is simply not kept.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.answers.assembling import DEFAULT_MAX_BYTES, BoundedAssembler, Malformed
from router.wire.sse import DONE_EVENT, data_event, event_json

MAX_CHOICES = 128  # choices of one assembled answer (a request's ``n`` is far below)
MAX_TOOL_CALLS = 128  # tool calls of one choice

# Top-level fields that are not part of the envelope every chunk (or the answer) repeats.
_NOT_ENVELOPE = frozenset({"object", "choices", "usage", "obfuscation"})
# Choice fields handled on their own; any other (vLLM's ``stop_reason``...) is carried as is.
_CHOICE_OWN = frozenset({"index", "message", "delta", "logprobs", "finish_reason"})


def replay(answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a stream carrying ``answer`` (a ``chat.completion`` JSON object)."""
    completion = orjson.loads(answer)
    envelope = {name: value for name, value in completion.items() if name not in _NOT_ENVELOPE}
    envelope.setdefault("id", "chatcmpl-cached")
    envelope.setdefault("created", 0)
    envelope.setdefault("model", "")
    envelope["object"] = "chat.completion.chunk"
    events = []
    for choice in completion.get("choices", ()):
        index = choice.get("index", 0)
        delta: dict[str, Any] = {"content": None, **(choice.get("message") or {})}
        role = delta.pop("role", None) or "assistant"
        # The role first, on its own, as upstreams send it (the openai SDK counts a choice's
        # logprobs twice when its first chunk carries them).
        events.append(
            data_event(
                {**envelope, "choices": [{"index": index, "delta": {"role": role}, "finish_reason": None}]}
            )
        )
        if delta.get("tool_calls"):
            delta["tool_calls"] = [
                {"index": position, **call} for position, call in enumerate(delta["tool_calls"])
            ]
        body: dict[str, Any] = {"index": index, "delta": delta}
        if "logprobs" in choice:
            body["logprobs"] = choice["logprobs"]
        body["finish_reason"] = None
        events.append(data_event({**envelope, "choices": [body]}))
        finish = {"index": index, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}
        finish.update((name, value) for name, value in choice.items() if name not in _CHOICE_OWN)
        events.append(data_event({**envelope, "choices": [finish]}))
    if include_usage and completion.get("usage") is not None:
        events.append(data_event({**envelope, "choices": [], "usage": completion["usage"]}))
    events.append(DONE_EVENT)
    return events


class StreamAssembler(BoundedAssembler):
    """Builds the ``chat.completion`` a stream amounts to, event by event.

    ``feed`` never raises: a stream that cannot be assembled sets ``dropped`` (with one
    warning) and ``answer`` is then None; the stream itself is none the worse."""

    __slots__ = ("_choices", "_envelope", "_usage")

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes=max_bytes)
        self._envelope: dict[str, Any] = {}
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None

    def _forget(self) -> None:
        self._envelope, self._choices, self._usage = {}, {}, None

    def _feed(self, event: bytes) -> None:
        payload = event_json(event)
        if not isinstance(payload, dict):
            return
        _keep_latest(self._envelope, ((k, v) for k, v in payload.items() if k not in _NOT_ENVELOPE))
        if payload.get("usage"):
            self._usage = payload["usage"]
        for chunk in payload.get("choices") or ():
            if isinstance(chunk, dict):
                self._add(chunk)

    def _add(self, chunk: dict[str, Any]) -> None:
        index = chunk.get("index", 0)
        if type(index) is not int or index < 0:
            raise Malformed(f"a choice's index is {str(index)[:40]!r}")
        choice = self._choices.get(index)
        if choice is None:
            if len(self._choices) >= MAX_CHOICES:
                raise Malformed(f"the stream has more than {MAX_CHOICES} choices")
            message = {"role": "assistant", "content": None}
            choice = self._choices[index] = {"index": index, "message": message, "finish_reason": None}
        delta = chunk.get("delta")
        if isinstance(delta, dict):
            _merge_delta(choice["message"], delta)
        if "logprobs" in chunk:
            _merge_logprobs(choice, chunk["logprobs"])
        if chunk.get("finish_reason"):
            choice["finish_reason"] = chunk["finish_reason"]
        _keep_latest(choice, ((k, v) for k, v in chunk.items() if k not in _CHOICE_OWN))

    def answer(self) -> bytes | None:
        """The assembled answer, or None if the stream carried no choice or was dropped."""
        if self.dropped or not self._choices:
            return None
        completion: dict[str, Any] = {"id": "chatcmpl-assembled", "created": 0, "model": ""}
        completion.update(self._envelope)
        completion["object"] = "chat.completion"
        completion["choices"] = [self._choices[index] for index in sorted(self._choices)]
        if self._usage is not None:
            completion["usage"] = self._usage
        return orjson.dumps(completion)


def _keep_latest(target: dict[str, Any], fields: Any) -> None:
    """Each field's latest value; a null never hides a value seen before."""
    for name, value in fields:
        if value is not None or name not in target:
            target[name] = value


def _merge_delta(message: dict[str, Any], delta: dict[str, Any]) -> None:
    for name, value in delta.items():
        if name == "tool_calls":
            for call in value or ():
                if isinstance(call, dict):
                    _merge_tool_call(message.setdefault("tool_calls", []), call)
        elif name == "function_call" and isinstance(value, dict):  # the legacy single call
            _merge_pieces(message.setdefault("function_call", {}), value)
        elif name == "role":
            if value:
                message["role"] = value
        elif isinstance(value, str) and value:
            before = message.get(name)
            message[name] = before + value if isinstance(before, str) else value
        elif isinstance(value, list) and isinstance(message.get(name), list):
            message[name].extend(value)
        elif (value is not None and value != "") or name not in message:
            message[name] = value


def _merge_tool_call(calls: list[dict[str, Any]], call: dict[str, Any]) -> None:
    position = call.get("index", len(calls))
    if type(position) is not int or not 0 <= position <= len(calls):
        raise Malformed(f"a tool call's index is {str(position)[:40]!r} after {len(calls)} calls")
    if position == len(calls):
        if position >= MAX_TOOL_CALLS:
            raise Malformed(f"a choice has more than {MAX_TOOL_CALLS} tool calls")
        calls.append({})
    target = calls[position]
    for name, value in call.items():
        if name == "index":
            continue
        if isinstance(value, dict):  # ``function`` (or another tool type's body): pieces of text
            _merge_pieces(target.setdefault(name, {}), value)
        elif value is not None or name not in target:
            target[name] = value


def _merge_pieces(target: dict[str, Any], pieces: dict[str, Any]) -> None:
    for name, piece in pieces.items():
        before = target.get(name)
        if isinstance(piece, str) and isinstance(before, str):
            target[name] = before + piece
        elif piece is not None or name not in target:
            target[name] = piece


def _merge_logprobs(choice: dict[str, Any], logprobs: Any) -> None:
    """Each chunk's token logprobs (``content``, ``refusal``) add to the choice's."""
    current = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        choice.setdefault("logprobs", logprobs)
        return
    if not isinstance(current, dict):
        current = choice["logprobs"] = {}
    for name, tokens in logprobs.items():
        before = current.get(name)
        if isinstance(tokens, list) and isinstance(before, list):
            before.extend(tokens)
        elif tokens is not None or name not in current:
            current[name] = list(tokens) if isinstance(tokens, list) else tokens
