"""The worker's provider factory: one provider per deployment, sharing one pooled HTTP session."""

from __future__ import annotations

from types import ModuleType

import aiohttp

from router.config.model import FAKE_PROVIDER, Deployment
from router.providers.anthropic import AnthropicProvider
from router.providers.base import Provider
from router.providers.fake import FakeProvider
from router.providers.gemini import GeminiProvider
from router.providers.openai_compat import OpenAICompatibleProvider
from router.providers.upstream_errors import Scrubber
from router.wire.dialect import Dialect


def open_session() -> aiohttp.ClientSession:
    """The worker's pooled HTTP client for every native provider (built inside the running loop)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)


class ProviderFactory:
    """Builds a worker's providers; owns what they share (the HTTP session, litellm once loaded,
    the scrubber that keeps every configured secret out of what upstream errors pass on)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.scrubber = Scrubber()
        self._litellm: ModuleType | None = None

    @classmethod
    def open(cls) -> ProviderFactory:
        return cls(open_session())

    def build(self, deployment: Deployment) -> Provider:
        if deployment.provider == FAKE_PROVIDER:
            return FakeProvider(deployment)
        if deployment.is_native and deployment.api is Dialect.MESSAGES:
            return AnthropicProvider(deployment, self.session, self.scrubber)
        if deployment.is_native and deployment.api is Dialect.GEMINI:
            return GeminiProvider(deployment, self.session, self.scrubber)
        if deployment.is_native:
            return OpenAICompatibleProvider(deployment, self.session, self.scrubber)
        if self._litellm is None:
            from router.providers.litellm_adapter import load_litellm

            self._litellm = load_litellm()
        from router.providers.litellm_adapter import LiteLLMProvider

        return LiteLLMProvider(deployment, self._litellm, self.scrubber)

    async def close(self) -> None:
        await self.session.close()
