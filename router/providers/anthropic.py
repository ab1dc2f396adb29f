"""Anthropic's Messages API, spoken natively: no litellm on the most used non-OpenAI path.

Authenticates with ``x-api-key``; sends ``anthropic-version`` (the client's when it sent one,
else ``2023-06-01``) and the client's ``anthropic-beta``; the deployment's own ``headers``
win over both. Posts to ``{base_url}/v1/messages`` (the base URL as the anthropic SDK takes
it, without ``/v1``).
"""

from __future__ import annotations

import aiohttp

from router.config.model import Deployment
from router.errors import UpstreamRejected
from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.providers.http import HTTPProvider
from router.providers.upstream_errors import Scrubber

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicProvider(HTTPProvider):
    def __init__(
        self, deployment: Deployment, session: aiohttp.ClientSession, scrubber: Scrubber | None = None
    ) -> None:
        super().__init__(deployment, session, scrubber)
        # The deployment's own headers, which win over the client's forwarded ones.
        self._configured = {name: value.reveal() for name, value in deployment.headers.items()}

    def _auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if key is not None:
            headers["x-api-key"] = key.reveal()
        return headers

    def _headers_for(self, correlation: Correlation | None) -> dict[str, str]:
        headers = super()._headers_for(correlation)
        if correlation is None or not correlation.forwarded:
            return headers
        return {**headers, **correlation.forwarded, **self._configured}

    def _generate_url(self) -> str:
        return f"{self.deployment.base_url}/v1/messages"

    async def count_tokens(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        """``POST /v1/messages/count_tokens``: the body's input tokens, as Anthropic counts them."""
        url = f"{self.deployment.base_url}/v1/messages/count_tokens"
        return await self._post_json(url, self._payload(body), correlation)

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        raise UpstreamRejected(
            f"deployment {self.deployment.name} speaks Anthropic's Messages API, which has no embeddings",
            status=400,
            deployment=self.deployment.name,
            code="embeddings_not_supported",
        )
