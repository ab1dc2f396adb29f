"""What the official SDKs received from the gateway, byte for byte: an httpx transport that records.

The openai and anthropic SDKs take an ``http_client``; with ``tapped_client()`` each exchange
(a JSON answer, or every byte of a stream as the SDK's own reader consumed it) is kept as an
``Exchange``, so a test can check the raw documents against the providers' schemas while the
SDK's accumulators check that they make sense.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson


@dataclass
class Exchange:
    path: str
    status: int
    headers: httpx.Headers
    body: bytes = b""
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def streamed(self) -> bool:
        return self.headers.get("content-type", "").startswith("text/event-stream")

    def json(self) -> Any:
        return orjson.loads(self.body)

    def events(self) -> list[tuple[str | None, Any]]:
        """The stream's events as (``event:`` name or None, data): JSON decoded, ``[DONE]`` as is."""
        events: list[tuple[str | None, Any]] = []
        for block in self.body.decode().replace("\r\n", "\n").split("\n\n"):
            name, data = None, []
            for line in block.split("\n"):
                if line.startswith("event:"):
                    name = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    data.append(line.removeprefix("data:").removeprefix(" "))
            if data:
                text = "\n".join(data)
                events.append((name, text if text == "[DONE]" else orjson.loads(text)))
        return events


class _Recorded(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, exchange: Exchange) -> None:
        self._inner = inner
        self._exchange = exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.body += chunk
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class TapTransport(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        sent = orjson.loads(request.content) if request.content else {}
        exchange = Exchange(request.url.path, response.status_code, response.headers, request=sent)
        self.exchanges.append(exchange)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_Recorded(response.stream, exchange),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def tapped_client() -> tuple[httpx.AsyncClient, TapTransport]:
    """An http_client for the SDKs (their own timeout), and the tap recording its exchanges."""
    tap = TapTransport()
    return httpx.AsyncClient(transport=tap, timeout=30), tap
