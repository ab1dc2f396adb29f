"""The contract every provider implements, whatever its wire format."""

from __future__ import annotations

from typing import Any, Protocol

from router.config.model import Deployment
from router.providers.correlation import Correlation
from router.wire.dialect import Dialect
from router.wire.sse import Batches

# A parsed, validated client request body (model not yet rewritten).
RequestBody = dict[str, Any]


class Provider(Protocol):
    """Calls one deployment. Failures raise ``router.errors.UpstreamError`` subclasses only.

    ``correlation``, when given, holds the trace headers to send with the call, and is told
    the headers of the upstream's answer (``Correlation.answered``), error or success, as
    soon as they arrive."""

    deployment: Deployment
    wire: Dialect  # the wire API it speaks: bodies come, and answers go, in its shapes

    async def complete(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        """A non-streaming answer, as JSON bytes."""
        ...

    def stream(self, body: RequestBody, correlation: Correlation | None = None) -> Batches:
        """A streaming answer as complete SSE events (``b"data: ...\\n\\n"``), in the batches
        they arrived in.

        The last event is the wire API's last (chat's ``data: [DONE]``, Anthropic's
        ``message_stop``...); a stream that ends without it raises ``UpstreamError``. Closing the
        iterator early releases the upstream connection.
        """
        ...

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        """An embeddings answer, as OpenAI-shaped JSON bytes."""
        ...

    async def close(self) -> None:
        """Release connections; called once when the provider is retired."""
        ...
