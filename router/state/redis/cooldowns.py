"""Cooldowns shared through Redis: a deployment cooled down anywhere is skipped everywhere.

When a worker's breaker opens, it writes the deployment's cooldown end (wall-clock time)
to Redis with the same expiry. Every worker reads all of them every ``cooldown_poll``
(0.5 s) and holds its own breaker open until then, so every instance stops calling a
failing deployment within a second. Each breaker still probes on its own once the
cooldown ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from router.background import BackgroundWork
from router.fleet.breaker import State
from router.fleet.fleet import Fleet, Member
from router.state.redis.connection import RedisState, StateUnavailable

logger = logging.getLogger("raceway.cooldowns")


class CooldownBoard:
    def __init__(self, state: RedisState, poll: float, *, clock: Callable[[], float] = time.time) -> None:
        """``clock``: wall-clock time, which every instance reads alike."""
        self._state = state
        self._poll = poll
        self._clock = clock
        self._writes = BackgroundWork()

    def _key(self, deployment: str) -> str:
        return self._state.key("cooldown", deployment)

    def announce(self, member: Member) -> None:
        """Tell everyone ``member`` is cooling down (in the background: never on a request's path)."""
        seconds = member.breaker.seconds_until_available()
        if seconds <= 0:
            return
        self._writes.soon(f"announce the cooldown of {member.name}", self._write(member.name, seconds))

    async def _write(self, deployment: str, seconds: float) -> None:
        until = str(self._clock() + seconds)
        # Without Redis this worker keeps its own cooldown; the others find out by themselves.
        with contextlib.suppress(StateUnavailable):
            await self._state.call(
                lambda client: client.set(self._key(deployment), until, px=int(seconds * 1000) + 1)
            )

    async def watch(self, fleet_of: Callable[[], Fleet], on_change: Callable[[Member], None]) -> None:
        """Until cancelled: adopt the cooldowns others announced (``fleet_of`` gives the current fleet)."""
        while True:
            await asyncio.sleep(self._poll)
            await self.adopt(list(fleet_of()), on_change)

    async def adopt(self, members: list[Member], on_change: Callable[[Member], None]) -> None:
        if not members:
            return
        keys = [self._key(member.name) for member in members]
        try:
            values = await self._state.call(lambda client: client.mget(keys))
        except StateUnavailable:
            return
        now = self._clock()
        for member, value in zip(members, values, strict=True):
            if value is None:
                continue
            remaining = float(value) - now
            if remaining > member.breaker.seconds_until_available() + 0.01:
                was = member.breaker.state
                member.breaker.cool_down_for(remaining)
                if was is not State.COOLED_DOWN:
                    logger.warning(
                        "deployment %s cooled down elsewhere: skipped for %.1fs", member.name, remaining
                    )
                on_change(member)

    async def close(self) -> None:
        await self._writes.settle(1.0)
        await self._writes.close()
