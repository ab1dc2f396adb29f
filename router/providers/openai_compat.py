"""OpenAI-compatible APIs (OpenAI, vLLM, Groq...): Chat Completions or the Responses API."""

from __future__ import annotations

from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.providers.http import HTTPProvider
from router.wire.dialect import Dialect

_PATHS = {Dialect.CHAT: "/chat/completions", Dialect.RESPONSES: "/responses"}


class OpenAICompatibleProvider(HTTPProvider):
    """Bearer authentication; posts to ``{base_url}/chat/completions`` or ``/responses``."""

    def _auth_headers(self) -> dict[str, str]:
        key = self.deployment.api_key
        return {} if key is None else {"authorization": f"Bearer {key.reveal()}"}

    def _generate_url(self) -> str:
        return f"{self.deployment.base_url}{_PATHS[self.wire]}"

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        url = f"{self.deployment.base_url}/embeddings"
        return await self._post_json(url, self._payload(body), correlation)
