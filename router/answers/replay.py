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

from router.answers.assembling import ChoicesAssembler, Malformed, add_entries, keep_latest
from router.wire.sse import DONE_EVENT, data_event

MAX_TOOL_CALLS = 128  # tool calls of one choice

# Top-level fields that are not part of the envelope every chunk (or the answer) repeats.
_NOT_ENVELOPE = frozenset({"object", "choices", "usage", "obfuscation"})
# Choice fields handled on their own; any other (vLLM's ``stop_reason``...) is carried as is.
_CHOICE_OWN = frozenset({"index", "message", "delta", "logprobs", "finish_reason"})


def replay(answer: bytes, *, include_usage: bool) -> list[bytes]:
    """The SSE events of a stream carrying ``answer`` (a ``chat.completion`` JSON object)."""
    completion = orjson.loads(answer)
    envelope = stream_envelope(completion, _NOT_ENVELOPE, "chatcmpl-cached", "chat.completion.chunk")
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
    return events + usage_and_done(envelope, completion, include_usage=include_usage)


def stream_envelope(
    completion: dict[str, Any], not_envelope: frozenset[str], cached_id: str, chunk_object: str
) -> dict[str, Any]:
    """The fields every chunk of ``completion``'s stream repeats (``cached_id`` if it has no id)."""
    envelope = {name: value for name, value in completion.items() if name not in not_envelope}
    envelope.setdefault("id", cached_id)
    envelope.setdefault("created", 0)
    envelope.setdefault("model", "")
    envelope["object"] = chunk_object
    return envelope


def usage_and_done(
    envelope: dict[str, Any], completion: dict[str, Any], *, include_usage: bool
) -> list[bytes]:
    """The last events of ``completion``'s stream: its usage chunk on request, then ``[DONE]``."""
    events = []
    if include_usage and completion.get("usage") is not None:
        events.append(data_event({**envelope, "choices": [], "usage": completion["usage"]}))
    events.append(DONE_EVENT)
    return events


class StreamAssembler(ChoicesAssembler):
    """Builds the ``chat.completion`` a stream amounts to, event by event (``feed`` never raises)."""

    __slots__ = ()

    not_envelope = _NOT_ENVELOPE
    assembled_id = "chatcmpl-assembled"
    answer_object = "chat.completion"

    def _new_choice(self, index: int) -> dict[str, Any]:
        return {"index": index, "message": {"role": "assistant", "content": None}, "finish_reason": None}

    def _add(self, choice: dict[str, Any], chunk: dict[str, Any]) -> None:
        delta = chunk.get("delta")
        if isinstance(delta, dict):
            _merge_delta(choice["message"], delta)
        if "logprobs" in chunk:
            _merge_logprobs(choice, chunk["logprobs"])
        if chunk.get("finish_reason"):
            choice["finish_reason"] = chunk["finish_reason"]
        keep_latest(choice, ((k, v) for k, v in chunk.items() if k not in _CHOICE_OWN))


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
    add_entries(current, logprobs)
