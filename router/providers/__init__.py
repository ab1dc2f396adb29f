"""Providers: one object per deployment that knows how to call it."""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

import aiohttp

from router.config import FAKE_PROVIDER, Deployment, GatewayConfig
from router.providers.base import Provider, RequestBody
from router.providers.fake import FakeProvider
from router.providers.openai_compat import OpenAICompatibleProvider

__all__ = ["Provider", "ProviderSet", "RequestBody"]


def open_session() -> aiohttp.ClientSession:
    """The worker's pooled HTTP client for every native provider (built inside the running loop)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=30)
    return aiohttp.ClientSession(connector=connector, auto_decompress=True, trust_env=False)


class ProviderSet:
    """The providers of one worker, keyed by deployment name, and the session they share."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self._litellm: ModuleType | None = None
        self._providers: dict[str, Provider] = {}

    @classmethod
    def open(cls, config: GatewayConfig) -> ProviderSet:
        providers = cls(open_session())
        for deployment in config.deployments.values():
            providers._providers[deployment.name] = providers._build(deployment)
        return providers

    def _build(self, deployment: Deployment) -> Provider:
        if deployment.provider == FAKE_PROVIDER:
            return FakeProvider(deployment)
        if deployment.is_native:
            return OpenAICompatibleProvider(deployment, self.session)
        if self._litellm is None:
            from router.providers.litellm_adapter import load_litellm

            self._litellm = load_litellm()
        from router.providers.litellm_adapter import LiteLLMProvider

        return LiteLLMProvider(deployment, self._litellm)

    def __getitem__(self, deployment: str) -> Provider:
        return self._providers[deployment]

    @property
    def by_name(self) -> Mapping[str, Provider]:
        return self._providers

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        await self.session.close()
