"""The deployments of one worker at run time: provider, circuit breaker, stats and price."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from router.config import Deployment, GatewayConfig, Price
from router.health import Breaker, Clock
from router.limits import ConcurrencyGate, RateLimit, per_worker
from router.pricing import litellm_price_table, price_of
from router.providers import Provider, ProviderSet
from router.stats import DeploymentStats


@dataclass(eq=False)
class Member:
    """One deployment as the router sees it."""

    deployment: Deployment
    provider: Provider
    breaker: Breaker
    stats: DeploymentStats
    price: Price | None
    gate: ConcurrencyGate = field(default_factory=lambda: ConcurrencyGate(None))
    rate: RateLimit = field(default_factory=lambda: RateLimit(None, None))

    @property
    def name(self) -> str:
        return self.deployment.name

    def has_capacity(self, tokens: int) -> bool:
        """Could a call start now without queueing or hitting a rate limit?"""
        return self.gate.has_capacity() and self.rate.has_capacity(tokens)


class Fleet:
    """Every deployment's ``Member``, built once per config inside the worker's loop."""

    def __init__(self, providers: ProviderSet, members: Mapping[str, Member]) -> None:
        self.providers = providers
        self._members = dict(members)

    @classmethod
    def build(cls, config: GatewayConfig, clock: Clock = time.monotonic, *, share: int = 1) -> Fleet:
        """``share``: how many workers split each deployment's caps and rate limits."""
        providers = ProviderSet.open(config)
        needs_table = any(d.price is None for d in config.deployments.values())
        table = litellm_price_table() if needs_table else {}
        members = {
            name: Member(
                deployment=deployment,
                provider=providers[name],
                breaker=Breaker(deployment.cooldown, clock),
                stats=DeploymentStats(clock),
                price=price_of(deployment, table),
                gate=ConcurrencyGate(
                    per_worker(deployment.limits.max_concurrency, share),
                    per_worker(deployment.limits.max_queue, share, minimum=0) or 0,
                    deployment.limits.queue_timeout,
                ),
                rate=RateLimit(
                    deployment.limits.rpm,
                    deployment.limits.tpm,
                    share=share,
                    wait=deployment.limits.limit_wait,
                ),
            )
            for name, deployment in config.deployments.items()
        }
        return cls(providers, members)

    def __getitem__(self, name: str) -> Member:
        return self._members[name]

    def get(self, name: str) -> Member | None:
        return self._members.get(name)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members.values())

    def __len__(self) -> int:
        return len(self._members)

    async def close(self) -> None:
        await self.providers.close()
