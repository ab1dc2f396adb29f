"""The response cache: exact-match answers per worker, bounded by entries and bytes, with a TTL.

A request is looked up by the hash of what determines its answer (the model group that
serves it, the endpoint, and every body field except ``user``, ``stream`` and
``stream_options``), namespaced by the caller's key unless the group shares its cache.
Only requests whose answer is meant to repeat are cached: by default those with
``temperature: 0`` (and embeddings); a group may say ``mode: always``.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cachetools
import orjson

from router.config.gateway_keys import GatewayKey
from router.config.model import CacheSettings
from router.config.model_groups import CacheMode
from router.routing.rules import RoutedRequest
from router.telemetry.labels import Eviction
from router.telemetry.metrics import Metrics
from router.wire.usage import Usage

CACHE_HEADER = "x-raceway-cache"
# Body fields that do not change the answer.
_NOT_IN_KEY = frozenset({"model", "user", "stream", "stream_options"})
_ENTRY_OVERHEAD = 200  # bytes of bookkeeping per entry, counted against max_bytes


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """A complete answer (OpenAI-shaped JSON), as the deployment that made it gave it."""

    body: bytes
    deployment: str
    usage: Usage | None


class CacheStatus(enum.StrEnum):
    """The ``x-raceway-cache`` header: what the cache did for a request."""

    HIT = "hit"
    MISS = "miss"
    BYPASS = "bypass"  # not cacheable, no cache for the group, or ``Cache-Control: no-cache``


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What the cache may do for one request. ``key`` is None when the request is not cacheable."""

    key: bytes | None = None
    read: bool = False
    write: bool = False
    ttl: float = 0.0

    @property
    def status(self) -> CacheStatus:
        """The status before the lookup: a miss may still become a hit."""
        return CacheStatus.MISS if self.read else CacheStatus.BYPASS


BYPASS = CachePlan()


def is_deterministic(path: str, body: Mapping[str, Any]) -> bool:
    """Is the answer meant to be the same every time? Embeddings are; chat only at temperature 0."""
    if path.endswith("/embeddings"):
        return True
    temperature = body.get("temperature")
    if temperature is None and isinstance(body.get("generationConfig"), dict):  # Gemini's place for it
        temperature = body["generationConfig"].get("temperature")
    return temperature == 0 and not isinstance(temperature, bool)


def cache_key(namespace: str, group: str, path: str, body: Mapping[str, Any]) -> bytes:
    """A digest of everything that determines the answer."""
    relevant = {name: value for name, value in body.items() if name not in _NOT_IN_KEY}
    canonical = orjson.dumps(
        [namespace, group, path.removeprefix("/v1"), relevant], option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).digest()


def plan_for(
    routed: RoutedRequest,
    path: str,
    body: Mapping[str, Any],
    key: GatewayKey | None,
    cache_control: str | None,
    default_ttl: float,
) -> CachePlan:
    """The cache's part in a request, from the group's settings and the client's ``Cache-Control``."""
    settings = routed.group.cache
    if settings is None or routed.pinned is not None:
        return BYPASS
    if settings.mode is CacheMode.DETERMINISTIC and not is_deterministic(path, body):
        return BYPASS
    directives = {part.strip().lower() for part in (cache_control or "").split(",")}
    read, write = "no-cache" not in directives, "no-store" not in directives
    if not read and not write:
        return BYPASS
    namespace = "(shared)" if settings.shared or key is None else f"key:{key.name}"
    return CachePlan(
        key=cache_key(namespace, routed.group.name, path, body),
        read=read,
        write=write,
        ttl=settings.ttl or default_ttl,
    )


def _entry_size(entry: tuple[CachedAnswer, float]) -> int:
    return len(entry[0].body) + _ENTRY_OVERHEAD


class _Store(cachetools.TLRUCache[bytes, tuple[CachedAnswer, float]]):
    """cachetools' time-aware LRU with a hook on the evictions it makes for room."""

    on_evict: Callable[[], None] = staticmethod(lambda: None)

    def popitem(self) -> tuple[bytes, tuple[CachedAnswer, float]]:
        item = super().popitem()
        self.on_evict()
        return item


def _expires(key: bytes, entry: tuple[CachedAnswer, float], now: float) -> float:
    return now + entry[1]


class ResponseCache:
    """One worker's cache. Entries leave when their TTL passes or, least recently used first,
    when the cache is over ``max_entries`` or ``max_bytes``."""

    def __init__(
        self, settings: CacheSettings, metrics: Metrics, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._metrics = metrics
        self._store = _Store(settings.max_bytes, _expires, timer=clock, getsizeof=_entry_size)
        self._store.on_evict = metrics.cache_evictions.labels(Eviction.SIZE).inc

    def get(self, plan: CachePlan, *, count: bool = True) -> CachedAnswer | None:
        """The cached answer, if any; ``count``: record the lookup's result in the metrics."""
        if plan.key is None or not plan.read:
            return None
        entry = self._store.get(plan.key)
        if count:
            self.count(entry is not None)
        return None if entry is None else entry[0]

    def count(self, hit: bool) -> None:
        self._metrics.cache_lookups.labels(CacheStatus.HIT if hit else CacheStatus.MISS).inc()

    def put(self, plan: CachePlan, answer: CachedAnswer) -> None:
        if plan.key is None or not plan.write:
            return
        store = self._store
        expired = store.expire()
        if expired:
            self._metrics.cache_evictions.labels(Eviction.EXPIRED).inc(len(expired))
        try:
            store[plan.key] = (answer, plan.ttl)
        except ValueError:  # larger than the whole cache
            return
        while len(store) > self.settings.max_entries:
            store.popitem()
        self._metrics.cache_bytes.set(store.currsize)
        self._metrics.cache_entries.set(len(store))

    def resize(self, settings: CacheSettings) -> ResponseCache:
        """The cache for new settings: this one if they did not change, else an empty one."""
        if settings == self.settings:
            return self
        return ResponseCache(settings, self._metrics, self._store.timer)

    def __len__(self) -> int:
        return len(self._store)

    @property
    def size_bytes(self) -> int:
        return int(self._store.currsize)
