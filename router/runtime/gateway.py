"""What a worker serves from: one config and the objects built from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from router.answers.cache import ResponseCache
from router.answers.flights import Flights
from router.config.gateway_keys import GatewayKey
from router.config.model import GatewayConfig
from router.dispatch.dispatcher import Dispatcher
from router.fleet.fleet import Fleet, Member
from router.limits import Limiter, per_worker
from router.providers.litellm_params import LiteLLMFieldPolicy
from router.runtime.keyring import FailureLimit, KeyRing
from router.spend.book import SpendBook
from router.state import open_state
from router.state.backend import StateBackend
from router.telemetry.labels import LimitKind, LimitScope
from router.telemetry.metrics import Metrics
from router.telemetry.series import declare_series


@dataclass(frozen=True, slots=True)
class Gateway:
    """A snapshot: a request holds the one it started with from start to end."""

    config: GatewayConfig
    fleet: Fleet
    dispatcher: Dispatcher
    keyring: KeyRing
    key_limits: Mapping[str, Limiter]
    cache: ResponseCache
    flights: Flights
    spend: SpendBook
    litellm_fields: LiteLLMFieldPolicy
    state: StateBackend

    @classmethod
    def build(
        cls,
        config: GatewayConfig,
        metrics: Metrics,
        *,
        workers: int = 1,
        state: StateBackend | None = None,
        spend: SpendBook | None = None,
    ) -> Gateway:
        """Must run inside the worker's event loop (it opens the HTTP session and limiters).

        ``workers``: how many worker processes share the gateway-wide caps and rate limits;
        ``state``: the worker's state backend (default: the one the config names), ``spend``:
        its spend book (their owner runs and closes them).
        """
        state = state or open_state(config, metrics)
        fleet = Fleet.build(config, share=workers, state=state)
        gateway = cls(
            config,
            fleet,
            Dispatcher(config, fleet, metrics, on_cooldown=_cooldown_announcer(state), pins=state.pins),
            KeyRing(config.keys, metrics, _failure_limit(config, workers)),
            _key_limits(config, workers, state),
            ResponseCache(config.cache, metrics),
            Flights(),
            spend or SpendBook(state.spend, config.state.sync_interval),
            LiteLLMFieldPolicy(config),
            state,
        )
        gateway._activate(metrics)
        return gateway

    def successor(
        self, config: GatewayConfig, metrics: Metrics, *, workers: int = 1
    ) -> tuple[Gateway, list[Member]]:
        """The gateway for a new config, built from this one, and the deployments it retires.

        Unchanged deployments keep their connections, limiters, statistics and breakers;
        unchanged keys keep their rate-limit buckets; the cache keeps its entries unless its
        bounds changed; flights in progress and the spend book carry over.
        """
        fleet, retired = self.fleet.successor(config)
        gateway = Gateway(
            config,
            fleet,
            self.dispatcher.successor(config, fleet),
            KeyRing(config.keys, metrics, _failure_limit(config, workers, self.keyring.limit)),
            _key_limits(config, workers, self.state, previous=self),
            self.cache.resize(config.cache),
            self.flights,
            self.spend,
            LiteLLMFieldPolicy(config),
            self.state,
        )
        gateway._activate(metrics)
        return gateway, retired

    def _activate(self, metrics: Metrics) -> None:
        """Make this snapshot's settings take effect in the parts that outlive it."""
        self.spend.tracking = any(key.budget is not None for key in self.config.keys)
        self.state.adopt(self.config)
        self.publish_limits(metrics)
        declare_series(self.config, metrics)

    def publish_limits(self, metrics: Metrics) -> None:
        """Export what this worker actually enforces, so an operator can see the split."""
        for member in self.fleet:
            for kind, value in (
                (LimitKind.RPM, member.rate.rpm),
                (LimitKind.TPM, member.rate.tpm),
                (LimitKind.CONCURRENCY, member.gate.limit),
            ):
                if value is not None:
                    metrics.worker_limit.labels(LimitScope.DEPLOYMENT, member.name, kind).set(value)
        for name, limit in self.key_limits.items():
            for kind, value in ((LimitKind.RPM, limit.rpm), (LimitKind.TPM, limit.tpm)):
                if value is not None:
                    metrics.worker_limit.labels(LimitScope.KEY, name, kind).set(value)

    def visible_models(self, key: GatewayKey | None) -> list[str]:
        return [name for name in self.config.models if key is None or key.allows(name)]

    @property
    def ready(self) -> bool:
        return bool(self.config.models) and any(member.breaker.available() for member in self.fleet)

    async def close(self) -> None:
        await self.fleet.close()


def _cooldown_announcer(state: StateBackend) -> Callable[[Member], None]:
    """Tell the other workers and instances when a breaker opens here (the backend speaks names)."""

    def announce(member: Member) -> None:
        state.announce_cooldown(member.name, member.breaker.seconds_until_available())

    return announce


def _failure_limit(
    config: GatewayConfig, workers: int, previous: FailureLimit | None = None
) -> FailureLimit | None:
    """This worker's share of ``server.auth_failures_per_minute``; an unchanged one keeps its addresses."""
    per_minute = per_worker(config.server.auth_failures_per_minute, workers)
    if per_minute is None:
        return None
    if previous is not None and previous.per_minute == per_minute:
        return previous
    return FailureLimit(per_minute)


def _key_limits(
    config: GatewayConfig, workers: int, state: StateBackend, previous: Gateway | None = None
) -> dict[str, Limiter]:
    """A rate limit per key that has one; a key unchanged since ``previous`` keeps its buckets."""
    unchanged = {key.name for key in config.keys if previous is not None and key in previous.config.keys}
    return {
        key.name: (
            previous.key_limits[key.name]
            if previous is not None and key.name in unchanged
            else state.rate_limit("key", key.name, key.rpm, key.tpm, share=workers)
        )
        for key in config.keys
        if key.rpm or key.tpm
    }
