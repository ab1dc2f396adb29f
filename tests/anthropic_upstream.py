"""A fake Anthropic Messages API on 127.0.0.1, for deployments served through litellm.

It answers ``POST /v1/messages`` as JSON or as an SSE stream, each answer with a
``request-id`` header as Anthropic's have, and records each request's body, ``x-api-key``,
headers and the request id it answered with in ``seen``.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web


def message_stream(message: dict[str, Any], words: tuple[str, ...]) -> bytes:
    """``message`` (a whole Messages answer with one text block) as Anthropic's SSE events."""
    usage = message["usage"]
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    **message,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        *[
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": word}},
            )
            for word in words
        ],
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n" for name, data in events)


def anthropic_app(seen: list[dict[str, Any]]) -> web.Application:
    words = ("hello", " from", " claude")

    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        request_id = f"req_ant_{len(seen) + 1}"
        seen.append(
            {
                "body": body,
                "key": request.headers.get("x-api-key"),
                "headers": dict(request.headers),
                "request_id": request_id,
            }
        )
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": "".join(words)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 4, "output_tokens": 3},
        }
        if not body.get("stream"):
            return web.json_response(message, headers={"request-id": request_id})
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "request-id": request_id})
        await response.prepare(request)
        await response.write(message_stream(message, words))
        return response

    app = web.Application(client_max_size=64 * 1024 * 1024)  # coding agents send megabytes
    app.router.add_post("/v1/messages", messages)
    return app
