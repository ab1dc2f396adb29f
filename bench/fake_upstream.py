"""A fast fake upstream for the benchmark (aiohttp on uvloop): OpenAI chat and Anthropic Messages.

The latency of an answer comes from the model name, so one server plays every
deployment: ``bench-50ms`` answers after 50 ms; ``bench-tail-50ms-1000ms-5pct`` answers
after 50 ms but takes 1,000 ms for 5 % of requests; ``bench-fail-30pct`` answers 500 for
30 % of requests. Streams send ``--chunks`` content chunks ``--chunk-delay-ms`` apart
(``gap0ms`` in the model name overrides the gap; ``burst`` in a chat model's name sends the whole
stream in one write, as an upstream behind a buffering proxy does). ``POST /v1/chat/completions`` answers in
OpenAI's chat format, ``POST /v1/messages`` in Anthropic's Messages format: the same text
("pong"), the same delays and failures, and a stream of the same ``--chunks`` content deltas
(message_start, content_block_start, N content_block_delta, content_block_stop,
message_delta, message_stop).

A Messages model named ``bench-cache-400ms-60ms-<name>`` keeps a prompt cache of its own
(each ``<name>`` is one deployment): a request whose history before its last exchange (the
previous turn's whole prompt) it answered within 5 minutes reads that much from the cache,
answers after the warm 60 ms and reports ``cache_read_input_tokens``; any other answers after
the cold 400 ms and reports what it wrote as ``cache_creation_input_tokens`` (4 characters a token).

    python bench/fake_upstream.py --port 9100
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import re
import time
from typing import Any

import orjson
import uvloop
from aiohttp import web

_DELAY = re.compile(r"(\d+)ms")
_TAIL = re.compile(r"tail-(\d+)ms-(\d+)ms-(\d+)pct")
_FAIL = re.compile(r"fail-(\d+)pct")
_GAP = re.compile(r"gap(\d+)ms")
_CACHE = re.compile(r"cache-(\d+)ms-(\d+)ms")
_CACHE_TTL = 300.0


class PromptCache:
    """The prompts each caching model answered, by hash, with when (``bench-cache-...`` models)."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, bytes], float] = {}

    @staticmethod
    def _digest(body: dict[str, Any], messages: list[Any]) -> tuple[bytes, int]:
        encoded = orjson.dumps([body.get("system"), body.get("tools"), messages])
        return hashlib.blake2b(encoded, digest_size=16).digest(), len(encoded)

    def turn(self, model: str, body: dict[str, Any]) -> tuple[float, int, int, bytes]:
        """(delay, tokens read, tokens written, the prompt's hash to remember once answered)."""
        match = _CACHE.search(model)
        assert match is not None
        cold, warm = (int(g) / 1000 for g in match.groups())
        messages = list(body.get("messages") or [])
        whole, size = self._digest(body, messages)
        previous, previous_size = self._digest(body, messages[:-2])
        seen = self._seen.get((model, previous))
        if len(messages) > 2 and seen is not None and seen > time.monotonic() - _CACHE_TTL:
            return warm, previous_size // 4, (size - previous_size) // 4, whole
        return cold, 0, size // 4, whole

    def remember(self, model: str, digest: bytes) -> None:
        self._seen[(model, digest)] = time.monotonic()


def _delay(model: str) -> float:
    tail = _TAIL.search(model)
    if tail:
        median, slow, percent = (int(g) for g in tail.groups())
        return (slow if random.random() * 100 < percent else median) / 1000
    match = _DELAY.search(model)
    return int(match.group(1)) / 1000 if match else 0.0


def _fails(model: str) -> bool:
    match = _FAIL.search(model)
    return bool(match) and random.random() * 100 < int(match.group(1))  # type: ignore[union-attr]


async def _scripted(request: web.Request, failure: bytes) -> tuple[dict[str, Any], str, web.Response | None]:
    """The request's body and model, after the model's scripted delay; and the scripted failure
    (a 500 with ``failure`` as its body) when this request is one to fail."""
    body: dict[str, Any] = orjson.loads(await request.read())
    model = str(body.get("model", "bench"))
    delay = _delay(model)
    if delay:
        await asyncio.sleep(delay)
    if _fails(model):
        return body, model, web.Response(status=500, body=failure, content_type="application/json")
    return body, model, None


def _gap(model: str, default: float) -> float:
    """Seconds between stream chunks: ``gapNms`` in the model name, else ``default``."""
    gap = _GAP.search(model)
    return int(gap.group(1)) / 1000 if gap else default


def build_app(chunks: int, chunk_delay: float) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body, model, failed = await _scripted(request, b'{"error": {"message": "scripted failure"}}')
        if failed is not None:
            return failed
        if body.get("stream"):
            return await stream(request, model, _gap(model, chunk_delay))
        answer = {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
        }
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def stream(request: web.Request, model: str, gap: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        head = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
        }
        held: list[bytes] = []  # a burst's events, written at once at the end

        async def send(event: bytes) -> None:
            if "burst" in model:
                held.append(event)
            else:
                await response.write(event)

        await send(
            b"data: "
            + orjson.dumps({**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            + b"\n\n"
        )
        for index in range(chunks):
            if index and gap:
                await asyncio.sleep(gap)
            delta = {"index": 0, "delta": {"content": f"tok{index} "}, "finish_reason": None}
            await send(b"data: " + orjson.dumps({**head, "choices": [delta]}) + b"\n\n")
        done = {"index": 0, "delta": {}, "finish_reason": "stop"}
        await send(b"data: " + orjson.dumps({**head, "choices": [done]}) + b"\n\ndata: [DONE]\n\n")
        if held:
            await response.write(b"".join(held))
        await response.write_eof()
        return response

    cache = PromptCache()

    async def cached_messages(request: web.Request, body: dict[str, Any], model: str) -> web.Response:
        delay, read, written, digest = cache.turn(model, body)
        await asyncio.sleep(delay)
        usage = {
            "input_tokens": 8,
            "output_tokens": 1,
            "cache_read_input_tokens": read,
            "cache_creation_input_tokens": written,
        }
        answer = {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "pong"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        response = web.Response(body=orjson.dumps(answer), content_type="application/json")
        cache.remember(model, digest)  # a call cancelled before this point caches nothing
        return response

    async def messages(request: web.Request) -> web.StreamResponse:
        raw = await request.read()  # aiohttp keeps it: _scripted reads the same bytes
        if b'"model":"bench-cache-' in raw:
            body = orjson.loads(raw)
            return await cached_messages(request, body, str(body.get("model")))
        failure = b'{"type": "error", "error": {"type": "api_error", "message": "scripted failure"}}'
        body, model, failed = await _scripted(request, failure)
        if failed is not None:
            return failed
        if body.get("stream"):
            return await messages_stream(request, model, _gap(model, chunk_delay))
        answer = {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "pong"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 8, "output_tokens": 1},
        }
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    def event(name: bytes, data: dict[str, object]) -> bytes:
        return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    async def messages_stream(request: web.Request, model: str, gap: float) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 8, "output_tokens": 1},
            },
        }
        await response.write(
            event(b"message_start", start)
            + event(
                b"content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
        )
        for index in range(chunks):
            if index and gap:
                await asyncio.sleep(gap)
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": f"tok{index} "},
            }
            await response.write(event(b"content_block_delta", delta))
        await response.write(
            event(b"content_block_stop", {"type": "content_block_stop", "index": 0})
            + event(
                b"message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": chunks},
                },
            )
            + event(b"message_stop", {"type": "message_stop"})
        )
        await response.write_eof()
        return response

    async def gemini(request: web.Request) -> web.StreamResponse:
        """Gemini's ``{model}:generateContent`` and ``:streamGenerateContent?alt=sse``: the model
        in the path, the last event carrying the finish and the usage."""
        model, _, method = request.match_info["target"].rpartition(":")
        await request.read()
        usage = {"promptTokenCount": 8, "candidatesTokenCount": chunks, "totalTokenCount": 8 + chunks}

        def answer(text: str, last: bool) -> dict[str, object]:
            candidate: dict[str, object] = {
                "content": {"role": "model", "parts": [{"text": text}]},
                "index": 0,
            }
            document: dict[str, object] = {
                "candidates": [candidate],
                "modelVersion": model,
                "responseId": "bench",
            }
            if last:
                candidate["finishReason"] = "STOP"
                document["usageMetadata"] = usage
            return document

        if method != "streamGenerateContent":
            return web.Response(body=orjson.dumps(answer("pong", True)), content_type="application/json")
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        gap = _gap(model, chunk_delay)
        for index in range(chunks):
            if index and gap:
                await asyncio.sleep(gap)
            event = answer(f"tok{index} ", index == chunks - 1)
            await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1beta/models/{target}", gemini)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-delay-ms", type=float, default=10.0)
    args = parser.parse_args()
    uvloop.install()
    web.run_app(
        build_app(args.chunks, args.chunk_delay_ms / 1000),
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        backlog=4096,
    )


if __name__ == "__main__":
    main()
