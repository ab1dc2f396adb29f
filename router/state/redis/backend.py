"""Everything a worker shares through Redis (``state.backend: redis``), opened and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from router.config.model import GatewayConfig
from router.state.redis.answers import SharedAnswers
from router.state.redis.connection import RedisState
from router.state.redis.cooldowns import CooldownBoard
from router.state.redis.spend import RedisSpendStore
from router.telemetry.metrics import Metrics


@dataclass(frozen=True, slots=True)
class SharedState:
    redis: RedisState
    cooldowns: CooldownBoard
    answers: SharedAnswers
    spend: RedisSpendStore

    @classmethod
    def open(cls, config: GatewayConfig, metrics: Metrics) -> SharedState | None:
        """The shared state the config asks for; None with the local backend."""
        if config.state.backend != "redis":
            return None
        redis = RedisState(config.state, metrics)
        return cls(
            redis,
            CooldownBoard(redis, config.state.cooldown_poll),
            SharedAnswers(redis, config.cache, metrics),
            RedisSpendStore(redis),
        )

    async def close(self) -> None:
        await self.cooldowns.close()
        await self.answers.settle_writes()
        await self.redis.close()
