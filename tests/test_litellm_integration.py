"""A litellm-served deployment (Anthropic's wire format) through the real 2-worker server.

The Anthropic API is played by a small aiohttp server on 127.0.0.1; the gateway imports
litellm in its workers only because this config has such a deployment.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from aiohttp import web

from tests.conftest import RunningGateway, serving

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-integration-0000"


def anthropic_app(seen: list[dict[str, Any]]) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append({"body": body, "key": request.headers.get("x-api-key")})
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "stop_reason": None,
            "stop_sequence": None,
        }
        if not body.get("stream"):
            return web.json_response(
                {
                    **message,
                    "content": [{"type": "text", "text": "hello from claude"}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 4, "output_tokens": 3},
                }
            )
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        events = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {**message, "content": [], "usage": {"input_tokens": 4, "output_tokens": 1}},
                },
            ),
            (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            *[
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": word},
                    },
                )
                for word in ("hello", " from", " claude")
            ],
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        for name, data in events:
            await response.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    return app


@pytest.fixture(scope="module")
def anthropic() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(anthropic_app(seen), access_log=None)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    yield f"http://127.0.0.1:{port}", seen
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture(scope="module")
def gateway(
    anthropic: tuple[str, list[dict[str, Any]]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGateway]:
    base_url, _ = anthropic
    config = f"""
        deployments:
          - {{name: claude, provider: anthropic, model: claude-3-5-haiku-20241022,
             api_key: "${{ANTHROPIC_API_KEY}}", base_url: "{base_url}"}}
        models:
          - {{name: claude, deployments: [claude]}}
        """
    with serving(config, tmp_path_factory.mktemp("litellm"), env={"ANTHROPIC_API_KEY": API_KEY}) as running:
        yield running


def test_json_and_stream_through_litellm(
    gateway: RunningGateway, anthropic: tuple[str, list[dict[str, Any]]]
) -> None:
    _, seen = anthropic
    client = openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="claude", messages=[{"role": "user", "content": "hi"}], max_tokens=20
    )
    assert answer.choices[0].message.content == "hello from claude"
    assert answer.usage is not None and answer.usage.total_tokens == 7
    chunks = list(
        client.chat.completions.create(
            model="claude", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "hello from claude"
    assert seen[0]["key"] == API_KEY and seen[0]["body"]["model"] == "claude-3-5-haiku-20241022"
    assert all(API_KEY not in line for line in gateway.output)
