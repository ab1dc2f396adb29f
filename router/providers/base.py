"""The contract every provider implements, whatever its wire format."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any, Protocol

from router.config.model import Deployment

# A parsed, validated client request body (model not yet rewritten).
RequestBody = dict[str, Any]


class Provider(Protocol):
    """Calls one deployment. Failures raise ``router.errors.UpstreamError`` subclasses only."""

    deployment: Deployment

    async def chat(self, body: RequestBody) -> bytes:
        """A non-streaming chat completion, as OpenAI-shaped JSON bytes."""
        ...

    def chat_stream(self, body: RequestBody) -> AsyncGenerator[bytes, None]:
        """A streaming chat completion as complete SSE events (``b"data: ...\\n\\n"``).

        The last event is ``data: [DONE]``; a stream that ends without it raises
        ``UpstreamError``. Closing the iterator early releases the upstream connection.
        """
        ...

    async def embeddings(self, body: RequestBody) -> bytes:
        """An embeddings answer, as OpenAI-shaped JSON bytes."""
        ...

    async def close(self) -> None:
        """Release connections; called once when the provider is retired."""
        ...
