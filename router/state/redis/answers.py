"""The response cache and request coalescing across instances, in Redis.

Cache entries are Redis strings with the answer's TTL, bounded in count and bytes by a
Lua script that keeps an index of entries by age and evicts the oldest. Coalescing
across instances uses a short lock per request key (``SET NX PX``): the holder calls
upstream and publishes the outcome (answer or error) under the flight's key for a few
seconds; the others poll for it, and take the lock themselves if it is released without
an outcome (the leader's client left). Every worker still coalesces locally first, so
at most one request per worker waits on Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Coroutine
from typing import Any

import orjson

from router.answers.cache import CachedAnswer
from router.answers.flights import Flight
from router.background import BackgroundWork
from router.config.model import CacheSettings
from router.errors import GatewayError, RelayedFailure
from router.state.redis.connection import RedisState, StateUnavailable
from router.telemetry.labels import Eviction
from router.telemetry.metrics import Metrics
from router.wire.usage import Usage

OUTCOME_TTL_MS = 30_000  # how long followers may still pick up a flight's outcome
POLL_INTERVAL = 0.02

# KEYS: entry, index (zset: entry key by insertion time), sizes (hash), total bytes.
# ARGV: value, ttl ms, max entries, max bytes.
PUT = """
local entry, index, sizes, total = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local size = string.len(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local previous = tonumber(redis.call('HGET', sizes, entry) or '0')
redis.call('SET', entry, ARGV[1], 'PX', ARGV[2])
redis.call('HSET', sizes, entry, size)
redis.call('ZADD', index, now, entry)
local bytes = redis.call('INCRBY', total, size - previous)
local max_entries, max_bytes = tonumber(ARGV[3]), tonumber(ARGV[4])
local evicted = 0
while redis.call('ZCARD', index) > max_entries or bytes > max_bytes do
  local oldest = redis.call('ZPOPMIN', index)
  if #oldest == 0 then break end
  local old_size = tonumber(redis.call('HGET', sizes, oldest[1]) or '0')
  redis.call('HDEL', sizes, oldest[1])
  redis.call('DEL', oldest[1])
  bytes = redis.call('DECRBY', total, old_size)
  evicted = evicted + 1
end
return evicted
"""


def encode(answer: CachedAnswer) -> bytes:
    usage = answer.usage
    counts = (
        [usage.prompt_tokens, usage.completion_tokens, usage.cache_read, usage.cache_write] if usage else None
    )
    return orjson.dumps({"deployment": answer.deployment, "usage": counts}) + b"\n" + answer.body


def decode(raw: bytes) -> CachedAnswer:
    head, body = raw.split(b"\n", 1)
    meta = orjson.loads(head)
    usage = Usage(*meta["usage"]) if meta["usage"] else None
    return CachedAnswer(body, meta["deployment"], usage)


class RedisAnswers:
    """One worker's view of the cache in Redis and of the flights of every instance.

    ``get``, ``keep`` and ``lead`` are the ``AnswerStore`` interface: when Redis fails they
    degrade (no shared answer, not stored, led locally) and never raise its errors. The
    other methods are their parts and may raise ``StateUnavailable``.
    """

    def __init__(self, state: RedisState, settings: CacheSettings, metrics: Metrics) -> None:
        self._state = state
        self.settings = settings
        self._evictions = metrics.cache_evictions.labels(Eviction.SIZE)
        self._writes = BackgroundWork()
        self._index = state.key("cache", "index")
        self._sizes = state.key("cache", "sizes")
        self._total = state.key("cache", "bytes")

    def _entry(self, key: bytes) -> str:
        return self._state.key("cache", key.hex())

    def _lock(self, key: bytes) -> str:
        return self._state.key("flight", key.hex())

    def _outcome(self, key: bytes) -> str:
        return self._state.key("flight", key.hex(), "outcome")

    # -- the interface ------------------------------------------------------------------

    async def get(self, key: bytes) -> CachedAnswer | None:
        try:
            return await self.fetch(key)
        except StateUnavailable:
            return None

    def keep(self, key: bytes, answer: CachedAnswer, ttl: float) -> None:
        async def store() -> None:
            self._evictions.inc(await self.put(key, answer, ttl))

        self._soon(store())

    async def lead(self, flight: Flight, lease: float) -> Flight | CachedAnswer:
        """Lead ``flight`` for every instance, or wait for the instance that does (and pass on
        its answer, or its error). If Redis fails meanwhile, the flight is led locally."""
        token = flight_token()
        try:
            while True:
                try:
                    if await self.claim(flight.key, lease, token):
                        flight.on_settled = lambda outcome: self.land_soon(flight.key, token, outcome)
                        return flight
                    answer = await self.wait(flight.key)
                except StateUnavailable:
                    return flight
                if answer is not None:
                    flight.finish(answer)  # this worker's followers get it too
                    return answer
                # The other leader left without an outcome: try to lead.
        except RelayedFailure as failed:
            flight.fail(failed)
            raise
        except BaseException:
            flight.abandon()
            raise

    # -- the cache ------------------------------------------------------------------------

    async def fetch(self, key: bytes) -> CachedAnswer | None:
        raw = await self._state.call(lambda client: client.get(self._entry(key)))
        return None if raw is None else decode(_bytes(raw))

    async def put(self, key: bytes, answer: CachedAnswer, ttl: float) -> int:
        """Store ``answer``; returns how many old entries were evicted to make room."""
        script = self._state.script(PUT)
        keys = [self._entry(key), self._index, self._sizes, self._total]
        args: list[bytes | int] = [
            encode(answer),
            max(1, int(ttl * 1000)),
            self.settings.max_entries,
            self.settings.max_bytes,
        ]
        evicted = await self._state.call(lambda client: script(keys=keys, args=args, client=client))
        return int(evicted)

    def land_soon(self, key: bytes, token: str, outcome: CachedAnswer | BaseException | None) -> None:
        """``land`` in the background, with any error that is not a gateway error as no verdict."""
        self._soon(
            self.land(key, token, outcome if isinstance(outcome, CachedAnswer | GatewayError) else None)
        )

    def _soon(self, work: Coroutine[Any, Any, object]) -> None:
        async def run() -> None:
            with contextlib.suppress(StateUnavailable):
                await work

        self._writes.soon("write to the shared cache", run())

    async def close(self) -> None:
        await self._writes.settle(1.0)
        await self._writes.close()

    # -- flights across instances -------------------------------------------------------

    async def claim(self, key: bytes, lease: float, token: str) -> bool:
        """Take the flight's lock for at most ``lease`` seconds; False if another holds it."""
        taken = await self._state.call(
            lambda client: client.set(self._lock(key), token, nx=True, px=max(1, int(lease * 1000)))
        )
        return bool(taken)

    async def wait(self, key: bytes) -> CachedAnswer | None:
        """The outcome of another instance's flight: its answer, its error (raised), or None when
        its lock went away without an outcome (lead it then)."""
        lock, outcome = self._lock(key), self._outcome(key)
        while True:
            found, held = await self._state.call(lambda client: client.mget([outcome, lock]))
            if found is not None:
                raw = _bytes(found)
                if raw.startswith(b"!"):
                    failure = orjson.loads(raw[1:])
                    raise RelayedFailure(failure["status"], failure["body"], failure.get("headers"))
                return decode(raw)
            if held is None:
                return None
            await asyncio.sleep(POLL_INTERVAL)

    async def land(self, key: bytes, token: str, outcome: CachedAnswer | GatewayError | None) -> None:
        """Publish the flight's outcome (None: no verdict) and release its lock if still ours."""
        if isinstance(outcome, CachedAnswer):
            value = encode(outcome)
        elif outcome is not None:
            failure = {
                "status": outcome.status_code,
                "body": outcome.to_dict(),
                "headers": outcome.response_headers(),
            }
            value = b"!" + orjson.dumps(failure)
        else:
            value = b""
        script = self._state.script(LAND)
        keys = [self._lock(key), self._outcome(key)]
        await self._state.call(
            lambda client: script(keys=keys, args=[token, value, OUTCOME_TTL_MS], client=client)
        )


# KEYS: lock, outcome. ARGV: token, outcome ("" for none), outcome ttl ms.
LAND = """
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def _bytes(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def flight_token() -> str:
    return uuid.uuid4().hex
