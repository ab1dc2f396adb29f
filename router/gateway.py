"""What a worker serves from: one config and the objects built from it."""

from __future__ import annotations

from dataclasses import dataclass

from router.auth import KeyRing
from router.config import GatewayConfig, GatewayKey, ModelGroup
from router.dispatch import Dispatcher
from router.errors import ModelNotFound, PermissionDenied
from router.providers import ProviderSet


@dataclass(frozen=True, slots=True)
class Gateway:
    """A snapshot: a request holds the one it started with from start to end."""

    config: GatewayConfig
    providers: ProviderSet
    dispatcher: Dispatcher
    keyring: KeyRing

    @classmethod
    def build(cls, config: GatewayConfig) -> Gateway:
        """Must run inside the worker's event loop (it opens the HTTP session)."""
        providers = ProviderSet.open(config)
        return cls(config, providers, Dispatcher(providers), KeyRing(config.keys))

    def model_group(self, model: str, key: GatewayKey | None) -> ModelGroup:
        group = self.config.models.get(model)
        if group is None:
            raise ModelNotFound(f"the model {model!r} does not exist", param="model")
        if key is not None and not key.allows(model):
            raise PermissionDenied(f"this key may not use the model {model!r}", param="model")
        return group

    def visible_models(self, key: GatewayKey | None) -> list[str]:
        return [name for name in self.config.models if key is None or key.allows(name)]

    @property
    def ready(self) -> bool:
        return bool(self.providers.by_name) and bool(self.config.models)

    async def close(self) -> None:
        await self.providers.close()
