"""The built-in in-process provider: deterministic echo answers, so the gateway runs with no key."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from typing import Any

import orjson

from router.config.model import Deployment, FakeSettings
from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.wire.dialect import Dialect
from router.wire.sse import DONE_EVENT, Batches

_ids = itertools.count(1)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        texts = (part.get("text") for part in content if isinstance(part, dict))
        return " ".join(text for text in texts if isinstance(text, str))
    return ""


def estimate_tokens(text: str) -> int:
    """A rough count (about four characters a token), enough for a fake's usage block."""
    return max(1, (len(text) + 3) // 4) if text else 0


class FakeProvider:
    """Answers ``echo: <last user message>`` (or a fixed reply) after a configured latency."""

    wire = Dialect.CHAT

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.settings = deployment.fake or FakeSettings()

    def _reply(self, body: RequestBody) -> tuple[str, int]:
        messages = body.get("messages", [])
        prompt = " ".join(_text_of(m.get("content")) for m in messages)
        if self.settings.reply is not None:
            reply = self.settings.reply
        else:
            last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
            reply = "echo: " + (_text_of(last_user.get("content")) if last_user else "")
        return reply, estimate_tokens(prompt)

    def _envelope(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-fake-{next(_ids)}",
            "object": kind,
            "created": int(time.time()),
            "model": self.deployment.model,
            "system_fingerprint": "raceway-fake",
        }

    async def complete(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        reply, prompt_tokens = self._reply(body)
        if self.settings.latency:
            await asyncio.sleep(self.settings.latency)
        completion_tokens = estimate_tokens(reply)
        return orjson.dumps(
            {
                **self._envelope("chat.completion"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def stream(self, body: RequestBody, correlation: Correlation | None = None) -> Batches:
        reply, prompt_tokens = self._reply(body)
        envelope = self._envelope("chat.completion.chunk")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            return b"data: " + orjson.dumps({**envelope, "choices": choices, **extra}) + b"\n\n"

        if self.settings.latency:
            await asyncio.sleep(self.settings.latency)
        # What is ready at once goes in one batch: a batch ends before each ``chunk_delay``.
        batch = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
        words = reply.split(" ")
        for index, word in enumerate(words):
            if index and self.settings.chunk_delay:
                yield batch
                batch = []
                await asyncio.sleep(self.settings.chunk_delay)
            piece = word if index == 0 else " " + word
            batch.append(event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
        batch.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        if include_usage:
            completion_tokens = estimate_tokens(reply)
            usage = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
            batch.append(event([], usage=usage))
        batch.append(DONE_EVENT)
        yield batch

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        raw_input = body.get("input")
        inputs = raw_input if isinstance(raw_input, list) else [raw_input]
        if self.settings.latency:
            await asyncio.sleep(self.settings.latency)
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else orjson.dumps(item).decode()
            tokens += estimate_tokens(text)
            digest = hashlib.sha256(text.encode()).digest()
            vector = [round(byte / 255 * 2 - 1, 6) for byte in digest[:8]]
            data.append({"object": "embedding", "index": index, "embedding": vector})
        return orjson.dumps(
            {
                "object": "list",
                "data": data,
                "model": self.deployment.model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def close(self) -> None:
        return None
