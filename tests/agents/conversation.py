"""A scripted agent conversation upstream: a real aiohttp server on 127.0.0.1.

It plays one two-turn script to a coding agent: asked first, the model calls a tool that
writes a file; asked again once the tool's result is in the conversation, it answers
with a final text. It speaks four wires, each at its own path, each as a stream:

- Anthropic Messages (``POST /v1/messages``), Claude Code's own;
- OpenAI Responses (``POST /v1/responses``), Codex's own;
- Google's Gemini API (``POST /v1beta/models/gemini-2.5-flash:streamGenerateContent``), Gemini
  CLI's own (the model in the path, the stream asked by the method);
- OpenAI chat completions (``POST /v1/chat/completions``) with tool calls, the plain
  upstream a gateway translates to.

Which turn a request is in is read from the request itself (is there a tool result in
its conversation?), never counted, so a retried request gets the same answer. A request
that offers no tools (an agent's side request: a title, a summary) gets the final text.
Every request is recorded in ``requests``; a request on a wire other than the script's
is recorded and refused with 404, so a test sees which wire the agent (or gateway) spoke.
"""

from __future__ import annotations

import asyncio
import enum
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web


class Wire(enum.Enum):
    MESSAGES = "/v1/messages"
    RESPONSES = "/v1/responses"
    CHAT = "/v1/chat/completions"
    GEMINI = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Script:
    wire: Wire
    tool_call: ToolCall  # turn 1
    answer: str  # turn 2, once the tool's result is back


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]  # names in lower case
    body: dict[str, Any]

    @property
    def tool_names(self) -> list[str]:
        """The names of the tools the request offers, whatever the wire's shape for them."""
        names = []
        for tool in self.body.get("tools") or []:
            if "functionDeclarations" in tool:  # Gemini: one tool holds every declaration
                names += [declaration["name"] for declaration in tool["functionDeclarations"]]
                continue
            function = tool.get("function")
            names.append(function["name"] if isinstance(function, dict) else tool.get("name") or tool["type"])
        return names


def has_tool_result(wire: Wire, body: dict[str, Any]) -> bool:
    """Whether the conversation in ``body`` carries a tool's result back to the model."""
    if wire is Wire.MESSAGES:
        return any(
            isinstance(message.get("content"), list)
            and any(block.get("type") == "tool_result" for block in message["content"])
            for message in body.get("messages", [])
        )
    if wire is Wire.GEMINI:
        return any(
            "functionResponse" in part
            for content in body.get("contents", [])
            for part in content.get("parts", [])
        )
    if wire is Wire.RESPONSES:
        items = body.get("input")
        return isinstance(items, list) and any(
            item.get("type") in ("function_call_output", "custom_tool_call_output") for item in items
        )
    return any(message.get("role") == "tool" for message in body.get("messages", []))


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def messages_stream(model: str, reply: str | ToolCall) -> list[bytes]:
    """An Anthropic Messages stream: one text block, or one tool_use block."""
    usage: dict[str, Any] = {"input_tokens": 120, "output_tokens": 1}
    start: dict[str, Any] = {
        "id": "msg_scripted",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
    }
    if isinstance(reply, ToolCall):
        block = {"type": "tool_use", "id": "toolu_scripted_1", "name": reply.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": orjson.dumps(reply.arguments).decode()}
        stop_reason = "tool_use"
    else:
        block = {"type": "text", "text": ""}
        delta = {"type": "text_delta", "text": reply}
        stop_reason = "end_turn"
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": {**start, "stop_reason": None, "stop_sequence": None, "usage": usage}}),
        ("content_block_start", {"index": 0, "content_block": block}),
        ("content_block_delta", {"index": 0, "delta": delta}),
        ("content_block_stop", {"index": 0}),
        (
            "message_delta",
            {"delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": 20}},
        ),
        ("message_stop", {}),
    ]
    return [sse({"type": name, **data}, name) for name, data in events]


def responses_stream(model: str, reply: str | ToolCall) -> list[bytes]:
    """An OpenAI Responses stream of typed events: one message item, or one function_call item."""
    response: dict[str, Any] = {
        "id": "resp_scripted",
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "in_progress",
        "output": [],
    }
    events: list[tuple[str, dict[str, Any]]] = [("response.created", {"response": response})]
    item: dict[str, Any]
    if isinstance(reply, ToolCall):
        arguments = orjson.dumps(reply.arguments).decode()
        item = {
            "type": "function_call",
            "id": "fc_scripted_1",
            "call_id": "call_scripted_1",
            "name": reply.name,
        }
        done = {**item, "arguments": arguments, "status": "completed"}
        events += [
            (
                "response.output_item.added",
                {"output_index": 0, "item": {**item, "arguments": "", "status": "in_progress"}},
            ),
            (
                "response.function_call_arguments.delta",
                {"item_id": item["id"], "output_index": 0, "delta": arguments},
            ),
            (
                "response.function_call_arguments.done",
                {"item_id": item["id"], "output_index": 0, "arguments": arguments},
            ),
            ("response.output_item.done", {"output_index": 0, "item": done}),
        ]
    else:
        item = {"type": "message", "id": "msg_scripted_1", "role": "assistant"}
        part = {"type": "output_text", "text": "", "annotations": []}
        where = {"item_id": item["id"], "output_index": 0, "content_index": 0}
        done = {**item, "status": "completed", "content": [{**part, "text": reply}]}
        events += [
            (
                "response.output_item.added",
                {"output_index": 0, "item": {**item, "status": "in_progress", "content": []}},
            ),
            ("response.content_part.added", {**where, "part": part}),
            ("response.output_text.delta", {**where, "delta": reply}),
            ("response.output_text.done", {**where, "text": reply}),
            ("response.content_part.done", {**where, "part": {**part, "text": reply}}),
            ("response.output_item.done", {"output_index": 0, "item": done}),
        ]
    usage = {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 140,
    }
    events.append(
        (
            "response.completed",
            {"response": {**response, "status": "completed", "output": [done], "usage": usage}},
        )
    )
    return [
        sse({"type": name, "sequence_number": number, **data}, name)
        for number, (name, data) in enumerate(events)
    ]


def chat_stream(model: str, reply: str | ToolCall) -> list[bytes]:
    """An OpenAI chat completions stream: content, or one tool call; then usage and [DONE]."""
    base = {
        "id": "chatcmpl-scripted",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

    if isinstance(reply, ToolCall):
        call = {"index": 0, "id": "call_scripted_1", "type": "function"}
        chunks = [
            chunk(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**call, "function": {"name": reply.name, "arguments": ""}}],
                }
            ),
            chunk(
                {
                    "tool_calls": [
                        {"index": 0, "function": {"arguments": orjson.dumps(reply.arguments).decode()}}
                    ]
                }
            ),
            chunk({}, "tool_calls"),
        ]
    else:
        chunks = [chunk({"role": "assistant", "content": ""}), chunk({"content": reply}), chunk({}, "stop")]
    usage = {"prompt_tokens": 120, "completion_tokens": 20, "total_tokens": 140}
    return [*chunks, sse({**base, "choices": [], "usage": usage}), b"data: [DONE]\n\n"]


def gemini_stream(model: str, reply: str | ToolCall) -> list[bytes]:
    """A Gemini stream: one event with the text, or the whole function call, its finish and usage."""
    if isinstance(reply, ToolCall):
        part: dict[str, Any] = {
            "functionCall": {"id": "call_scripted_1", "name": reply.name, "args": reply.arguments}
        }
    else:
        part = {"text": reply}
    candidate = {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
    usage = {"promptTokenCount": 120, "candidatesTokenCount": 20, "totalTokenCount": 140}
    return [sse({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model})]


STREAMS = {
    Wire.MESSAGES: messages_stream,
    Wire.RESPONSES: responses_stream,
    Wire.CHAT: chat_stream,
    Wire.GEMINI: gemini_stream,
}


class ConversationUpstream:
    """Serves ``script`` on 127.0.0.1 from a background thread's event loop (see ``running``)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Seen] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, wire: Wire) -> list[Seen]:
        return [seen for seen in self.requests if seen.path == wire.value]

    @contextmanager
    def running(self) -> Iterator[ConversationUpstream]:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self._start(), loop).result(10)
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    async def _start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)  # agents send their whole context
        app.router.add_post("/{path:.*}", self._answer)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(Seen(request.path, headers, body))
        wire = self.script.wire
        if request.path != wire.value:
            message = f"this upstream speaks {wire.value}, not {request.path}"
            return web.json_response({"error": {"type": "not_found", "message": message}}, status=404)
        if not body.get("stream") and wire is not Wire.GEMINI:
            return web.json_response(
                {"error": {"type": "invalid_request", "message": "stream only"}}, status=400
            )
        final = has_tool_result(wire, body) or not body.get("tools")
        reply = self.script.answer if final else self.script.tool_call
        answer = web.StreamResponse(
            headers={
                "content-type": "text/event-stream",
                "cache-control": "no-cache",
                "x-request-id": f"req_{next(self._ids)}",
            }
        )
        await answer.prepare(request)
        model = request.path.split("/")[-1].split(":")[0] if wire is Wire.GEMINI else body.get("model", "")
        for event in STREAMS[wire](model, reply):
            await answer.write(event)
        await answer.write_eof()
        return answer
