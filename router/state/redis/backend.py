"""The Redis backend (``state.backend: redis``): everything a worker shares through Redis,
opened and closed together, behind the ``StateBackend`` interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from router.config.model import GatewayConfig
from router.limits import Limiter, RateLimit
from router.state.backend import Loop
from router.state.pins import PinTable
from router.state.redis.answers import RedisAnswers
from router.state.redis.connection import RedisState
from router.state.redis.cooldowns import CooldownBoard
from router.state.redis.limits import SharedRateLimit
from router.state.redis.pins import RedisPins
from router.state.redis.spend import RedisSpendStore
from router.telemetry.metrics import Metrics


class RedisBackend:
    name = "redis"

    def __init__(self, redis: RedisState, cooldowns: CooldownBoard, answers: RedisAnswers) -> None:
        self.redis = redis
        self.cooldowns = cooldowns
        self.answers = answers
        self.spend = RedisSpendStore(redis)
        self.pins = RedisPins(redis, PinTable(None))

    @classmethod
    def open(cls, config: GatewayConfig, metrics: Metrics) -> RedisBackend:
        redis = RedisState(config.state, metrics)
        return cls(
            redis,
            CooldownBoard(redis, config.state.cooldown_poll),
            RedisAnswers(redis, config.cache, metrics),
        )

    def rate_limit(
        self, scope: str, name: str, rpm: int | None, tpm: int | None, *, share: int, wait: float = 0.0
    ) -> Limiter:
        """Shared through Redis, with this worker's share as the fallback while Redis is down."""
        local = RateLimit(rpm, tpm, share=share, wait=wait)
        if not (rpm or tpm):
            return local
        return SharedRateLimit(self.redis, scope, name, rpm, tpm, wait=wait, fallback=local)

    def announce_cooldown(self, deployment: str, seconds: float) -> None:
        self.cooldowns.announce(deployment, seconds)

    def background(
        self, deployments: Callable[[], Sequence[str]], on_cooldown: Callable[[str, float], None]
    ) -> dict[str, Loop]:
        return {"shared cooldown watch": lambda: self.cooldowns.watch(deployments, on_cooldown)}

    def adopt(self, config: GatewayConfig) -> None:
        self.answers.settings = config.cache

    async def close(self) -> None:
        await self.cooldowns.close()
        await self.answers.close()
        await self.pins.close()
        await self.redis.close()
