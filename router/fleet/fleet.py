"""The deployments of one worker at run time: provider, circuit breaker, stats, limits and price."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from router.config.model import Deployment, GatewayConfig, Price
from router.dialects.translate.targets import ANY_TARGET, TargetLimits
from router.fleet.breaker import Breaker, Clock, State
from router.fleet.stats import DeploymentStats
from router.fleet.targets import target_limits
from router.limits import ConcurrencyGate, Limiter, RateLimit, per_worker
from router.providers.base import Provider
from router.providers.factory import ProviderFactory
from router.providers.upstream_errors import Scrubber
from router.spend.pricing import litellm_table_for, price_of
from router.state.backend import StateBackend

logger = logging.getLogger("raceway.fleet")
cooldown_logger = logging.getLogger("raceway.cooldowns")


@dataclass(eq=False)
class Member:
    """One deployment as the router sees it."""

    deployment: Deployment
    provider: Provider
    breaker: Breaker
    stats: DeploymentStats
    price: Price | None
    gate: ConcurrencyGate = field(default_factory=lambda: ConcurrencyGate(None))
    rate: Limiter = field(default_factory=lambda: RateLimit(None, None))
    published_state: int = -1  # the breaker state last exported as a metric
    # What to remove from the errors its upstream reports in a stream (the fleet's: every secret).
    scrubber: Scrubber = field(default_factory=Scrubber, repr=False)
    target: TargetLimits = ANY_TARGET  # what its model accepts, for the requests translated to it

    @property
    def name(self) -> str:
        return self.deployment.name

    def has_capacity(self, tokens: int) -> bool:
        """Could a call start now without queueing or hitting a rate limit?"""
        return self.gate.has_capacity() and self.rate.has_capacity(tokens)

    def adopt_cooldown(self, seconds: float) -> bool:
        """Another worker or instance cooled this deployment down for ``seconds`` more: stay away
        that long too. True when that lengthened its cooldown here (its state is worth publishing)."""
        if seconds <= self.breaker.seconds_until_available() + 0.01:
            return False
        was = self.breaker.state
        self.breaker.cool_down_for(seconds)
        if was is not State.COOLED_DOWN:
            cooldown_logger.warning(
                "deployment %s cooled down elsewhere: skipped for %.1fs", self.name, seconds
            )
        return True


def _new_member(
    deployment: Deployment,
    factory: ProviderFactory,
    table: dict[str, Any],
    clock: Clock,
    share: int,
    state: StateBackend,
) -> Member:
    """``table``: litellm's bundled entries for the deployment (``litellm_table_for``)."""
    limits = deployment.limits
    return Member(
        deployment=deployment,
        provider=factory.build(deployment),
        scrubber=factory.scrubber,
        breaker=Breaker(deployment.cooldown, clock),
        stats=DeploymentStats(clock),
        price=price_of(deployment, table),
        target=target_limits(deployment, table),
        gate=ConcurrencyGate(
            per_worker(limits.max_concurrency, share),
            per_worker(limits.max_queue, share, minimum=0) or 0,
            limits.queue_timeout,
        ),
        rate=state.rate_limit(
            "deployment", deployment.name, limits.rpm, limits.tpm, share=share, wait=limits.limit_wait
        ),
    )


class Fleet:
    """Every deployment's ``Member``, built inside the worker's loop.

    A fleet built from a new config keeps the members of deployments whose settings did
    not change (their pooled connections, limiters, latency statistics and breaker state
    carry over); changed and added deployments start fresh.
    """

    def __init__(
        self,
        factory: ProviderFactory,
        members: Mapping[str, Member],
        clock: Clock,
        share: int,
        state: StateBackend,
        table: dict[str, Any] | None = None,
    ) -> None:
        """``table``: the entries of litellm's table read so far (``litellm_table_for``)."""
        self.factory = factory
        self._members = dict(members)
        self._clock = clock
        self._share = share
        self._state = state
        self._table = table or {}

    @classmethod
    def build(
        cls,
        config: GatewayConfig,
        clock: Clock = time.monotonic,
        *,
        share: int = 1,
        state: StateBackend,
        factory: ProviderFactory | None = None,
    ) -> Fleet:
        """``share``: how many workers split each deployment's caps (and, locally, its rate limits);
        ``state``: the backend that enforces the rate limits; ``factory``: what builds the providers
        (by default one over a new pooled HTTP session); the fleet owns it and closes it."""
        if factory is None:
            factory = ProviderFactory.open()
        factory.scrubber.add(config.secrets())
        table = litellm_table_for(config.deployments.values())
        members = {
            name: _new_member(deployment, factory, table, clock, share, state)
            for name, deployment in config.deployments.items()
        }
        return cls(factory, members, clock, share, state, table)

    def successor(self, config: GatewayConfig) -> tuple[Fleet, list[Member]]:
        """The fleet for ``config``, and the members it no longer uses (to drain and close)."""
        self.factory.scrubber.add(config.secrets())  # kept members' providers share it
        members: dict[str, Member] = {}
        for name, deployment in config.deployments.items():
            current = self._members.get(name)
            if current is not None and current.deployment == deployment:
                members[name] = current
        fresh = {name: deployment for name, deployment in config.deployments.items() if name not in members}
        table = litellm_table_for(fresh.values(), self._table)  # read for a model not seen yet
        for name, deployment in fresh.items():
            members[name] = _new_member(
                deployment, self.factory, table, self._clock, self._share, self._state
            )
        members = {name: members[name] for name in config.deployments}  # in the config's order
        kept = {id(member) for member in members.values()}
        retired = [member for member in self._members.values() if id(member) not in kept]
        return Fleet(self.factory, members, self._clock, self._share, self._state, table), retired

    def names(self) -> list[str]:
        return list(self._members)

    def adopt_cooldown(self, name: str, seconds: float) -> Member | None:
        """A cooldown announced elsewhere (``StateBackend.background``): the member it lengthened."""
        member = self._members.get(name)
        return member if member is not None and member.adopt_cooldown(seconds) else None

    def __getitem__(self, name: str) -> Member:
        return self._members[name]

    def get(self, name: str) -> Member | None:
        return self._members.get(name)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members.values())

    def __len__(self) -> int:
        return len(self._members)

    async def close(self) -> None:
        """At shutdown: close every provider, then the shared session."""
        for member in self._members.values():
            await member.provider.close()
        await self.factory.close()


async def drain(retired: list[Member], grace: float) -> None:
    """Let the calls of retired members finish (for up to ``grace`` seconds), then close their providers."""
    try:
        async with asyncio.timeout(grace):
            for member in retired:
                while member.stats.in_flight:  # noqa: ASYNC110 (a plain counter, polled only while draining)
                    await asyncio.sleep(0.05)
    except TimeoutError:
        busy = {member.name: member.stats.in_flight for member in retired if member.stats.in_flight}
        logger.warning("retired deployments still busy after %gs: %s", grace, busy)
    for member in retired:
        await member.provider.close()
