"""What a worker serves from: one config and the objects built from it."""

from __future__ import annotations

from dataclasses import dataclass

from router.auth import KeyRing
from router.config import GatewayConfig, GatewayKey
from router.dispatch import Dispatcher
from router.fleet import Fleet
from router.metrics import Metrics


@dataclass(frozen=True, slots=True)
class Gateway:
    """A snapshot: a request holds the one it started with from start to end."""

    config: GatewayConfig
    fleet: Fleet
    dispatcher: Dispatcher
    keyring: KeyRing

    @classmethod
    def build(cls, config: GatewayConfig, metrics: Metrics) -> Gateway:
        """Must run inside the worker's event loop (it opens the HTTP session)."""
        fleet = Fleet.build(config)
        return cls(config, fleet, Dispatcher(config, fleet, metrics), KeyRing(config.keys))

    def visible_models(self, key: GatewayKey | None) -> list[str]:
        return [name for name in self.config.models if key is None or key.allows(name)]

    @property
    def ready(self) -> bool:
        return bool(self.config.models) and any(member.breaker.available() for member in self.fleet)

    async def close(self) -> None:
        await self.fleet.close()
