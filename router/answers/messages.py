"""A Messages answer and its stream form, converted into each other exactly, without chat between.

Chat's pivot cannot say everything a Messages answer holds (which stop sequence ended it,
server tool blocks, citations, ``stop_details``...), so a cached Messages answer is replayed
(``replay_message``) and a Messages stream assembled (``MessageAssembler``) in Anthropic's own
grammar: ``message_start`` with the message but its content and stop, per block
``content_block_start`` (the block emptied of what its deltas carry), its deltas and
``content_block_stop``, then ``message_delta`` with the stop and the usage, and
``message_stop``. Assembling follows the anthropic SDK's accumulator: text, thinking and
citations add up, a signature replaces, a tool input is the JSON its pieces make, and
``message_delta`` overwrites the stop and the usage counts it carries (they are cumulative).

As chat's ``StreamAssembler``, assembling is bounded (``MAX_BLOCKS`` blocks, ``max_bytes`` of
events) and never raises: a stream past a bound or malformed is dropped with one warning and
its answer is not kept.
"""

from __future__ import annotations

from typing import Any

import orjson

from router.answers.assembling import DEFAULT_MAX_BYTES, BoundedAssembler, Malformed
from router.wire.sse import named_event, read_event

MAX_BLOCKS = 1024  # content blocks of one assembled answer

# Blocks whose input streams as JSON pieces (the anthropic SDK's ``TRACKS_TOOL_INPUT``); any
# other block that is not text or thinking comes whole in its ``content_block_start``.
_TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use"})
# What a message_delta says of the message; the rest is message_start's.
_STOP_FIELDS = ("stop_reason", "stop_sequence", "stop_details")
# The usage counts a message_delta carries (Anthropic's ``MessageDeltaUsage``).
_DELTA_USAGE = (
    "input_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "output_tokens",
    "output_tokens_details",
    "server_tool_use",
)


def replay_message(answer: bytes) -> list[bytes]:
    """The events of a Messages stream carrying ``answer`` (a Messages JSON object)."""
    message: dict[str, Any] = orjson.loads(answer)
    opening = {name: value for name, value in message.items() if name not in _STOP_FIELDS}
    opening.update(content=[], stop_reason=None, stop_sequence=None)
    events = [named_event("message_start", {"type": "message_start", "message": opening})]
    for index, block in enumerate(message.get("content") or ()):
        start, deltas = _block_events(block)
        events.append(_event("content_block_start", index=index, content_block=start))
        events += [_event("content_block_delta", index=index, delta=delta) for delta in deltas]
        events.append(_event("content_block_stop", index=index))
    delta = {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")}
    if "stop_details" in message:
        delta["stop_details"] = message["stop_details"]
    usage = message.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    counts = {name: usage[name] for name in _DELTA_USAGE if name in usage}
    counts.setdefault("output_tokens", 0)
    events.append(_event("message_delta", delta=delta, usage=counts))
    events.append(_event("message_stop"))
    return events


def _event(kind: str, **fields: Any) -> bytes:
    return named_event(kind, {"type": kind, **fields})


def _block_events(block: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A block as its ``content_block_start`` and the deltas that fill it back."""
    kind = block.get("type")
    if kind == "text":
        citations = block.get("citations")
        start = {**block, "text": ""}
        deltas = [{"type": "text_delta", "text": block["text"]}] if block.get("text") else []
        if isinstance(citations, list) and citations:
            start["citations"] = []
            deltas += [{"type": "citations_delta", "citation": citation} for citation in citations]
        return start, deltas
    if kind == "thinking":
        start = {**block, "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": block["thinking"]}] if block.get("thinking") else []
        if block.get("signature"):
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return start, deltas
    if kind in _TOOL_INPUT_BLOCKS:
        tool_input = block.get("input")
        pieces = orjson.dumps(tool_input).decode() if tool_input else ""
        return {**block, "input": {}}, [{"type": "input_json_delta", "partial_json": pieces}]
    return block, []


class MessageAssembler(BoundedAssembler):
    """Builds the Messages answer a Messages stream amounts to, event by event.

    ``feed`` never raises: a stream that cannot be assembled sets ``dropped`` (with one
    warning) and ``answer`` is then None; the stream itself is none the worse."""

    __slots__ = ("_inputs", "_message", "_stopped")

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes=max_bytes)
        self._message: dict[str, Any] | None = None
        self._inputs: dict[int, str] = {}  # block index -> the JSON pieces of its input so far
        self._stopped = False

    def _forget(self) -> None:
        self._message, self._inputs = None, {}

    def _feed(self, event: bytes) -> None:
        name, payload = read_event(event)
        if not isinstance(payload, dict):
            return
        kind = payload.get("type", name)
        if kind == "message_start":
            if self._message is not None:
                raise Malformed("a second message_start")
            self._message = {**payload["message"], "content": []}
            return
        if kind not in _EVENT_KINDS:
            return  # ping, error (the stream is not complete then), unknown events
        message = self._message
        if message is None:
            raise Malformed(f"{str(kind)[:40]!r} before message_start")
        if kind == "content_block_start":
            self._start_block(message["content"], payload["index"], payload["content_block"])
        elif kind == "content_block_delta":
            self._delta(self._block(message, payload["index"]), payload["index"], payload["delta"])
        elif kind == "content_block_stop":
            self._stop_block(self._block(message, payload["index"]), payload["index"])
        elif kind == "message_delta":
            self._message_delta(message, payload)
        elif kind == "message_stop":
            self._stopped = True

    @staticmethod
    def _block(message: dict[str, Any], index: Any) -> dict[str, Any]:
        content: list[dict[str, Any]] = message["content"]
        if type(index) is not int or not 0 <= index < len(content):
            raise Malformed(f"a block index of {str(index)[:40]!r} with {len(content)} blocks open")
        return content[index]

    @staticmethod
    def _start_block(content: list[dict[str, Any]], index: Any, block: Any) -> None:
        if index != len(content) or type(index) is not int:
            raise Malformed(f"block {str(index)[:40]!r} started after {len(content)} blocks")
        if len(content) >= MAX_BLOCKS:
            raise Malformed(f"the answer has more than {MAX_BLOCKS} blocks")
        if not isinstance(block, dict):
            raise Malformed("a content block that is not an object")
        content.append(dict(block))

    def _delta(self, block: dict[str, Any], index: int, delta: dict[str, Any]) -> None:
        kind = delta["type"]
        if kind == "text_delta":
            block["text"] = block.get("text", "") + delta["text"]
        elif kind == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + delta["thinking"]
        elif kind == "signature_delta":
            block["signature"] = delta["signature"]
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or ()), delta["citation"]]
        elif kind == "input_json_delta":
            self._inputs[index] = self._inputs.get(index, "") + delta["partial_json"]
        # unknown deltas add nothing the accumulator knows

    def _stop_block(self, block: dict[str, Any], index: int) -> None:
        pieces = self._inputs.pop(index, "")
        if pieces.strip():
            tool_input = orjson.loads(pieces)
            if not isinstance(tool_input, dict):
                raise Malformed("a tool input that is not a JSON object")
            block["input"] = tool_input

    @staticmethod
    def _message_delta(message: dict[str, Any], payload: dict[str, Any]) -> None:
        delta = payload.get("delta")
        if isinstance(delta, dict):
            for name in _STOP_FIELDS:
                if name in delta:
                    message[name] = delta[name]
            if delta.get("container") is not None:
                message["container"] = delta["container"]
        counts = payload.get("usage")
        if isinstance(counts, dict):
            usage = message.setdefault("usage", {})
            usage.update((name, value) for name, value in counts.items() if value is not None)

    def answer(self) -> bytes | None:
        """The assembled answer, or None if the stream did not end (``message_stop``) or was dropped."""
        if self.dropped or self._message is None or not self._stopped:
            return None
        return orjson.dumps(self._message)


_EVENT_KINDS = frozenset(
    {"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
)
