"""Spend in Redis, for budgets that hold across instances: atomic increments per key, day and month."""

from __future__ import annotations

from collections.abc import Mapping

from router.spend.ledger import Spent, Tally
from router.state.backend import StoreUnavailable
from router.state.redis.connection import RedisState, StateUnavailable

_TTL = {"day": 3 * 86400, "month": 63 * 86400}
_MEASURES = ("cost", "requests", "tokens")


class RedisSpendStore:
    """Three hashes (cost, requests, tokens) per UTC day and per month, each field a key's name."""

    def __init__(self, state: RedisState) -> None:
        self._state = state
        self.where = "Redis"

    def _hash(self, measure: str, period: str) -> str:
        return self._state.key("spend", measure, period)

    async def exchange(self, tallies: Mapping[tuple[str, str], Tally], day: str) -> dict[str, Spent]:
        """Add ``tallies`` and read the totals of ``day`` and its month, in one transaction."""
        async with self._state.client.pipeline(transaction=True) as pipe:
            for (key, tally_day), tally in tallies.items():
                tokens = tally.prompt_tokens + tally.completion_tokens
                for kind, period in (("day", tally_day), ("month", tally_day[:7])):
                    pipe.hincrbyfloat(self._hash("cost", period), key, tally.cost_usd)
                    pipe.hincrby(self._hash("requests", period), key, tally.requests)
                    pipe.hincrby(self._hash("tokens", period), key, tokens)
                    for measure in _MEASURES:
                        pipe.expire(self._hash(measure, period), _TTL[kind])
            pipe.hgetall(self._hash("cost", day))
            for measure in _MEASURES:
                pipe.hgetall(self._hash(measure, day[:7]))
            try:
                replies = await self._state.call(lambda client: pipe.execute())
            except StateUnavailable as exc:
                raise StoreUnavailable("Redis cannot be reached") from exc
        today, month_cost, month_requests, month_tokens = (_fields(reply) for reply in replies[-4:])
        return {
            key: Spent(
                day=float(today.get(key, 0.0)),
                month=float(cost),
                requests=int(month_requests.get(key, 0)),
                tokens=int(month_tokens.get(key, 0)),
            )
            for key, cost in month_cost.items()
        }

    async def totals(self, day: str) -> dict[str, Spent]:
        return await self.exchange({}, day)

    async def close(self) -> None:
        return None


def _fields(reply: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    def text(value: bytes | str) -> str:
        return value.decode() if isinstance(value, bytes) else value

    return {text(name): text(value) for name, value in reply.items()}
