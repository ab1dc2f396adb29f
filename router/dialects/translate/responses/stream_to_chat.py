"""A Responses event stream as chat chunks: ``ResponsesEventsToChat``."""

from __future__ import annotations

import time
import uuid
from typing import Any

from router.dialects.translate.responses.common import finish_reason_of, usage_to_chat
from router.wire.sse import DONE_EVENT, data_event, read_event
from router.wire.values import as_dict, as_int, as_str, is_number


def _chat_error(error: Any) -> bytes:
    """Chat's error event, from a Responses error (an ``error`` event or a failed Response's)."""
    error = as_dict(error)
    return data_event(
        {
            "error": {
                "message": as_str(error.get("message")) or "the upstream stream failed",
                "type": as_str(error.get("type")) or "upstream_error",
                "code": error.get("code"),
                "param": error.get("param"),
            }
        }
    )


class ResponsesEventsToChat:
    """A Responses event stream as chat chunks, ending with the usage chunk and ``[DONE]``."""

    def __init__(self) -> None:
        self._id = "chatcmpl-" + uuid.uuid4().hex
        self._created = int(time.time())
        self._model = ""
        self._started = False
        self._ended = False
        self._tools: dict[int, int] = {}  # output_index -> chat tool call index
        self._arguments: dict[int, str] = {}  # chat tool call index -> arguments sent
        self._reasoning_part: tuple[str, str, int] | None = None  # the reasoning part last sent

    def feed(self, event: bytes) -> list[bytes]:
        """The chat chunks one Responses event becomes."""
        if self._ended:
            return []
        name, data = read_event(event)
        data = as_dict(data)
        kind = as_str(data.get("type")) or (name or "")
        if not kind:
            return []  # comments, pings
        if kind == "error":
            self._ended = True
            return [_chat_error({key: data.get(key) for key in ("message", "code", "param")})]
        if kind == "response.failed":
            self._ended = True
            return [_chat_error(as_dict(data.get("response")).get("error"))]
        if kind == "response.created":
            self._learn(as_dict(data.get("response")))
        out = self._start()
        if kind in ("response.completed", "response.incomplete"):
            self._ended = True
            return out + self._finish(as_dict(data.get("response")))
        return out + self._delta(kind, data)

    def _learn(self, response: dict[str, Any]) -> None:
        if isinstance(response.get("id"), str):
            self._id = "chatcmpl-" + response["id"].removeprefix("resp_")
        if is_number(response.get("created_at")):
            self._created = int(response["created_at"])
        self._model = as_str(response.get("model"))

    def _start(self) -> list[bytes]:
        """The role chunk, once, before anything else."""
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": "", "refusal": None})]

    def _delta(self, kind: str, data: dict[str, Any]) -> list[bytes]:
        if kind == "response.output_text.delta":
            return [self._chunk({"content": as_str(data.get("delta"))})]
        if kind == "response.refusal.delta":
            return [self._chunk({"refusal": as_str(data.get("delta"))})]
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._reasoning(kind, data)
        if kind == "response.output_item.added" and as_dict(data.get("item")).get("type") == "function_call":
            return self._call_added(as_int(data.get("output_index")), as_dict(data.get("item")))
        if kind == "response.function_call_arguments.delta":
            return self._arguments_delta(as_int(data.get("output_index")), as_str(data.get("delta")))
        if kind == "response.function_call_arguments.done":
            return self._arguments_done(as_int(data.get("output_index")), as_str(data.get("arguments")))
        if kind == "response.output_item.done" and as_dict(data.get("item")).get("type") == "function_call":
            return self._arguments_done(
                as_int(data.get("output_index")), as_str(as_dict(data["item"]).get("arguments"))
            )
        return []

    def _reasoning(self, kind: str, data: dict[str, Any]) -> list[bytes]:
        """Reasoning pieces; a new part is set off by a blank line, as in the whole answer."""
        part = (
            as_str(data.get("item_id")),
            kind,
            as_int(data.get("summary_index", data.get("content_index"))),
        )
        delta = as_str(data.get("delta"))
        if self._reasoning_part is not None and self._reasoning_part != part:
            delta = "\n\n" + delta
        self._reasoning_part = part
        return [self._chunk({"reasoning_content": delta})]

    def _call_added(self, output_index: int, item: dict[str, Any]) -> list[bytes]:
        index = self._tools.setdefault(output_index, len(self._tools))
        arguments = as_str(item.get("arguments"))
        self._arguments[index] = arguments
        call = {
            "index": index,
            "id": as_str(item.get("call_id")) or as_str(item.get("id")),
            "type": "function",
            "function": {"name": as_str(item.get("name")), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _arguments_delta(self, output_index: int, delta: str) -> list[bytes]:
        index = self._tools.get(output_index)
        if index is None or not delta:
            return []
        self._arguments[index] += delta
        return [self._chunk({"tool_calls": [{"index": index, "function": {"arguments": delta}}]})]

    def _arguments_done(self, output_index: int, arguments: str) -> list[bytes]:
        """The arguments not streamed yet, for upstreams that send them only whole."""
        index = self._tools.get(output_index)
        if index is None:
            return []
        sent = self._arguments[index]
        if len(arguments) > len(sent) and arguments.startswith(sent):
            return self._arguments_delta(output_index, arguments[len(sent) :])
        if not sent.strip():  # a call without arguments takes none: JSON ``{}``
            return self._arguments_delta(output_index, "{}")
        return []

    def _finish(self, response: dict[str, Any]) -> list[bytes]:
        """The finish chunk, the usage chunk and ``[DONE]``."""
        settled = [  # calls whose item never said it was done
            piece
            for output_index, index in sorted(self._tools.items())
            if not self._arguments[index].strip()
            for piece in self._arguments_delta(output_index, "{}")
        ]
        finish = self._chunk({}, finish_reason_of(response, bool(self._tools)))
        usage = usage_to_chat(response.get("usage")) or {
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
        }
        return [*settled, finish, data_event(self._envelope([], usage=usage)), DONE_EVENT]

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
        return data_event(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
            **extra,
        }
