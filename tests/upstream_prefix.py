"""A prompt cache per deployment for the fake upstream, as providers keep one.

Each request's prompt is read as a chain of units, in its wire's own shape: the head
(chat: tools; Messages: system and tools; Responses: instructions and tools) with the first
message or input item, then each one after it. Every prefix of the chain has a hash; a
deployment (the upstream model a request names) remembers the hashes of the prompts it answered in full for
``ttl`` seconds. A new request reads from the cache the longest prefix it remembers and
writes the rest; a request that remembers nothing (not even the head) is cold. Tokens are
characters / 4 of the units' JSON. A cold request waits ``cold_delay`` before answering, a
warm one the next of ``warm_delays`` (cycled: a tail of slow warm answers can be modelled).
A call cancelled before its answer was sent caches nothing.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class CacheTurn:
    """What the cache says about one request: what it read and wrote, and how long to wait."""

    read: int
    write: int
    delay: float
    hashes: tuple[bytes, ...]  # to remember once the answer went out


@dataclass
class PrefixCache:
    ttl: float = 300.0
    cold_delay: float = 0.0
    warm_delays: tuple[float, ...] = (0.0,)
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, dict[bytes, float]] = field(default_factory=dict)
    _warm_turns: itertools.count[int] = field(default_factory=itertools.count)

    def look(self, model: str, path: str, body: dict[str, Any]) -> CacheTurn:
        units = _units(path, body)
        hashes: list[bytes] = []
        sizes: list[int] = []
        running = hashlib.blake2b(digest_size=16)
        for unit in units:
            encoded = orjson.dumps(_content(unit), option=orjson.OPT_SORT_KEYS)
            running.update(encoded)
            hashes.append(running.copy().digest())
            sizes.append(len(encoded))
        seen = self._seen.get(model, {})
        now = self.clock()
        read_units = 0
        for index in range(len(hashes) - 1, -1, -1):
            if seen.get(hashes[index], -1.0) > now - self.ttl:
                read_units = index + 1
                break
        read = sum(sizes[:read_units]) // 4
        write = sum(sizes[read_units:]) // 4
        if read_units:
            delays = self.warm_delays
            delay = delays[next(self._warm_turns) % len(delays)]
        else:
            delay = self.cold_delay
        return CacheTurn(read, write, delay, tuple(hashes))

    def remember(self, model: str, turn: CacheTurn) -> None:
        seen = self._seen.setdefault(model, {})
        now = self.clock()
        for digest in turn.hashes:
            seen[digest] = now


def _units(path: str, body: dict[str, Any]) -> list[Any]:
    """The head goes with the first message: two conversations that only share a system
    prompt share no cached prefix here (a real one would share a little; none keeps tests clear)."""
    if path.endswith("/messages"):
        head: Any = [body.get("system"), body.get("tools")]
        items = list(body.get("messages") or [])
    elif path.endswith("/responses"):
        raw = body.get("input")
        head = [body.get("instructions"), body.get("tools")]
        items = [raw] if isinstance(raw, str) else list(raw or [])
    else:
        head = [body.get("tools")]
        items = list(body.get("messages") or [])
    if not items:
        return [head]
    return [[head, items[0]], *items[1:]]


def _content(value: Any) -> Any:
    """What a provider's cache keys on: the content, not the hints (``cache_control`` moves
    from message to message between turns)."""
    if isinstance(value, dict):
        return {k: _content(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_content(v) for v in value]
    return value
