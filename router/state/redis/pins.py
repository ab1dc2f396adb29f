"""Session pins shared through Redis: a key per session with the affinity's TTL.

A lookup is one GET on the request's path (Redis answers within the backend's 250 ms
timeout, or the local table answers instead); a pin is written in the background with
``SET PX``, to Redis and to this worker's own table, which serves while Redis is away.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from router.background import BackgroundWork
from router.state.pins import PinTable
from router.state.redis.connection import RedisState, StateUnavailable


class RedisPins:
    def __init__(self, state: RedisState, fallback: PinTable) -> None:
        self._state = state
        self._fallback = fallback
        self._writes = BackgroundWork()

    def _key(self, key: bytes) -> str:
        return self._state.key("pin", key.hex())

    async def find(self, key: bytes, deployments: Sequence[str]) -> str | None:
        try:
            value = await self._state.call(lambda client: client.get(self._key(key)))
        except StateUnavailable:
            return self._fallback.lookup(key, deployments)
        if value is None:
            return None
        name = value.decode() if isinstance(value, bytes) else str(value)
        return name if name in deployments else None

    def keep(self, key: bytes, deployment: str, ttl: float) -> None:
        self._fallback.keep(key, deployment, ttl)
        self._writes.soon("pin a session", self._write(key, deployment, ttl))

    async def _write(self, key: bytes, deployment: str, ttl: float) -> None:
        # Without Redis the pin lives in this worker's table until Redis is back.
        with contextlib.suppress(StateUnavailable):
            await self._state.call(
                lambda client: client.set(self._key(key), deployment, px=max(1, int(ttl * 1000)))
            )

    async def close(self) -> None:
        await self._writes.settle(1.0)
        await self._writes.close()
        self._fallback.close()
