"""The response cache: what is cacheable, the key, the bounds, expiry, and what it counts."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from router.answers.cache import BYPASS, CachedAnswer, ResponseCache, cache_key, plan_for
from router.config.gateway_keys import GatewayKey
from router.config.model import CacheSettings
from router.config.model_groups import GroupCache, ModelGroup
from router.routing.rules import RoutedRequest
from router.telemetry.metrics import Metrics
from tests.harness import FakeClock

TEAM = GatewayKey.from_secret("team", "rw-team-key-1")
OTHER = GatewayKey.from_secret("other", "rw-other-key-1")
CHAT_PATH = "/v1/chat/completions"


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "ping"}], "temperature": 0, **fields}


DEFAULT = GroupCache()


def routed(cache: GroupCache | None = DEFAULT, *, pinned: str | None = None) -> RoutedRequest:
    group = ModelGroup(name="m", deployments=("a",), cache=cache)
    return RoutedRequest(group=group, requested="m", prompt_tokens=1, stream=False, pinned=pinned)


def plan(request: dict[str, Any], *, cache_control: str | None = None, **kwargs: Any) -> Any:
    return plan_for(routed(**kwargs), CHAT_PATH, request, TEAM, cache_control, 60.0)


def test_fields_that_do_not_change_the_answer_are_not_in_the_key() -> None:
    base = cache_key("k", "m", CHAT_PATH, body())
    assert cache_key("k", "m", CHAT_PATH, body(user="alice", stream=True, stream_options={})) == base
    assert cache_key("k", "m", "/chat/completions", body()) == base  # with or without /v1
    assert cache_key("k", "m", CHAT_PATH, body(model="other-name")) == base
    for different in (
        cache_key("k", "m", CHAT_PATH, body(max_tokens=5)),
        cache_key("k", "m", CHAT_PATH, body(messages=[{"role": "user", "content": "pong"}])),
        cache_key("k", "other-group", CHAT_PATH, body()),
        cache_key("other-key", "m", CHAT_PATH, body()),
        cache_key("k", "m", "/v1/embeddings", body()),
    ):
        assert different != base


def test_only_deterministic_requests_by_default() -> None:
    assert plan(body()).read and plan(body()).write
    assert plan(body(temperature=0.7)) is BYPASS
    assert plan({"model": "m", "messages": []}) is BYPASS  # no temperature: the provider's default, not 0
    assert plan(body(temperature=0.7), cache=GroupCache(mode="always")).read
    embeddings = plan_for(routed(), "/v1/embeddings", {"model": "m", "input": "x"}, TEAM, None, 60.0)
    assert embeddings.read


def test_groups_without_cache_and_pinned_deployments_bypass() -> None:
    assert plan(body(), cache=None) is BYPASS
    assert plan(body(), pinned="a") is BYPASS


def test_cache_control_no_cache_skips_the_read_and_no_store_the_write() -> None:
    no_cache = plan(body(), cache_control="no-cache")
    assert (no_cache.read, no_cache.write, no_cache.status) == (False, True, "bypass")
    no_store = plan(body(), cache_control="No-Store")
    assert (no_store.read, no_store.write, no_store.status) == (True, False, "miss")
    assert plan(body(), cache_control="no-cache, no-store") is BYPASS


def test_entries_are_per_key_unless_the_group_shares_them() -> None:
    def key_for(key: GatewayKey | None, shared: bool) -> bytes | None:
        return plan_for(routed(GroupCache(shared=shared)), CHAT_PATH, body(), key, None, 60.0).key

    assert key_for(TEAM, False) != key_for(OTHER, False)
    assert key_for(TEAM, True) == key_for(OTHER, True) == key_for(None, False)


def test_group_ttl_overrides_the_default() -> None:
    assert plan(body()).ttl == 60.0
    assert plan(body(), cache=GroupCache(ttl=5.0)).ttl == 5.0


class Store:
    def __init__(self, **settings: Any) -> None:
        self.registry = CollectorRegistry()
        self.clock = FakeClock()
        self.cache = ResponseCache(CacheSettings(**settings), Metrics(self.registry), self.clock)

    def put(self, name: str, size: int = 10, ttl: float = 60.0) -> None:
        plan = plan_for(routed(GroupCache(ttl=ttl)), CHAT_PATH, body(n=name), TEAM, None, 60.0)
        self.cache.put(plan, CachedAnswer(b"x" * size, "a", None))

    def has(self, name: str) -> bool:
        plan = plan_for(routed(), CHAT_PATH, body(n=name), TEAM, None, 60.0)
        return self.cache.get(plan) is not None

    def sample(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0


def test_hits_misses_and_expiry() -> None:
    store = Store()
    assert not store.has("a")
    store.put("a", ttl=5.0)
    assert store.has("a")
    store.clock.now += 4.9
    assert store.has("a")
    store.clock.now += 0.2
    assert not store.has("a")
    assert store.sample("raceway_cache_lookups_total", result="hit") == 2
    assert store.sample("raceway_cache_lookups_total", result="miss") == 2
    store.put("b")  # makes room: the expired entry goes
    assert store.sample("raceway_cache_evictions_total", reason="expired") == 1


def test_bounded_by_entries_least_recently_used_first() -> None:
    store = Store(max_entries=2)
    store.put("a")
    store.put("b")
    assert store.has("a")  # a is now the most recently used
    store.put("c")
    assert store.has("a") and store.has("c") and not store.has("b")
    assert len(store.cache) == 2
    assert store.sample("raceway_cache_evictions_total", reason="size") == 1


def test_bounded_by_bytes() -> None:
    store = Store(max_bytes=2000)
    for name in "abc":
        store.put(name, size=700)  # 900 bytes each with the bookkeeping
    assert not store.has("a") and store.has("b") and store.has("c")
    assert store.cache.size_bytes == 1800
    assert store.sample("raceway_cache_bytes") == 1800
    assert store.sample("raceway_cache_entries") == 2
    store.put("huge", size=5000)  # bigger than the whole cache: not kept, nothing evicted for it
    assert not store.has("huge") and store.has("b")


def test_resize_keeps_entries_only_when_the_bounds_did_not_change() -> None:
    store = Store()
    store.put("a")
    assert store.cache.resize(CacheSettings()) is store.cache
    assert len(store.cache.resize(CacheSettings(max_entries=5))) == 0
