"""Cooldowns shared through Redis: a deployment cooled down anywhere is skipped everywhere.

When a worker's breaker opens, it writes the deployment's cooldown end (wall-clock time)
to Redis with the same expiry. Every worker reads all of them every ``cooldown_poll``
(0.5 s) and tells its fleet what is left of each, which holds its own breaker open until
then (``Member.adopt_cooldown``), so every instance stops calling a failing deployment within
a second. Each breaker still probes on its own once the cooldown ends. The board speaks
deployment names and seconds: it never touches a breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from router.background import BackgroundWork
from router.state.redis.connection import RedisState, StateUnavailable


class CooldownBoard:
    def __init__(self, state: RedisState, poll: float, *, clock: Callable[[], float] = time.time) -> None:
        """``clock``: wall-clock time, which every instance reads alike."""
        self._state = state
        self._poll = poll
        self._clock = clock
        self._writes = BackgroundWork()

    def _key(self, deployment: str) -> str:
        return self._state.key("cooldown", deployment)

    def announce(self, deployment: str, seconds: float) -> None:
        """Tell everyone ``deployment`` cools down for ``seconds`` (in the background: never on a
        request's path)."""
        if seconds <= 0:
            return
        self._writes.soon(f"announce the cooldown of {deployment}", self._write(deployment, seconds))

    async def _write(self, deployment: str, seconds: float) -> None:
        until = str(self._clock() + seconds)
        # Without Redis this worker keeps its own cooldown; the others find out by themselves.
        with contextlib.suppress(StateUnavailable):
            await self._state.call(
                lambda client: client.set(self._key(deployment), until, px=int(seconds * 1000) + 1)
            )

    async def watch(
        self, deployments: Callable[[], Sequence[str]], on_cooldown: Callable[[str, float], None]
    ) -> None:
        """Until cancelled: pass on the cooldowns others announced for the ``deployments`` served now."""
        while True:
            await asyncio.sleep(self._poll)
            await self.adopt(deployments(), on_cooldown)

    async def adopt(self, deployments: Sequence[str], on_cooldown: Callable[[str, float], None]) -> None:
        """``on_cooldown(name, seconds left)`` for each of ``deployments`` cooling down somewhere."""
        if not deployments:
            return
        keys = [self._key(name) for name in deployments]
        try:
            values = await self._state.call(lambda client: client.mget(keys))
        except StateUnavailable:
            return
        now = self._clock()
        for name, value in zip(deployments, values, strict=True):
            if value is not None:
                on_cooldown(name, float(value) - now)

    async def close(self) -> None:
        await self._writes.settle(1.0)
        await self._writes.close()
