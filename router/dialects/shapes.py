"""The types an upstream answer must have for its translation into another dialect to be faithful.

The translators read answers defensively: a value of the wrong type would become a string
(a ``null`` tool id as ``"None"``) or vanish (a chat ``content`` that is a list of nothing).
An answer that crosses dialects is therefore checked first, at the boundary where the bridge
accepts it (``router.dialects.bridge``), for the fields the translators read, each with the
type its wire API's own specification gives it; one that fails is no answer
(``upstream_invalid_answer``: the next deployment is tried, else 502). Streams are checked
event by event the same way (before the first content a failure fails over; after it, the
stream is cut). Fields the translators do not read are not checked, nor is an answer that goes
to a client of its own dialect (it is relayed as the upstream sent it).

Per wire, what is checked (``?``: may be absent or null):

- chat: ``choices`` (at least one), each with a ``message`` whose ``content`` is a string,
  null or a non-empty list of typed parts, ``refusal?`` / ``reasoning_content?`` strings,
  ``tool_calls?`` each with a non-empty string ``id``, a ``function`` with a non-empty
  ``name`` and string ``arguments``; ``finish_reason?`` a string; usage counts whole numbers.
  Stream chunks: the same fields of each ``delta`` (a tool call piece's ``id?``, ``name?``
  and ``arguments?`` strings, its ``index?`` a whole number).
- messages: ``id``, ``content`` blocks each with a string ``type``; text's ``text``, tool
  use's non-empty ``id`` and ``name`` and object ``input``, thinking's ``thinking`` and
  ``signature``, redacted thinking's ``data``; ``stop_reason?``; usage counts. Stream events:
  their ``index``, block and delta fields likewise.
- responses: ``id``, ``output`` items each with a string ``type``; message parts' ``text`` /
  ``refusal``, function calls' non-empty ``call_id`` and ``name`` and string ``arguments``,
  reasoning summaries' ``text``; usage counts. Stream events: each delta's ``delta``, each
  item event's ``output_index`` and ``item``, each lifecycle event's ``response``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from router.config.model import Dialect


@dataclass(frozen=True, slots=True)
class _Field:
    kinds: tuple[type, ...]  # the JSON types it may have (``isinstance``: cheap on every event)
    expected: str  # what the message says it must be
    required: bool = True  # else it may be absent, or null
    also: Callable[[Any], bool] | None = None  # what its type alone does not say


class _Fault(Exception):
    """``where`` does not have the type the translators read it as."""


def _not_bool(value: Any) -> bool:
    return type(value) is not bool  # JSON's true is no count


def _from_zero(value: Any) -> bool:
    return type(value) is not bool and value >= 0


def _typed_parts(value: Any) -> bool:
    """Chat content given as a list (as some servers send it): non-empty, each part typed."""
    if isinstance(value, str):
        return True
    return bool(value) and all(isinstance(p, dict) and isinstance(p.get("type"), str) for p in value)


STRING = _Field((str,), "a string")
NAME = _Field((str,), "a non-empty string", also=bool)
INDEX = _Field((int,), "a whole number from 0", also=_from_zero)
OBJECT = _Field((dict,), "an object")
LIST = _Field((list,), "a list")
OPTIONAL_STRING = _Field((str,), "a string or null", required=False)
OPTIONAL_OBJECT = _Field((dict,), "an object or null", required=False)
OPTIONAL_LIST = _Field((list,), "a list or null", required=False)
OPTIONAL_INDEX = _Field((int,), "a whole number from 0 or null", required=False, also=_from_zero)
COUNT = _Field((int,), "a whole number or null", required=False, also=_not_bool)
NUMBER = _Field((int, float), "a number or null", required=False, also=_not_bool)
CHAT_CONTENT = _Field(
    (str, list), "a string, null or a list of typed parts", required=False, also=_typed_parts
)


class Shape:
    """The fields of an object to check, and which of them it must have."""

    __slots__ = ("fields", "required")

    def __init__(self, fields: dict[str, _Field]) -> None:
        self.fields = fields
        self.required = tuple(name for name, field in fields.items() if field.required)

    def __or__(self, other: Shape) -> Shape:
        return Shape({**self.fields, **other.fields})


_ANYTHING = Shape({})


def _check(value: Any, shape: Shape, where: str) -> dict[str, Any]:
    """``value`` as an object holding ``shape``'s fields (raises ``_Fault`` naming the first wrong
    one). Its own fields are walked, not the shape's: upstream objects are small, shapes sparse."""
    if not isinstance(value, dict):
        raise _Fault(f"{where.removesuffix('.') or 'the JSON'} must be an object")
    for name in shape.required:
        if name not in value:
            raise _Fault(f"{where}{name} is missing")
    fields = shape.fields
    for name, found in value.items():
        field = fields.get(name)
        if field is None or (found is None and not field.required):
            continue
        if not isinstance(found, field.kinds) or (field.also is not None and not field.also(found)):
            raise _Fault(f"{where}{name} must be {field.expected}")
    return value


def _each(values: Any, where: str) -> list[tuple[str, Any]]:
    return [(f"{where}[{i}].", value) for i, value in enumerate(values or ())]


_TYPED = Shape({"type": STRING})

# -- chat -----------------------------------------------------------------------------------

_CHAT_ANSWER = Shape(
    {
        "choices": LIST,
        "id": OPTIONAL_STRING,
        "model": OPTIONAL_STRING,
        "usage": OPTIONAL_OBJECT,
    }
)
_CHAT_CHUNK = _CHAT_ANSWER | Shape({"choices": OPTIONAL_LIST})

_CHAT_USAGE = Shape({"prompt_tokens": COUNT, "completion_tokens": COUNT, "total_tokens": COUNT})
_CHAT_MESSAGE = Shape(
    {
        "content": CHAT_CONTENT,
        "refusal": OPTIONAL_STRING,
        "reasoning_content": OPTIONAL_STRING,
        "tool_calls": OPTIONAL_LIST,
        "thinking_blocks": OPTIONAL_LIST,
    }
)
_CHAT_CALL = Shape({"id": NAME, "function": OBJECT})
_CHAT_FUNCTION = Shape({"name": NAME, "arguments": STRING})
_CHAT_CHOICE = Shape({"message": OBJECT, "finish_reason": OPTIONAL_STRING})
_CHAT_DELTA = Shape(
    {
        "content": OPTIONAL_STRING,
        "refusal": OPTIONAL_STRING,
        "reasoning_content": OPTIONAL_STRING,
        "tool_calls": OPTIONAL_LIST,
        "thinking_blocks": OPTIONAL_LIST,
    }
)
# Pieces after a call's first may repeat its id and name empty (some servers do).
_CHAT_PIECE = Shape({"index": OPTIONAL_INDEX, "id": OPTIONAL_STRING, "function": OPTIONAL_OBJECT})
_CHAT_PIECE_FUNCTION = Shape({"name": OPTIONAL_STRING, "arguments": OPTIONAL_STRING})
_CHAT_CHUNK_CHOICE = Shape(
    {
        "index": OPTIONAL_INDEX,
        "delta": OPTIONAL_OBJECT,
        "finish_reason": OPTIONAL_STRING,
    }
)


def _chat_answer(answer: Any) -> None:
    _check(answer, _CHAT_ANSWER, "")
    if not answer["choices"]:
        raise _Fault("choices holds no choice")
    if answer.get("usage"):
        _check(answer["usage"], _CHAT_USAGE, "usage.")
    for where, choice in _each(answer["choices"], "choices"):
        message = _check(_check(choice, _CHAT_CHOICE, where)["message"], _CHAT_MESSAGE, f"{where}message.")
        for at, call in _each(message.get("tool_calls"), f"{where}message.tool_calls"):
            _check(_check(call, _CHAT_CALL, at)["function"], _CHAT_FUNCTION, f"{at}function.")
        for at, block in _each(message.get("thinking_blocks"), f"{where}message.thinking_blocks"):
            _check(block, _TYPED, at)


def _chat_event(chunk: Any) -> None:
    if isinstance(chunk, dict) and chunk.get("error") is not None:
        return  # an error event: the stream's failure, read where failures are
    _check(chunk, _CHAT_CHUNK, "")
    if chunk.get("usage"):
        _check(chunk["usage"], _CHAT_USAGE, "usage.")
    for i, choice in enumerate(chunk.get("choices") or ()):
        delta = _check(choice, _CHAT_CHUNK_CHOICE, f"choices[{i}].").get("delta")
        if not delta:
            continue
        _check(delta, _CHAT_DELTA, f"choices[{i}].delta.")
        for j, piece in enumerate(delta.get("tool_calls") or ()):
            function = _check(piece, _CHAT_PIECE, f"choices[{i}].delta.tool_calls[{j}].").get("function")
            if function:
                _check(function, _CHAT_PIECE_FUNCTION, f"choices[{i}].delta.tool_calls[{j}].function.")
        for at, block in _each(delta.get("thinking_blocks"), f"choices[{i}].delta.thinking_blocks"):
            _check(block, _TYPED, at)


# -- messages -------------------------------------------------------------------------------

_MESSAGES_USAGE = Shape(
    {
        "input_tokens": COUNT,
        "output_tokens": COUNT,
        "cache_read_input_tokens": COUNT,
        "cache_creation_input_tokens": COUNT,
    }
)
_MESSAGE = Shape({"id": NAME, "model": OPTIONAL_STRING, "usage": OPTIONAL_OBJECT})
_MESSAGES_ANSWER = _MESSAGE | Shape({"content": LIST, "stop_reason": OPTIONAL_STRING})
_MESSAGE_START = Shape({"message": OBJECT})
_BLOCK_START = Shape({"index": INDEX, "content_block": OBJECT})
_BLOCK_DELTA = Shape({"index": INDEX, "delta": OBJECT})
_BLOCK_STOP = Shape({"index": INDEX})
_MESSAGE_DELTA = Shape({"delta": OBJECT, "usage": OPTIONAL_OBJECT})
_STOP = Shape({"stop_reason": OPTIONAL_STRING})
_BLOCKS: Mapping[str, Shape] = {
    "text": Shape({"text": STRING}),
    "tool_use": Shape({"id": NAME, "name": NAME, "input": OBJECT}),
    "thinking": Shape({"thinking": STRING, "signature": STRING}),
    "redacted_thinking": Shape({"data": STRING}),
}
_DELTAS: Mapping[str, Shape] = {
    "text_delta": Shape({"text": STRING}),
    "input_json_delta": Shape({"partial_json": STRING}),
    "thinking_delta": Shape({"thinking": STRING}),
    "signature_delta": Shape({"signature": STRING}),
}


def _typed(value: Any, shapes: Mapping[str, Shape], where: str) -> dict[str, Any]:
    """An object with a string ``type``, holding its type's shape (unknown types: nothing more)."""
    found = _check(value, _TYPED, where)
    return _check(found, shapes.get(found["type"], _ANYTHING), where)


def _messages_answer(answer: Any) -> None:
    _check(answer, _MESSAGES_ANSWER, "")
    if answer.get("usage"):
        _check(answer["usage"], _MESSAGES_USAGE, "usage.")
    for where, block in _each(answer["content"], "content"):
        _typed(block, _BLOCKS, where)


def _messages_event(event: Any) -> None:
    kind = _check(event, _TYPED, "")["type"]
    if kind == "content_block_delta":
        _typed(_check(event, _BLOCK_DELTA, "")["delta"], _DELTAS, "delta.")
    elif kind == "content_block_start":
        _typed(_check(event, _BLOCK_START, "")["content_block"], _BLOCKS, "content_block.")
    elif kind == "content_block_stop":
        _check(event, _BLOCK_STOP, "")
    elif kind == "message_start":
        message = _check(_check(event, _MESSAGE_START, "")["message"], _MESSAGE, "message.")
        if message.get("usage"):
            _check(message["usage"], _MESSAGES_USAGE, "message.usage.")
    elif kind == "message_delta":
        _check(_check(event, _MESSAGE_DELTA, "")["delta"], _STOP, "delta.")
        if event.get("usage"):
            _check(event["usage"], _MESSAGES_USAGE, "usage.")


# -- responses ------------------------------------------------------------------------------

_RESPONSES_USAGE = Shape(
    {
        "input_tokens": COUNT,
        "output_tokens": COUNT,
        "total_tokens": COUNT,
        "input_tokens_details": OPTIONAL_OBJECT,
        "output_tokens_details": OPTIONAL_OBJECT,
    }
)
_ITEMS: Mapping[str, Shape] = {
    "message": Shape({"content": LIST}),
    "function_call": Shape({"call_id": NAME, "name": NAME, "arguments": STRING}),
    "reasoning": Shape({"summary": OPTIONAL_LIST, "content": OPTIONAL_LIST}),
}
_PARTS: Mapping[str, Shape] = {"output_text": Shape({"text": STRING}), "refusal": Shape({"refusal": STRING})}
_RESPONSE = Shape(
    {
        "id": NAME,
        "status": OPTIONAL_STRING,
        "created_at": NUMBER,
        "model": OPTIONAL_STRING,
        "usage": OPTIONAL_OBJECT,
        "error": OPTIONAL_OBJECT,
    }
)
_RESPONSES_ANSWER = _RESPONSE | Shape({"output": LIST})
_ADDED_CALL = Shape({"call_id": NAME, "name": NAME, "arguments": OPTIONAL_STRING})
_SUMMARY = Shape({"text": STRING})
_TEXT_DELTA = Shape({"delta": STRING, "output_index": OPTIONAL_INDEX})
_ITEM_EVENT = Shape({"output_index": INDEX, "item": OBJECT})
_ARGUMENTS_DONE = Shape({"output_index": INDEX, "arguments": STRING})
_LIFECYCLE_EVENT = Shape({"response": OBJECT})
_TEXT_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.function_call_arguments.delta",
    }
)
_LIFECYCLE = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.completed",
        "response.incomplete",
        "response.failed",
    }
)


def _item(item: Any, where: str, *, whole: bool) -> None:
    """An output item; one just added (not ``whole``) may not have its call's arguments yet."""
    found = _typed(item, _ITEMS, where) if whole else _check(item, _TYPED, where)
    if found["type"] == "function_call" and not whole:
        _check(found, _ADDED_CALL, where)
    elif found["type"] == "message":
        for at, part in _each(found.get("content"), f"{where}content"):
            _typed(part, _PARTS, at)
    elif found["type"] == "reasoning":
        for at, part in _each(found.get("summary"), f"{where}summary") + _each(
            found.get("content"), f"{where}content"
        ):
            _check(part, _SUMMARY, at)


def _responses_answer(answer: Any) -> None:
    if _check(answer, _RESPONSES_ANSWER, "").get("usage"):
        _check(answer["usage"], _RESPONSES_USAGE, "usage.")
    for where, item in _each(answer["output"], "output"):
        _item(item, where, whole=True)


def _responses_event(event: Any) -> None:
    kind = _check(event, _TYPED, "")["type"]
    if kind in _TEXT_DELTAS:
        _check(event, _TEXT_DELTA, "")
    elif kind in ("response.output_item.added", "response.output_item.done"):
        _item(_check(event, _ITEM_EVENT, "")["item"], "item.", whole=kind.endswith("done"))
    elif kind == "response.function_call_arguments.done":
        _check(event, _ARGUMENTS_DONE, "")
    elif kind in _LIFECYCLE:
        response = _check(_check(event, _LIFECYCLE_EVENT, "")["response"], _RESPONSE, "response.")
        if response.get("usage"):
            _check(response["usage"], _RESPONSES_USAGE, "response.usage.")


_ANSWERS: Mapping[Dialect, Callable[[Any], None]] = {
    Dialect.CHAT: _chat_answer,
    Dialect.MESSAGES: _messages_answer,
    Dialect.RESPONSES: _responses_answer,
}
_EVENTS: Mapping[Dialect, Callable[[Any], None]] = {
    Dialect.CHAT: _chat_event,
    Dialect.MESSAGES: _messages_event,
    Dialect.RESPONSES: _responses_event,
}


def answer_fault(wire: Dialect, answer: Any) -> str | None:
    """What is wrong with ``answer``, a whole answer of ``wire``, for a translator; None: nothing."""
    try:
        _ANSWERS[wire](answer)
    except _Fault as fault:
        return str(fault)
    return None


def event_fault(wire: Dialect, payload: Any) -> str | None:
    """What is wrong with ``payload``, the data of a stream event of ``wire``; None: nothing
    (also for an event without data, a keep-alive or chat's ``[DONE]``)."""
    if payload is None:
        return None
    try:
        _EVENTS[wire](payload)
    except _Fault as fault:
        return str(fault)
    return None
