"""Splicing a continuation into a Responses stream (``router.dialects.splice`` for the others).

The client's stream has a response (its id, ``created_at``, model), output items numbered by
``output_index`` (a message with its text, function calls), and numbered events. An answer is
continued after its text, and after the function calls it received whole (their arguments a
complete JSON object), which the continuation is sent as the assistant's tool calls; a call cut
in its arguments, reasoning, a refusal, or text after a call, cannot be continued.

The continuation's ``response.created`` and ``response.in_progress`` are dropped. A function call
the client holds whole but not closed is closed first (``function_call_arguments.done``,
``output_item.done``), as its stream would have closed it. When the client's message item is
still open, the continuation's first message item *is* that item (its opening and its text
part's dropped; its deltas carry the client's item id and indexes; its ``*.done`` events carry
the item's whole text); the continuation's other items follow the client's, each at the next
``output_index`` (the client's open message closed first, if the continuation begins with
something else). Every event carries the next ``sequence_number``, and ``response.completed``
carries the client's response id and every item the client was sent, in order. Its usage is the
continuation's: the client's stream had none before the break (Responses reports usage only in
its last event).

Each spliced event is noted again (``note``), in the client's terms: a second break is read from
the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from router.dialects.continuation import Partial, ToolCall, skipped, whole_object
from router.dialects.translate.responses.items import call_item, message_item, text_part
from router.wire.sse import named_event, read_event

_ENDS = ("response.completed", "response.incomplete", "response.failed")


@dataclass(slots=True)
class _Item:
    """One of the client's output items: a message (its open text part) or a function call."""

    kind: str
    id: str
    output_index: int
    content_index: int = 0
    call_id: str = ""
    name: str = ""
    arguments: str = ""
    done: bool = False


class ResponsesSplicer:
    __slots__ = (
        "_done",
        "_ids",
        "_items",
        "_merged",
        "_other",
        "_response",
        "_sequence",
        "_settled",
        "_skip",
        "_stopped",
        "text",
    )

    def __init__(self) -> None:
        self.text = ""  # of the client's message item: the answer's text
        self._response: dict[str, Any] = {}  # the client's response: id, created_at, model
        self._items: dict[str, _Item] = {}  # the client's items by id, in output order
        self._done: dict[int, dict[str, Any]] = {}  # the client's closed items by output_index
        self._other: str | None = None
        self._stopped = False
        self._sequence = 0  # the client's next sequence number
        self._skip = ""
        # The continuation's items by their id: the client's id and output_index they go by.
        self._ids: dict[str, tuple[str, int]] = {}
        self._merged: str | None = None  # the client's open message item the continuation goes on in
        self._settled = True  # what the client holds open was closed or taken over by the continuation

    def note(self, event: bytes) -> None:
        _name, payload = read_event(event)
        if not isinstance(payload, dict):
            return
        if isinstance(payload.get("sequence_number"), int):
            self._sequence = payload["sequence_number"] + 1
        kind = str(payload.get("type"))
        if kind == "response.created" and isinstance(payload.get("response"), dict):
            response = payload["response"]
            self._response = {key: response[key] for key in ("id", "created_at", "model") if key in response}
        elif kind == "response.output_item.added":
            self._added(payload)
        elif kind == "response.content_part.added":
            item = self._items.get(str(payload.get("item_id")))
            if item is not None:
                item.content_index = int(payload.get("content_index", 0))
        elif kind == "response.output_text.delta":
            self.text += str(payload.get("delta", ""))
        elif kind == "response.function_call_arguments.delta":
            item = self._items.get(str(payload.get("item_id")))
            if item is not None:
                item.arguments += str(payload.get("delta", ""))
        elif kind == "response.refusal.delta":
            self._other = "a refusal"
        elif kind == "response.output_item.done" and isinstance(payload.get("item"), dict):
            done = payload["item"]
            item = self._items.get(str(done.get("id")))
            if item is not None:
                item.done = True
                if item.kind == "function_call" and isinstance(done.get("arguments"), str):
                    item.arguments = done["arguments"]
            self._done[int(payload.get("output_index", len(self._done)))] = done
        elif kind in _ENDS:
            self._stopped = True

    def _added(self, payload: dict[str, Any]) -> None:
        item = payload.get("item") or {}
        kind, index = str(item.get("type")), int(payload.get("output_index", 0))
        if kind == "message":
            if any(known.kind == "function_call" for known in self._items.values()):
                self._other = "text after a tool call"
        elif kind == "function_call":
            pass
        else:
            self._other = "thinking" if kind == "reasoning" else f"a {kind} item"
        self._items[str(item.get("id"))] = _Item(
            kind,
            str(item.get("id")),
            index,
            call_id=str(item.get("call_id") or ""),
            name=str(item.get("name") or ""),
            arguments=str(item.get("arguments") or ""),
        )

    def _calls(self) -> list[_Item]:
        return [item for item in self._items.values() if item.kind == "function_call"]

    def refusal(self) -> str | None:
        if self._other is not None:
            return f"the answer holds {self._other}"
        if self._stopped:
            return "the answer had ended"
        if any(not whole_object(call.arguments) for call in self._calls()):
            return "the answer holds a tool call cut in its arguments"
        return None if self.text or self._calls() else "no text to continue"

    def partial(self) -> Partial:
        calls = (ToolCall(call.call_id or call.id, call.name, call.arguments) for call in self._calls())
        return Partial(self.text, tuple(calls))

    def begin(self, skip: str = "") -> None:
        self._skip, self._ids = skip, {}
        open_message = [item for item in self._items.values() if item.kind == "message" and not item.done]
        self._merged = open_message[0].id if open_message else None
        self._settled = False

    def splice(self, event: bytes) -> list[bytes]:
        name, payload = read_event(event)
        if not isinstance(payload, dict):
            return [event]
        kind = str(payload.get("type"))
        if kind in ("response.created", "response.in_progress"):
            return []
        out: list[bytes] = []
        if kind == "response.output_item.added":
            item = payload.get("item") or {}
            their = str(item.get("id"))
            merging = self._merged is not None and item.get("type") == "message" and not self._settled
            out += self._settle(merging=merging)
            if merging:
                assert self._merged is not None
                self._ids[their] = (self._merged, self._items[self._merged].output_index)
                return out  # the client's message item is still open: the continuation's text goes on in it
            ours = their if their not in self._items else f"{their}_{len(self._items)}"
            self._ids[their] = (ours, self._next_index())
            payload = {**payload, "item": {**item, "id": ours}}
        elif kind == "response.content_part.added" and self._ours(payload) == self._merged:
            return []
        else:
            out += self._settle(merging=False)
        merged = self._merged is not None and self._ours(payload) == self._merged
        payload = self._renamed(payload)
        if self._skip and kind == "response.output_text.delta" and merged:
            self._skip, payload["delta"] = skipped(self._skip, str(payload.get("delta", "")))
            if not payload["delta"]:
                return out
        if merged and kind == "response.output_text.done":
            payload["text"] = self.text
        elif merged and kind == "response.content_part.done":
            payload["part"] = {**(payload.get("part") or {}), "text": self.text}
        elif merged and kind == "response.output_item.done":
            payload["item"] = self._whole_message(payload["item"])
        elif kind in _ENDS and isinstance(payload.get("response"), dict):
            payload["response"] = self._whole_response(payload["response"])
        return [*out, self._numbered(name or kind, payload)]

    def _ours(self, payload: dict[str, Any]) -> str | None:
        """The client's id of the item an event of the continuation is about (None: none)."""
        their = payload.get("item_id")
        if their is None and isinstance(payload.get("item"), dict):
            their = payload["item"].get("id")
        found = self._ids.get(str(their)) if their is not None else None
        return found[0] if found is not None else None

    def _renamed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A continuation's event about one of its items, under the client's id and indexes."""
        their = payload.get("item_id")
        item = payload.get("item")
        if their is None and isinstance(item, dict):
            their = item.get("id")
        found = self._ids.get(str(their)) if their is not None else None
        if found is None:
            return {**payload}
        ours, output_index = found
        payload = {**payload, "output_index": output_index}
        if "item_id" in payload:
            payload["item_id"] = ours
        if isinstance(item, dict):
            payload["item"] = {**item, "id": ours}
        if "content_index" in payload and ours == self._merged:
            payload["content_index"] = int(payload["content_index"]) + self._items[ours].content_index
        return payload

    def _next_index(self) -> int:
        taken = [item.output_index for item in self._items.values()]
        taken += [index for _id, index in self._ids.values()]
        return max(taken, default=-1) + 1

    def _settle(self, *, merging: bool) -> list[bytes]:
        """Before the continuation's first item (or its end), what the client holds open, closed
        as its stream would have closed it: its whole function calls and, unless the continuation
        goes on in it (``merging``), its message item."""
        if self._settled:
            return []
        self._settled = True
        out: list[bytes] = []
        for call in self._calls():
            if not call.done:
                where = {"item_id": call.id, "output_index": call.output_index}
                arguments = {"name": call.name, "arguments": call.arguments}
                out.append(self._numbered("response.function_call_arguments.done", {**where, **arguments}))
                done = call_item(call.id, call.call_id, call.name, call.arguments, "completed")
                out.append(self._item_done(call, done))
        if not merging and self._merged is not None:
            item = self._items[self._merged]
            where = {"item_id": item.id, "output_index": item.output_index}
            where["content_index"] = item.content_index
            part = text_part(self.text)
            done_text = {**where, "text": self.text, "logprobs": []}
            out.append(self._numbered("response.output_text.done", done_text))
            out.append(self._numbered("response.content_part.done", {**where, "part": part}))
            out.append(self._item_done(item, message_item(item.id, [part], "completed")))
            self._merged = None
        return out

    def _item_done(self, item: _Item, done: dict[str, Any]) -> bytes:
        item.done = True
        self._done[item.output_index] = done
        return self._numbered("response.output_item.done", {"output_index": item.output_index, "item": done})

    def _numbered(self, kind: str, payload: dict[str, Any]) -> bytes:
        fields = {key: value for key, value in payload.items() if key not in ("type", "sequence_number")}
        payload = {"type": payload.get("type", kind), "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return named_event(kind, payload)

    def _whole_message(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self._merged is not None
        content = [
            {**part, "text": self.text} if part.get("type") == "output_text" else part
            for part in item.get("content") or []
        ]
        return {**item, "id": self._merged, "content": content}

    def _whole_response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The continuation's final response as the client's: its ids, every item it was sent."""
        output = [self._done[index] for index in sorted(self._done)]
        return {**response, **self._response, "output": output}
