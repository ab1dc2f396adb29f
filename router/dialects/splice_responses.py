"""Splicing a continuation into a Responses stream (``router.dialects.splice`` for the others).

The client's stream has a response (its id, ``created_at``, model), an open message item (its id
and ``output_index``) with an open ``output_text`` part, and numbered events. The
continuation's ``response.created`` and ``response.in_progress`` are dropped, and so are its
message item and text part opening (the client's are still open); its deltas carry the client's
item id, indexes and the next sequence numbers; its ``*.done`` events and ``response.completed``
carry the whole text of the item (what the client received before and after the break) under
the client's ids. Its usage is the continuation's: the client's stream had none before the break
(Responses reports usage only in its last event).
"""

from __future__ import annotations

from typing import Any

from router.dialects.continuation import Partial, refusal, skipped
from router.wire.sse import named_event, read_event


class ResponsesSplicer:
    __slots__ = ("_item", "_other", "_response", "_sequence", "_skip", "_stopped", "_their_item", "text")

    def __init__(self) -> None:
        self.text = ""  # of the client's open message item, which is the whole answer's text
        self._response: dict[str, Any] = {}  # the client's response: id, created_at, model
        self._item: tuple[str, int, int] | None = None  # the client's open text: item id, output, content
        self._their_item: str | None = None  # the continuation's message item id
        self._other: str | None = None
        self._stopped = False
        self._sequence = 0  # the client's next sequence number
        self._skip = ""

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
            item = payload.get("item") or {}
            if item.get("type") != "message":
                self._other = "a tool call" if "call" in str(item.get("type")) else "thinking"
            elif self._item is None:
                self._item = (str(item.get("id")), int(payload.get("output_index", 0)), 0)
        elif kind == "response.content_part.added" and self._item is not None:
            self._item = (self._item[0], self._item[1], int(payload.get("content_index", 0)))
        elif kind == "response.output_text.delta":
            self.text += str(payload.get("delta", ""))
        elif kind == "response.refusal.delta":
            self._other = "a refusal"
        elif kind.endswith(".done") or kind in ("response.completed", "response.incomplete"):
            self._stopped = True

    def refusal(self) -> str | None:
        return refusal(self._other, self._stopped, self._item is not None and bool(self.text))

    def partial(self) -> Partial:
        return Partial(self.text)  # a tool call is never continued here

    def begin(self, skip: str = "") -> None:
        self._their_item, self._skip = None, skip

    def splice(self, event: bytes) -> list[bytes]:
        name, payload = read_event(event)
        if not isinstance(payload, dict) or self._item is None:
            return [event]
        kind = str(payload.get("type"))
        item_id, output_index, content_index = self._item
        if kind in ("response.created", "response.in_progress"):
            return []
        if kind == "response.output_item.added":
            item = payload.get("item") or {}
            if item.get("type") == "message" and self._their_item is None:
                self._their_item = str(item.get("id"))
                return []  # the client's message item is still open
        if kind == "response.content_part.added" and payload.get("item_id") == self._their_item:
            return []
        ours = payload.get("item_id") == self._their_item or (
            isinstance(payload.get("item"), dict) and payload["item"].get("id") == self._their_item
        )
        if ours:
            payload = {**payload, "output_index": output_index}
            if "item_id" in payload:
                payload["item_id"] = item_id
            if "content_index" in payload:
                payload["content_index"] = content_index
        if self._skip and kind == "response.output_text.delta" and ours:
            self._skip, payload["delta"] = skipped(self._skip, str(payload.get("delta", "")))
            if not payload["delta"]:
                return []
        if kind == "response.output_text.done" and ours:
            payload["text"] = self.text
        elif kind == "response.content_part.done" and ours:
            payload["part"] = {**(payload.get("part") or {}), "text": self.text}
        elif kind == "response.output_item.done" and ours:
            payload["item"] = self._whole_item(payload["item"])
        elif isinstance(payload.get("response"), dict):
            payload["response"] = self._whole_response(payload["response"])
        payload["sequence_number"] = self._sequence
        self._sequence += 1
        return [named_event(name or kind, payload)]

    def _whole_item(self, item: dict[str, Any]) -> dict[str, Any]:
        assert self._item is not None
        content = [
            {**part, "text": self.text} if part.get("type") == "output_text" else part
            for part in item.get("content") or []
        ]
        return {**item, "id": self._item[0], "content": content}

    def _whole_response(self, response: dict[str, Any]) -> dict[str, Any]:
        output = [
            self._whole_item(item) if isinstance(item, dict) and item.get("id") == self._their_item else item
            for item in response.get("output") or []
        ]
        return {**response, **self._response, "output": output}
