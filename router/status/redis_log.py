"""The request log in Redis: one stream per gateway (``<prefix>:requests``), capped in length
(``XADD MAXLEN ~``) and in age (``XTRIM MINID ~``, at most every ``PRUNE_EVERY`` seconds)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import orjson

from router.state.redis.connection import RedisState, StateUnavailable
from router.status.query import RequestQuery
from router.status.store import RequestLogUnavailable

PRUNE_EVERY = 5.0
_PAGE = 500  # entries read at a time while looking for records that pass a query
_SCANNED_AT_MOST = 20_000  # a query looks no further back than this many entries


class RedisStore:
    def __init__(
        self, redis: RedisState, *, max_rows: int, max_age: float, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._key = redis.key("requests")
        self._max_rows = max_rows
        self._max_age = max_age
        self._clock = clock
        self._pruned_at = 0.0
        self.where = "Redis"

    async def write(self, records: Sequence[dict[str, Any]]) -> None:
        now = self._clock()
        prune = now - self._pruned_at >= PRUNE_EVERY
        async with self._redis.client.pipeline(transaction=False) as pipe:
            for record in records:
                pipe.xadd(self._key, {"r": orjson.dumps(record)}, maxlen=self._max_rows, approximate=True)
            if prune:
                pipe.xtrim(self._key, minid=int((now - self._max_age) * 1000), approximate=True)
            try:
                await self._redis.call(lambda client: pipe.execute())
            except StateUnavailable as exc:
                raise RequestLogUnavailable("Redis cannot be reached") from exc
        if prune:
            self._pruned_at = now

    async def read(self, query: RequestQuery) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        newest: str = "+"
        oldest = "-" if query.since is None else str(int(query.since * 1000) - 1000)  # ids are Redis' ms
        scanned = 0
        while len(found) < query.limit and scanned < _SCANNED_AT_MOST:
            entries = await self._page(newest, oldest)
            for _entry_id, fields in entries:
                record = orjson.loads(fields[b"r"])
                if query.matches(record):
                    found.append(record)
                    if len(found) >= query.limit:
                        break
            scanned += len(entries)
            if len(entries) < _PAGE:
                break
            newest = f"({entries[-1][0].decode()}"  # exclusive: the page before the last one read
        return found

    async def _page(self, newest: str, oldest: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        """Up to ``_PAGE`` entries from ``newest`` down to ``oldest``, newest first."""
        try:
            entries = await self._redis.call(
                lambda client: client.xrevrange(self._key, max=newest, min=oldest, count=_PAGE)
            )
        except StateUnavailable as exc:
            raise RequestLogUnavailable("Redis cannot be reached") from exc
        return cast(list[tuple[bytes, dict[bytes, bytes]]], entries or [])

    async def close(self) -> None:
        return None  # the connection is the state backend's
