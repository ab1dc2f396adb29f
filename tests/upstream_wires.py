"""How the fake upstream writes an answer in each wire API: chat completions, Messages, Responses, Gemini.

A wire turns an ``Answer`` (what to say) into a JSON body, an error body, or a ``Stream``
of SSE events in its own grammar; ``tests/upstream.py`` decides when and how much of it
is sent. Streams are split into content chunks (one a word of text or reasoning, or a
piece of a tool call's arguments) so that the server's faults (cut, reset, error after
``n`` chunks) mean the same on every wire.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import orjson

PROMPT_TOKENS = 5  # what every answer bills for its input, cache aside
COMPLETION_TOKENS = 4

# An event's data: a JSON object (named by its "type" on the wires that name events), or
# text sent as is such as [DONE].
Event = dict[str, Any] | str


@dataclass(frozen=True)
class Answer:
    model: str
    reply: str  # "" for no text at all (an answer that only calls tools)
    reasoning: str | None = None
    tool_calls: tuple[tuple[str, str], ...] = ()  # (name, JSON arguments)
    cache_read: int = 0
    cache_write: int = 0
    stop_sequence: str | None = None
    number: int = 0  # unique to the answer: its ids and thinking signature carry it


@dataclass
class Stream:
    head: list[Event] = field(default_factory=list)  # before ``first_content_delay``
    chunks: list[list[Event]] = field(default_factory=list)  # each a content chunk with what leads to it
    tail: list[Event] = field(default_factory=list)  # after the content: stop reason, usage
    end: list[Event] = field(default_factory=list)  # the terminator ``end_without_done`` leaves out


class _Chunker:
    """Collects a stream's content: framing events wait for the next content chunk (or the tail)."""

    def __init__(self) -> None:
        self.chunks: list[list[Event]] = []
        self._pending: list[Event] = []

    def frame(self, event: Event) -> None:
        self._pending.append(event)

    def content(self, event: Event) -> None:
        self.chunks.append([*self._pending, event])
        self._pending = []

    def rest(self) -> list[Event]:
        rest, self._pending = self._pending, []
        return rest


class Wire:
    """One wire API; subclasses say how it writes answers."""

    request_id_header: ClassVar[str] = "x-request-id"
    named: ClassVar[bool] = True  # an ``event:`` line names each event by its type
    numbered: ClassVar[bool] = False  # events carry a ``sequence_number``

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def stream(self, answer: Answer, body: dict[str, Any]) -> Stream:
        raise NotImplementedError

    def refusal(self, status: int, error: dict[str, Any] | None) -> dict[str, Any]:
        """The body of an answer other than 200; ``error`` is in OpenAI's shape."""
        return error or {"error": {"message": f"scripted {status}", "type": "x", "param": None, "code": None}}

    def failure(self, answer: Answer, error: dict[str, Any] | None) -> list[Event]:
        """The events that end a stream failing midway."""
        raise NotImplementedError

    def encode(self, event: Event, sequence: int) -> bytes:
        if isinstance(event, str):
            return f"data: {event}\n\n".encode()
        data = {**event, "sequence_number": sequence} if self.numbered else event
        name = f"event: {event['type']}\n".encode() if self.named else b""
        return name + b"data: " + orjson.dumps(data) + b"\n\n"


class ChatWire(Wire):
    """OpenAI chat completions: POST /v1/chat/completions."""

    named = False

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        content = answer.reply if answer.reply or not answer.tool_calls else None
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if answer.reasoning is not None:
            message["reasoning_content"] = answer.reasoning
        if answer.tool_calls:
            message["tool_calls"] = [
                {"id": _call_id(answer, i), "type": "function", "function": {"name": name, "arguments": args}}
                for i, (name, args) in enumerate(answer.tool_calls)
            ]
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": _finish(answer),
            "logprobs": None,
        }
        if body.get("logprobs"):
            choice["logprobs"] = {
                "content": [_logprob(body, i, w) for i, w in enumerate(words(answer.reply))],
                "refusal": None,
            }
        return {
            "id": f"chatcmpl-up-{answer.number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model,
            "choices": [choice],
            "usage": _chat_usage(answer),
        }

    def stream(self, answer: Answer, body: dict[str, Any]) -> Stream:
        envelope = {
            "id": f"chatcmpl-up-{answer.number}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": answer.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
            return {**envelope, "choices": [{"index": 0, "delta": delta, "finish_reason": finish, **extra}]}

        chunker = _Chunker()
        for word in words(answer.reasoning or ""):
            chunker.content(chunk({"reasoning_content": word}))
        for index, word in enumerate(words(answer.reply)):
            extra: dict[str, Any] = (
                {"logprobs": {"content": [_logprob(body, index, word)], "refusal": None}}
                if body.get("logprobs")
                else {}
            )
            chunker.content(chunk({"content": word}, **extra))
        for i, (name, args) in enumerate(answer.tool_calls):
            call = {"index": i, "id": _call_id(answer, i), "type": "function"}
            chunker.content(chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]}))
            for piece in _pieces_of(args):
                chunker.content(chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}))
        tail: list[Event] = [chunk({}, _finish(answer))]
        if (body.get("stream_options") or {}).get("include_usage"):
            tail.append({**envelope, "choices": [], "usage": _chat_usage(answer)})
        return Stream(
            head=[chunk({"role": "assistant", "content": ""})],
            chunks=chunker.chunks,
            tail=tail,
            end=["[DONE]"],
        )

    def failure(self, answer: Answer, error: dict[str, Any] | None) -> list[Event]:
        failure = {"message": "scripted midway failure", "type": "x", "param": None, "code": None}
        return [error or {"error": failure}, "[DONE]"]


class MessagesWire(Wire):
    """Anthropic Messages: POST /v1/messages."""

    request_id_header = "request-id"

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        return {
            **self._message(answer),
            "content": self._blocks(answer),
            "stop_reason": _stop_reason(answer),
            "stop_sequence": answer.stop_sequence,
        }

    def stream(self, answer: Answer, body: dict[str, Any]) -> Stream:
        chunker = _Chunker()
        for index, block in enumerate(self._blocks(answer)):
            empty = {**block, **_EMPTY_BLOCKS[block["type"]]}
            chunker.frame({"type": "content_block_start", "index": index, "content_block": empty})
            if block["type"] == "tool_use":  # Anthropic opens every tool input with an empty piece
                opening = {"type": "input_json_delta", "partial_json": ""}
                chunker.frame({"type": "content_block_delta", "index": index, "delta": opening})
            for delta in self._deltas(block):
                chunker.content({"type": "content_block_delta", "index": index, "delta": delta})
            if block["type"] == "thinking":
                signature = {"type": "signature_delta", "signature": block["signature"]}
                chunker.frame({"type": "content_block_delta", "index": index, "delta": signature})
            chunker.frame({"type": "content_block_stop", "index": index})
        usage = self._message(answer)["usage"]
        start = {**self._message(answer), "usage": {**usage, "output_tokens": 1}}
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(answer), "stop_sequence": answer.stop_sequence},
            "usage": {"output_tokens": usage["output_tokens"]},
        }
        return Stream(
            head=[{"type": "message_start", "message": start}, {"type": "ping"}],
            chunks=chunker.chunks,
            tail=[*chunker.rest(), delta],
            end=[{"type": "message_stop"}],
        )

    def refusal(self, status: int, error: dict[str, Any] | None) -> dict[str, Any]:
        return _anthropic_error(error, _ANTHROPIC_ERRORS.get(status, "api_error"), f"scripted {status}")

    def failure(self, answer: Answer, error: dict[str, Any] | None) -> list[Event]:
        return [_anthropic_error(error, "api_error", "scripted midway failure")]

    @staticmethod
    def _message(answer: Answer) -> dict[str, Any]:
        """The message as ``message_start`` opens it: no content yet."""
        return {
            "id": f"msg_up_{answer.number}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": PROMPT_TOKENS,
                "cache_creation_input_tokens": answer.cache_write,
                "cache_read_input_tokens": answer.cache_read,
                "output_tokens": COMPLETION_TOKENS,
            },
        }

    @staticmethod
    def _blocks(answer: Answer) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if answer.reasoning is not None:
            blocks.append(
                {"type": "thinking", "thinking": answer.reasoning, "signature": f"sig+{answer.number:04d}"}
            )
        if answer.reply:
            blocks.append({"type": "text", "text": answer.reply})
        for i, (name, args) in enumerate(answer.tool_calls):
            tool_id = f"toolu_up_{answer.number}_{i}"
            blocks.append({"type": "tool_use", "id": tool_id, "name": name, "input": orjson.loads(args)})
        return blocks

    @staticmethod
    def _deltas(block: dict[str, Any]) -> Iterator[dict[str, Any]]:
        if block["type"] == "thinking":
            yield from ({"type": "thinking_delta", "thinking": word} for word in words(block["thinking"]))
        elif block["type"] == "text":
            yield from ({"type": "text_delta", "text": word} for word in words(block["text"]))
        elif block["input"]:  # a tool called without arguments streams none
            arguments = orjson.dumps(block["input"]).decode()
            yield from (
                {"type": "input_json_delta", "partial_json": piece} for piece in _pieces_of(arguments)
            )


class CountTokensWire(MessagesWire):
    """Anthropic's POST /v1/messages/count_tokens."""

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        return {"input_tokens": PROMPT_TOKENS}


class ResponsesWire(Wire):
    """OpenAI Responses: POST /v1/responses."""

    numbered = True

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        return self._response(answer, "completed", self._items(answer))

    def stream(self, answer: Answer, body: dict[str, Any]) -> Stream:
        chunker = _Chunker()
        for index, item in enumerate(self._items(answer)):
            added = {**item, **_EMPTY_ITEMS[item["type"]]}
            chunker.frame(_event("response.output_item.added", output_index=index, item=added))
            where = {"item_id": item["id"], "output_index": index}
            if item["type"] == "reasoning":
                self._summary(chunker, where, item["summary"][0])
            elif item["type"] == "message":
                self._text(chunker, where, item["content"][0])
            else:
                for piece in _pieces_of(item["arguments"]):
                    chunker.content(_event("response.function_call_arguments.delta", **where, delta=piece))
                done = {"name": item["name"], "arguments": item["arguments"]}
                chunker.frame(_event("response.function_call_arguments.done", **where, **done))
            chunker.frame(_event("response.output_item.done", output_index=index, item=item))
        opened = self._response(answer, "in_progress", [])
        completed = self._response(answer, "completed", self._items(answer))
        return Stream(
            head=[
                _event("response.created", response=opened),
                _event("response.in_progress", response=opened),
            ],
            chunks=chunker.chunks,
            tail=chunker.rest(),
            end=[_event("response.completed", response=completed)],
        )

    @staticmethod
    def _summary(chunker: _Chunker, where: dict[str, Any], summary: dict[str, Any]) -> None:
        part = {**where, "summary_index": 0}
        chunker.frame(_event("response.reasoning_summary_part.added", **part, part={**summary, "text": ""}))
        for word in words(summary["text"]):
            chunker.content(_event("response.reasoning_summary_text.delta", **part, delta=word))
        chunker.frame(_event("response.reasoning_summary_text.done", **part, text=summary["text"]))
        chunker.frame(_event("response.reasoning_summary_part.done", **part, part=summary))

    @staticmethod
    def _text(chunker: _Chunker, where: dict[str, Any], content: dict[str, Any]) -> None:
        part = {**where, "content_index": 0}
        chunker.frame(_event("response.content_part.added", **part, part={**content, "text": ""}))
        for word in words(content["text"]):
            chunker.content(_event("response.output_text.delta", **part, delta=word, logprobs=[]))
        chunker.frame(_event("response.output_text.done", **part, text=content["text"], logprobs=[]))
        chunker.frame(_event("response.content_part.done", **part, part=content))

    def failure(self, answer: Answer, error: dict[str, Any] | None) -> list[Event]:
        detail = (error or {}).get("error") or {}
        code = detail.get("code") or detail.get("type") or "server_error"
        message = detail.get("message") or "scripted midway failure"
        failed = {**self._response(answer, "failed", []), "error": {"code": code, "message": message}}
        return [
            _event("error", code=code, message=message, param=None),
            _event("response.failed", response=failed),
        ]

    @staticmethod
    def _response(answer: Answer, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
        input_tokens = PROMPT_TOKENS + answer.cache_read + answer.cache_write
        usage = {
            "input_tokens": input_tokens,
            "input_tokens_details": {
                "cached_tokens": answer.cache_read,
                "cache_write_tokens": answer.cache_write,
            },
            "output_tokens": COMPLETION_TOKENS,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + COMPLETION_TOKENS,
        }
        return {
            "id": f"resp_up_{answer.number}",
            "object": "response",
            "created_at": int(time.time()),
            "status": status,
            "model": answer.model,
            "output": output,
            "usage": usage if status == "completed" else None,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "parallel_tool_calls": True,
            "temperature": None,
            "tool_choice": "auto",
            "tools": [],
            "top_p": None,
        }

    @staticmethod
    def _items(answer: Answer) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        n = answer.number
        if answer.reasoning is not None:
            summary = [{"type": "summary_text", "text": answer.reasoning}]
            items.append({"type": "reasoning", "id": f"rs_up_{n}", "summary": summary})
        if answer.reply:
            text = {"type": "output_text", "text": answer.reply, "annotations": [], "logprobs": []}
            items.append(
                {
                    "type": "message",
                    "id": f"msg_up_{n}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [text],
                }
            )
        for i, (name, args) in enumerate(answer.tool_calls):
            call = {"id": f"fc_up_{n}_{i}", "call_id": _call_id(answer, i), "name": name, "arguments": args}
            items.append({"type": "function_call", **call, "status": "completed"})
        return items


class GeminiWire(Wire):
    """Google's Gemini API: POST /v1beta/models/{model}:generateContent, :streamGenerateContent.

    As the Gemini API does: no event names and no terminator besides the last event, whose
    candidate carries the ``finishReason`` and the usage; function calls come whole, each in an
    event of its own, the first carrying a thought signature (as Gemini 3's do); the prompt
    count includes the cached tokens."""

    named = False

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        return self._event(answer, self._parts(answer), finish=True)

    def stream(self, answer: Answer, body: dict[str, Any]) -> Stream:
        chunker = _Chunker()
        for part in self._parts(answer):
            pieces = words(part["text"]) if "text" in part else [""]
            for word in pieces:
                piece = {**part, "text": word} if "text" in part else part
                chunker.content(self._event(answer, [piece]))
        return Stream(chunks=chunker.chunks, end=[self._event(answer, [], finish=True)])

    def refusal(self, status: int, error: dict[str, Any] | None) -> dict[str, Any]:
        detail = (error or {}).get("error") or {}
        return _google_error(status, detail.get("message") or f"scripted {status}")

    def failure(self, answer: Answer, error: dict[str, Any] | None) -> list[Event]:
        detail = (error or {}).get("error") or {}
        return [_google_error(500, detail.get("message") or "scripted midway failure")]

    @staticmethod
    def _parts(answer: Answer) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        if answer.reasoning is not None:
            parts.append({"text": answer.reasoning, "thought": True})
        if answer.reply:
            parts.append({"text": answer.reply})
        for i, (name, args) in enumerate(answer.tool_calls):
            call = {"functionCall": {"id": _call_id(answer, i), "name": name, "args": orjson.loads(args)}}
            parts.append({**call, "thoughtSignature": "Z2VtaW5pLXNpZw=="} if i == 0 else call)
        return parts

    @staticmethod
    def _event(answer: Answer, parts: list[dict[str, Any]], *, finish: bool = False) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        prompt = PROMPT_TOKENS + answer.cache_read + answer.cache_write
        usage: dict[str, Any] = {"promptTokenCount": prompt}
        if finish:
            candidate["finishReason"] = "STOP"
            usage.update(candidatesTokenCount=COMPLETION_TOKENS, totalTokenCount=prompt + COMPLETION_TOKENS)
            if answer.cache_read:
                usage["cachedContentTokenCount"] = answer.cache_read
        return {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": answer.model,
            "responseId": f"resp_up_{answer.number}",
        }


class GeminiCountWire(GeminiWire):
    """Gemini's :countTokens."""

    def answer(self, answer: Answer, body: dict[str, Any]) -> dict[str, Any]:
        return {"totalTokens": PROMPT_TOKENS}


_GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
}


def _google_error(status: int, message: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message, "status": _GOOGLE_STATUS.get(status, "INTERNAL")}}


_EMPTY_BLOCKS: dict[str, dict[str, Any]] = {
    "thinking": {"thinking": "", "signature": ""},
    "text": {"text": ""},
    "tool_use": {"input": {}},
}
_EMPTY_ITEMS: dict[str, dict[str, Any]] = {
    "reasoning": {"summary": []},
    "message": {"status": "in_progress", "content": []},
    "function_call": {"status": "in_progress", "arguments": ""},
}
_ANTHROPIC_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def _anthropic_error(error: dict[str, Any] | None, kind: str, message: str) -> dict[str, Any]:
    """``error`` as Anthropic writes it: given in Anthropic's shape it is kept, in OpenAI's converted."""
    if error is not None and error.get("type") == "error":
        return error
    detail = (error or {}).get("error") or {}
    return {"type": "error", "error": {"type": kind, "message": detail.get("message") or message}}


def _event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **fields}


def _finish(answer: Answer) -> str:
    return "tool_calls" if answer.tool_calls else "stop"


def _stop_reason(answer: Answer) -> str:
    if answer.tool_calls:
        return "tool_use"
    return "end_turn" if answer.stop_sequence is None else "stop_sequence"


def _call_id(answer: Answer, index: int) -> str:
    return f"call_up_{answer.number}_{index}"


def _chat_usage(answer: Answer) -> dict[str, Any]:
    """Chat's convention: ``prompt_tokens`` includes what was read from and written to the cache."""
    prompt = PROMPT_TOKENS + answer.cache_read + answer.cache_write
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": prompt + COMPLETION_TOKENS,
    }
    if answer.cache_read or answer.cache_write:
        usage["prompt_tokens_details"] = {"cached_tokens": answer.cache_read}
        usage["cache_creation_input_tokens"] = answer.cache_write
    return usage


def words(text: str) -> list[str]:
    """The text's tokens: one a word, each after the first with its leading space ("" has none;
    a text that starts with a space, the rest of a script, starts with a spaced word)."""
    if not text:
        return []
    tokens = [(" " if index else "") + word for index, word in enumerate(text.split(" "))]
    return tokens[1:] if tokens[0] == "" and len(tokens) > 1 else tokens


def _pieces_of(arguments: str, count: int = 3) -> list[str]:
    """A tool call's arguments in ``count`` pieces or fewer, as models stream them."""
    size = max(1, -(-len(arguments) // count))
    return [arguments[start : start + size] for start in range(0, len(arguments), size)]


def _logprob(body: dict[str, Any], position: int, token: str) -> dict[str, Any]:
    """A made-up but well-formed logprob for the ``position``-th token, with ``top_logprobs`` alternatives."""
    logprob = -0.25 * (position + 1)
    alternatives = [
        {"token": token if rank == 0 else f"{token}~{rank}", "logprob": logprob - rank, "bytes": None}
        for rank in range(body.get("top_logprobs") or 0)
    ]
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": alternatives}
