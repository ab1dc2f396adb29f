"""A worker's connection to the shared Redis, and whether it may be used right now.

Every shared operation goes through ``RedisState.call``. When Redis cannot be reached
(refused, timed out, an error reply) the call raises ``StateUnavailable`` at once and the
caller falls back to its local behaviour; for the next second every call does so
without touching the network, then one call tries again, and the first success brings
the shared behaviour back. The switch is logged once each way and exported as
``raceway_state_backend_up``. No request fails only because Redis blinked.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from router.config.model import BackendKind, StateSettings
from router.telemetry.metrics import Metrics

if TYPE_CHECKING:  # redis is imported only by gateways that use it (~70 ms, a few MB per worker)
    import redis.asyncio as redis
    from redis.commands.core import AsyncScript

logger = logging.getLogger("raceway.state")

T = TypeVar("T")

RETRY_AFTER = 1.0  # seconds without Redis after a failure, before trying again


class StateUnavailable(Exception):
    """Redis cannot be used right now: do it locally."""


class RedisState:
    def __init__(
        self, settings: StateSettings, metrics: Metrics, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        assert settings.url is not None, "config validation requires a url with backend: redis"
        client = importlib.import_module("redis.asyncio")
        retry = importlib.import_module("redis.asyncio.retry")
        backoff = importlib.import_module("redis.backoff")
        self.client: redis.Redis = client.Redis.from_url(
            settings.url.reveal(),
            socket_timeout=settings.timeout,  # beyond it, the local fallback serves
            socket_connect_timeout=settings.timeout,
            retry=retry.Retry(backoff.NoBackoff(), 0),  # one attempt: the fallback is the retry
        )
        # What "Redis failed" looks like: its own errors, a socket's, a timeout.
        self._failures = (importlib.import_module("redis.exceptions").RedisError, OSError, TimeoutError)
        self.prefix = settings.prefix
        self._clock = clock
        self._down_until = 0.0
        self._up = True
        self._scripts: dict[str, AsyncScript] = {}
        self._up_gauge = metrics.state_backend_up.labels(BackendKind.REDIS)
        self._up_gauge.set(1)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def script(self, source: str) -> AsyncScript:
        """A Lua script run with EVALSHA (loaded again by redis-py if Redis lost it)."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.client.register_script(source)
        return script

    @property
    def up(self) -> bool:
        return self._up

    async def call(self, work: Callable[[redis.Redis], Awaitable[T]]) -> T:
        """``work`` on the client, or ``StateUnavailable`` if Redis fails (or failed less than 1 s ago)."""
        if self._clock() < self._down_until:
            raise StateUnavailable
        try:
            result = await work(self.client)
        except self._failures as exc:
            self._down(exc)
            raise StateUnavailable from exc
        if not self._up:
            self._up = True
            self._up_gauge.set(1)
            logger.warning("Redis is reachable again: limits, cooldowns, cache and spend are shared again")
        return result

    def _down(self, error: BaseException) -> None:
        self._down_until = self._clock() + RETRY_AFTER
        if self._up:
            self._up = False
            self._up_gauge.set(0)
            logger.error(
                "Redis failed (%s: %s): serving with local state (per-worker limits, cache and "
                "coalescing; spend kept until Redis returns); retrying every %gs",
                type(error).__name__,
                error,
                RETRY_AFTER,
            )

    async def close(self) -> None:
        await self.client.aclose()
