"""A chat stream as the typed Responses event grammar: ``ChatEventsToResponses``."""

from __future__ import annotations

import time
import uuid
from typing import Any

from router.dialects.translate.chat_chunks import FromChatChunks
from router.dialects.translate.responses.common import status_of, usage_to_responses
from router.dialects.translate.responses.items import (
    base_id,
    call_item,
    message_item,
    reasoning_item,
    refusal_part,
    text_part,
)
from router.wire.errors import failure
from router.wire.response import response_object
from router.wire.sse import named_event
from router.wire.values import as_dict, as_int, as_list, as_str, is_number


class _OpenItem:
    """An output item being streamed: what its ``done`` events and the final Response need."""

    __slots__ = ("call_id", "content_index", "id", "kind", "name", "output_index", "parts", "text")

    def __init__(self, kind: str, item_id: str, output_index: int) -> None:
        self.kind = kind  # "reasoning", "message" or "function_call"
        self.id = item_id
        self.output_index = output_index
        self.text = ""  # reasoning text, or a function call's arguments
        self.parts: list[dict[str, Any]] = []  # a message's content parts
        self.content_index = -1  # the message part receiving deltas
        self.call_id = ""
        self.name = ""


class ChatEventsToResponses(FromChatChunks):
    """A chat stream as the typed Responses event grammar, ending with ``response.completed``
    (or ``response.incomplete``) at ``[DONE]``."""

    def __init__(self) -> None:
        self._seq = 0
        self._base = ""
        self._created = int(time.time())
        self._model = ""
        self._started = False
        self.finished = False
        self._output: list[dict[str, Any]] = []  # closed items, by output_index
        self._current: _OpenItem | None = None  # the open reasoning or message item
        self._calls: dict[int, _OpenItem] = {}  # open function calls by chat tool index
        self._counts = {"reasoning": 0, "message": 0}
        self._finish_reason: Any = None
        self._usage: dict[str, Any] | None = None

    def _end(self) -> list[bytes]:
        self.finished = True
        return self._start() + self._finish()

    def _error(self, error: dict[str, Any]) -> list[bytes]:
        failed = failure(self._snapshot("failed"), error)
        return self._start() + [self._emit(kind, **fields) for kind, fields in failed]

    def _chunk(self, data: dict[str, Any]) -> list[bytes]:
        """The Responses events one chat chunk becomes."""
        if not self._started:
            self._base = base_id(data.get("id"))
            if is_number(data.get("created")):
                self._created = int(data["created"])
            self._model = as_str(data.get("model"))
        out = self._start()
        if isinstance(data.get("usage"), dict):
            self._usage = usage_to_responses(data["usage"])
        choices = as_list(data.get("choices"))
        choice = as_dict(choices[0]) if choices else {}
        delta = as_dict(choice.get("delta"))
        if as_str(delta.get("reasoning_content")):
            out += self._text_delta("reasoning", delta["reasoning_content"])
        if as_str(delta.get("content")):
            out += self._text_delta("output_text", delta["content"])
        if as_str(delta.get("refusal")):
            out += self._text_delta("refusal", delta["refusal"])
        for call in as_list(delta.get("tool_calls")):
            out += self._call_delta(as_dict(call))
        if choice.get("finish_reason") is not None:
            self._finish_reason = choice["finish_reason"]
        return out

    def _emit(self, kind: str, **fields: Any) -> bytes:
        """One event, numbered."""
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return named_event(kind, payload)

    def _snapshot(self, status: str, incomplete: dict[str, Any] | None = None) -> dict[str, Any]:
        return response_object(
            base=self._base or uuid.uuid4().hex,
            created_at=self._created,
            model=self._model,
            status=status,
            output=list(self._output),
            usage=self._usage if status != "in_progress" else None,
            incomplete_details=incomplete,
        )

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        self._base = self._base or uuid.uuid4().hex
        snapshot = self._snapshot("in_progress")
        return [
            self._emit("response.created", response=snapshot),
            self._emit("response.in_progress", response=snapshot),
        ]

    def _next_index(self) -> int:
        return len(self._output) + (self._current is not None) + len(self._calls)

    def _text_delta(self, kind: str, text: str) -> list[bytes]:
        """Reasoning, message text or refusal text: opens the item (and part) it belongs in."""
        out = self._close_calls()
        item_kind = "reasoning" if kind == "reasoning" else "message"
        if self._current is not None and self._current.kind != item_kind:
            out += self._close_current()
        if self._current is None:
            out += self._open_current(item_kind)
        item = self._current
        assert item is not None
        if item_kind == "reasoning":
            item.text += text
            return [
                *out,
                self._emit(
                    "response.reasoning_summary_text.delta",
                    item_id=item.id,
                    output_index=item.output_index,
                    summary_index=0,
                    delta=text,
                ),
            ]
        if item.content_index < 0 or item.parts[item.content_index]["type"] != kind:
            out += self._close_part(item)
            out += self._open_part(item, kind)
        part = item.parts[item.content_index]
        where = {"item_id": item.id, "output_index": item.output_index, "content_index": item.content_index}
        if kind == "refusal":
            part["refusal"] += text
            return [*out, self._emit("response.refusal.delta", **where, delta=text)]
        part["text"] += text
        return [*out, self._emit("response.output_text.delta", **where, delta=text, logprobs=[])]

    def _open_current(self, kind: str) -> list[bytes]:
        """A reasoning or message item; the first of each kind has the answer's plain id."""
        prefix = "rs" if kind == "reasoning" else "msg"
        count = self._counts[kind]
        self._counts[kind] += 1
        item_id = f"{prefix}_{self._base}" + (f"_{count}" if count else "")
        item = _OpenItem(kind, item_id, self._next_index())
        self._current = item
        if kind == "reasoning":
            added = {"type": "reasoning", "id": item_id, "summary": []}
            return [
                self._emit("response.output_item.added", output_index=item.output_index, item=added),
                self._emit(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=item.output_index,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                ),
            ]
        added = message_item(item_id, [], "in_progress")
        return [self._emit("response.output_item.added", output_index=item.output_index, item=added)]

    def _open_part(self, item: _OpenItem, kind: str) -> list[bytes]:
        part = text_part("") if kind == "output_text" else refusal_part("")
        item.parts.append(part)
        item.content_index = len(item.parts) - 1
        return [
            self._emit(
                "response.content_part.added",
                item_id=item.id,
                output_index=item.output_index,
                content_index=item.content_index,
                part=dict(part),
            )
        ]

    def _close_part(self, item: _OpenItem) -> list[bytes]:
        if item.content_index < 0:
            return []
        part = item.parts[item.content_index]
        where = {"item_id": item.id, "output_index": item.output_index, "content_index": item.content_index}
        if part["type"] == "refusal":
            done = self._emit("response.refusal.done", **where, refusal=part["refusal"])
        else:
            done = self._emit("response.output_text.done", **where, text=part["text"], logprobs=[])
        return [done, self._emit("response.content_part.done", **where, part=part)]

    def _close_current(self, status: str = "completed") -> list[bytes]:
        item = self._current
        if item is None:
            return []
        self._current = None
        where = {"item_id": item.id, "output_index": item.output_index}
        if item.kind == "reasoning":
            out = [
                self._emit("response.reasoning_summary_text.done", **where, summary_index=0, text=item.text),
                self._emit(
                    "response.reasoning_summary_part.done",
                    **where,
                    summary_index=0,
                    part={"type": "summary_text", "text": item.text},
                ),
            ]
            done = reasoning_item(item.id, item.text)
        else:
            out = self._close_part(item)
            done = message_item(item.id, item.parts, status)
        self._output.append(done)
        return [*out, self._emit("response.output_item.done", output_index=item.output_index, item=done)]

    def _call_delta(self, call: dict[str, Any]) -> list[bytes]:
        """A tool call piece: the first piece of a call opens its item."""
        index = as_int(call.get("index"))
        function = as_dict(call.get("function"))
        out: list[bytes] = []
        item = self._calls.get(index)
        if item is None:
            out += self._close_current()
            item = _OpenItem("function_call", f"fc_{self._base}_{index}", self._next_index())
            item.call_id = as_str(call.get("id")) or f"call_{uuid.uuid4().hex[:24]}"
            item.name = as_str(function.get("name"))
            self._calls[index] = item
            added = call_item(item.id, item.call_id, item.name, "", "in_progress")
            out.append(self._emit("response.output_item.added", output_index=item.output_index, item=added))
        arguments = as_str(function.get("arguments"))
        if arguments:
            item.text += arguments
            out.append(
                self._emit(
                    "response.function_call_arguments.delta",
                    item_id=item.id,
                    output_index=item.output_index,
                    delta=arguments,
                )
            )
        return out

    def _close_calls(self) -> list[bytes]:
        """Close the open calls, in the order they were opened."""
        out: list[bytes] = []
        for item in sorted(self._calls.values(), key=lambda item: item.output_index):
            where = {"item_id": item.id, "output_index": item.output_index}
            if not item.text.strip():  # a call without arguments takes none: JSON ``{}``
                item.text += "{}"
                out.append(self._emit("response.function_call_arguments.delta", **where, delta="{}"))
            out.append(
                self._emit(
                    "response.function_call_arguments.done", **where, name=item.name, arguments=item.text
                )
            )
            done = call_item(item.id, item.call_id, item.name, item.text, "completed")
            self._output.append(done)
            out.append(self._emit("response.output_item.done", output_index=item.output_index, item=done))
        self._calls.clear()
        return out

    def _finish(self) -> list[bytes]:
        """Close every item, then the final event carrying the whole Response."""
        status, incomplete = status_of(self._finish_reason)
        out = (
            self._close_current("completed" if status == "completed" else "incomplete") + self._close_calls()
        )
        response = self._snapshot(status, incomplete)
        if response["usage"] is None:
            response["usage"] = usage_to_responses({})
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*out, self._emit(kind, response=response)]
