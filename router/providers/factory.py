"""The worker's provider factory: one provider per deployment, sharing one pooled HTTP session."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from router.config.model import FAKE_PROVIDER, Deployment
from router.providers.base import Provider
from router.providers.fake import FakeProvider
from router.providers.upstream_errors import Scrubber
from router.wire.dialect import Dialect

if TYPE_CHECKING:  # aiohttp and the native providers load with the first deployment that calls out
    import aiohttp


def open_session() -> aiohttp.ClientSession:
    """The worker's pooled HTTP client for every native provider (built inside the running loop)."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)


class ProviderFactory:
    """Builds a worker's providers; owns what they share (the HTTP session, litellm once loaded,
    the scrubber that keeps every configured secret out of what upstream errors pass on).

    What a provider needs is loaded with the first deployment that uses it: a config of fake
    deployments only never imports aiohttp (nor litellm without an adapter deployment)."""

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        """``session``: the pooled HTTP client; by default one opened for the first native deployment."""
        self._session = session
        self.scrubber = Scrubber()
        self._litellm: ModuleType | None = None
        self._closed = False

    @classmethod
    def open(cls) -> ProviderFactory:
        return cls()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("the provider factory is closed: no session is opened again")
        if self._session is None:
            self._session = open_session()
        return self._session

    def build(self, deployment: Deployment) -> Provider:
        if deployment.provider == FAKE_PROVIDER:
            return FakeProvider(deployment)
        if deployment.is_native and deployment.api is Dialect.MESSAGES:
            from router.providers.anthropic import AnthropicProvider

            return AnthropicProvider(deployment, self.session, self.scrubber)
        if deployment.is_native and deployment.api is Dialect.GEMINI:
            from router.providers.gemini import GeminiProvider

            return GeminiProvider(deployment, self.session, self.scrubber)
        if deployment.is_native:
            from router.providers.openai_compat import OpenAICompatibleProvider

            return OpenAICompatibleProvider(deployment, self.session, self.scrubber)
        if self._litellm is None:
            from router.providers.litellm_adapter import load_litellm

            self._litellm = load_litellm()
        from router.providers.litellm_adapter import LiteLLMProvider

        return LiteLLMProvider(deployment, self._litellm, self.scrubber)

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
