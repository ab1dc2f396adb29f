"""Rate limits enforced exactly across every worker and instance, with a GCRA script in Redis.

Each limit is a generic cell rate algorithm over a theoretical arrival time (TAT) kept in
Redis, read and written by one atomic script that takes Redis's own clock: ``rpm``
requests (or ``tpm`` tokens) a minute with a burst of a whole minute, the same shape as
the local leaky buckets. Tokens are estimated before the call; the difference with the
reported usage is carried and applied by the next call's script. When Redis cannot be
reached the worker's local limit (its share of the gateway-wide one) takes over.
"""

from __future__ import annotations

import asyncio
import time

from router.errors import Saturated
from router.limits import RateLimit, SaturationReason, refuse_if_larger_than_limit
from router.state.redis.connection import RedisState, StateUnavailable

# KEYS: requests TAT, tokens TAT. ARGV: rpm, tpm (0: none), tokens of this request, correction
# (tokens owed, or credited if negative, by earlier requests). Returns "0" when admitted,
# else the milliseconds until the request would fit (as a string: Lua numbers become integers).
GCRA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local period = 60000
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, correction = tonumber(ARGV[3]), tonumber(ARGV[4])
local function tat_of(key)
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then return now end
  return tat
end
local wait = 0
local request_tat, token_tat
if rpm > 0 then
  request_tat = tat_of(KEYS[1]) + period / rpm
  wait = math.max(wait, request_tat - now - period)
end
if tpm > 0 then
  local interval = period / tpm
  token_tat = math.max(now, tat_of(KEYS[2]) + correction * interval)
  if correction ~= 0 then  -- owed whatever happens to this request
    redis.call('SET', KEYS[2], tostring(token_tat), 'PX', math.ceil(token_tat - now) + 1)
  end
  token_tat = token_tat + cost * interval
  wait = math.max(wait, token_tat - now - period)
end
if wait > 0 then return tostring(wait) end
if rpm > 0 then redis.call('SET', KEYS[1], tostring(request_tat), 'PX', math.ceil(request_tat - now) + 1) end
if tpm > 0 then redis.call('SET', KEYS[2], tostring(token_tat), 'PX', math.ceil(token_tat - now) + 1) end
return '0'
"""


class SharedRateLimit:
    """The gateway-wide ``rpm``/``tpm`` of a deployment or key, in Redis; ``fallback`` while it is down."""

    __slots__ = ("_balance", "_fallback", "_keys", "_saturated_until", "_state", "rpm", "tpm", "wait")

    def __init__(
        self,
        state: RedisState,
        scope: str,
        name: str,
        rpm: int | None,
        tpm: int | None,
        *,
        wait: float,
        fallback: RateLimit,
    ) -> None:
        self._state = state
        self._keys = [state.key("limit", scope, name, "requests"), state.key("limit", scope, name, "tokens")]
        self.rpm = rpm
        self.tpm = tpm
        self.wait = wait
        self._fallback = fallback
        self._balance = 0  # tokens to correct by with the next script call
        self._saturated_until = 0.0  # the last refusal's retry time, for has_capacity

    def has_capacity(self, tokens: int = 0) -> bool:
        if not self._state.up:
            return self._fallback.has_capacity(tokens)
        return time.monotonic() >= self._saturated_until

    async def admit(self, tokens: int, *, owner: str) -> None:
        """Take one request and ``tokens`` tokens, waiting at most ``wait`` for room."""
        refuse_if_larger_than_limit(tokens, self.tpm, owner)
        try:
            await self._admit_shared(tokens, owner)
        except StateUnavailable:
            await self._fallback.admit(tokens, owner=owner)

    async def _admit_shared(self, tokens: int, owner: str) -> None:
        give_up = time.monotonic() + self.wait
        while (wait := await self._try(tokens)) > 0:
            if time.monotonic() + wait > give_up:
                self._saturated_until = time.monotonic() + wait
                raise Saturated(
                    f"{owner} is over its rate limit", reason=SaturationReason.RATE_LIMITED, retry_after=wait
                )
            await asyncio.sleep(wait)

    async def _try(self, tokens: int) -> float:
        """Seconds until the request would fit; 0 when it was admitted."""
        correction, self._balance = self._balance, 0
        arguments = [self.rpm or 0, self.tpm or 0, tokens if self.tpm else 0, correction]
        script = self._state.script(GCRA)
        try:
            reply = await self._state.call(
                lambda client: script(keys=self._keys, args=arguments, client=client)
            )
        except StateUnavailable:
            self._balance += correction
            raise
        return float(reply) / 1000

    def settle(self, estimated: int, used: int) -> None:
        if self.tpm is not None:
            self._balance += used - estimated
            self._fallback.settle(estimated, used)
