"""The Redis backend's parts against a real redis-server: each "worker" here is its own
connection, as separate processes would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from router.answers.cache import CachedAnswer
from router.config.model import CacheSettings, CooldownSettings, StateSettings
from router.config.secret import Secret
from router.errors import RelayedFailure, Saturated, UpstreamRateLimited
from router.fleet.breaker import Breaker, State
from router.fleet.fleet import Member
from router.fleet.stats import DeploymentStats
from router.limits import RateLimit
from router.spend.ledger import Spent, Tally
from router.state.pins import PinTable
from router.state.redis.answers import POLL_INTERVAL, RedisAnswers, encode, flight_token
from router.state.redis.connection import RedisState, StateUnavailable
from router.state.redis.cooldowns import CooldownBoard
from router.state.redis.limits import SharedRateLimit
from router.state.redis.pins import RedisPins
from router.state.redis.spend import RedisSpendStore
from router.telemetry.metrics import Metrics
from router.wire.usage import Usage
from tests.helpers import fake
from tests.redis_server import RedisServer, free_port

METRICS = Metrics(CollectorRegistry())
ANSWER = CachedAnswer(b'{"choices": [{"message": {"content": "hi"}}]}', "a", Usage(3, 4))

Connect = Callable[..., RedisState]


@pytest.fixture
async def connect(redis_server: RedisServer, request: pytest.FixtureRequest) -> AsyncIterator[Connect]:
    """New connections to the module's Redis, under a key prefix of this test's own."""
    opened: list[RedisState] = []

    def open_state(
        url: str = redis_server.url,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisState:
        settings = StateSettings(backend="redis", url=Secret(url), prefix=f"test-{request.node.name}")
        state = RedisState(settings, Metrics(registry or CollectorRegistry()), clock=clock)
        opened.append(state)
        return state

    yield open_state
    for state in opened:
        await state.close()


def shared_limit(state: RedisState, rpm: int | None = None, tpm: int | None = None) -> SharedRateLimit:
    return SharedRateLimit(
        state, "deployment", "d", rpm, tpm, wait=0.0, fallback=RateLimit(rpm, tpm, share=2)
    )


async def admitted(limit: SharedRateLimit, count: int, tokens: int = 1) -> int:
    results = await asyncio.gather(
        *(limit.admit(tokens, owner="d") for _ in range(count)), return_exceptions=True
    )
    assert all(result is None or isinstance(result, Saturated) for result in results)
    return sum(result is None for result in results)


async def test_a_limit_is_exact_across_workers(connect: Connect) -> None:
    first, second = shared_limit(connect(), rpm=10), shared_limit(connect(), rpm=10)
    assert await admitted(first, 7) + await admitted(second, 7) == 10
    with pytest.raises(Saturated) as refused:
        await first.admit(1, owner="deployment d")
    assert refused.value.reason == "rate_limited" and refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 6.0
    assert not first.has_capacity()  # it remembers the refusal for _roomy_first


async def test_tokens_with_the_reported_usage_carried_to_the_next_call(connect: Connect) -> None:
    first, second = shared_limit(connect(), tpm=1000), shared_limit(connect(), tpm=1000)
    await first.admit(400, owner="d")
    first.settle(400, 700)  # the upstream reported more than estimated: 300 owed
    await second.admit(200, owner="d")  # 600 used so far
    with pytest.raises(Saturated):
        await first.admit(200, owner="d")  # 300 owed + 200 > the 400 left
    with pytest.raises(Saturated) as too_big:
        await second.admit(1001, owner="d")
    assert too_big.value.reason == "tokens_exceed_limit"


async def test_without_redis_the_workers_share_takes_over(connect: Connect) -> None:
    registry = CollectorRegistry()
    state = connect(f"redis://127.0.0.1:{free_port()}/0", registry)  # nothing listens there
    limit = shared_limit(state, rpm=10)  # the local share: 10 / 2 workers
    assert await admitted(limit, 8) == 5
    assert registry.get_sample_value("raceway_state_backend_up", {"backend": "redis"}) == 0
    with pytest.raises(StateUnavailable):  # within the next second: not even tried
        await state.call(lambda client: client.ping())


async def test_redis_coming_back_is_noticed(redis_server: RedisServer, connect: Connect) -> None:
    registry = CollectorRegistry()
    now = [0.0]
    state = connect(registry=registry, clock=lambda: now[0])
    redis_server.stop()
    with pytest.raises(StateUnavailable):
        await state.call(lambda client: client.ping())
    assert not state.up and registry.get_sample_value("raceway_state_backend_up", {"backend": "redis"}) == 0
    redis_server.start()
    now[0] += 0.99  # within a second of the failure: not even tried
    with pytest.raises(StateUnavailable):
        await state.call(lambda client: client.ping())
    now[0] += 0.02
    assert await state.call(lambda client: client.ping())
    assert state.up and registry.get_sample_value("raceway_state_backend_up", {"backend": "redis"}) == 1


async def test_a_cooldown_announced_by_one_worker_is_adopted_by_another(connect: Connect) -> None:
    now = [1000.0]  # one clock for both workers' breakers and the wall clock they share

    def clock() -> float:
        return now[0]

    here, there = CooldownBoard(connect(), 0.05, clock=clock), CooldownBoard(connect(), 0.05, clock=clock)
    settings = CooldownSettings(failures=1, duration=30.0)
    failing = fake("flaky")

    def member() -> Member:
        breaker = Breaker(settings, clock)
        return Member(failing, provider=None, breaker=breaker, stats=DeploymentStats(), price=None)  # type: ignore[arg-type]

    local, remote = member(), member()
    local.breaker.record_failure()
    assert local.breaker.state is State.COOLED_DOWN
    here.announce("flaky", local.breaker.seconds_until_available())
    await here.close()  # the write is done
    now[0] += 10
    changed: list[str] = []

    def adopt(name: str, seconds: float) -> None:  # what the worker's fleet does with a cooldown
        if remote.adopt_cooldown(seconds):
            changed.append(name)

    await there.adopt(["flaky"], adopt)
    assert remote.breaker.state is State.COOLED_DOWN and changed == ["flaky"]
    assert remote.breaker.seconds_until_available() == 20.0  # what is left of the 30 s announced


async def test_the_shared_cache_holds_answers_and_evicts_the_oldest(connect: Connect) -> None:
    answers = RedisAnswers(connect(), CacheSettings(max_entries=2, max_bytes=10_000), METRICS)
    other = RedisAnswers(connect(), CacheSettings(max_entries=2, max_bytes=10_000), METRICS)
    for key in (b"a" * 32, b"b" * 32):
        assert await answers.put(key, ANSWER, 60.0) == 0
    assert await other.fetch(b"a" * 32) == ANSWER
    assert await answers.put(b"c" * 32, ANSWER, 60.0) == 1  # max_entries: the oldest goes
    assert await other.fetch(b"a" * 32) is None and await other.fetch(b"c" * 32) == ANSWER
    small = RedisAnswers(
        connect(), CacheSettings(max_entries=100, max_bytes=len(encode(ANSWER)) + 10), METRICS
    )
    await small.put(b"d" * 32, ANSWER, 60.0)
    await small.put(b"e" * 32, ANSWER, 60.0)  # max_bytes: only one fits
    assert await small.fetch(b"d" * 32) is None and await small.fetch(b"e" * 32) == ANSWER


async def looks_at_flights(state: RedisState) -> int:
    """How many times Redis was asked for a flight's outcome (``wait``'s one command, MGET)."""
    stats = await state.call(lambda client: client.info("commandstats"))
    return int(stats.get("cmdstat_mget", {}).get("calls", 0))


async def test_one_instance_leads_a_flight_and_the_others_get_its_outcome(connect: Connect) -> None:
    probe = connect()
    leader = RedisAnswers(connect(), CacheSettings(), METRICS)
    follower = RedisAnswers(connect(), CacheSettings(), METRICS)
    key, token = b"f" * 32, flight_token()
    assert await leader.claim(key, 5.0, token)
    assert not await follower.claim(key, 5.0, flight_token())
    looked = await looks_at_flights(probe)
    waiting = asyncio.create_task(follower.wait(key))
    async with asyncio.timeout(5):  # until the follower has looked twice and found no outcome
        while await looks_at_flights(probe) < looked + 2:  # noqa: ASYNC110 (Redis counters: no event)
            await asyncio.sleep(POLL_INTERVAL)
    assert not waiting.done()
    await leader.land(key, token, ANSWER)
    assert await waiting == ANSWER

    failed = b"g" * 32
    assert await leader.claim(failed, 5.0, token)
    await leader.land(failed, token, UpstreamRateLimited("upstream busy", retry_after=7, deployment="a"))
    with pytest.raises(RelayedFailure) as raised:
        await follower.wait(failed)
    assert raised.value.status_code == 429 and raised.value.to_dict()["error"]["message"] == "upstream busy"
    # The error's headers travel with it, its retry advice too.
    assert raised.value.response_headers() == {
        "retry-after": "7",
        "retry-after-ms": "7000",
        "x-should-retry": "true",
    }

    left = b"h" * 32
    assert await leader.claim(left, 5.0, token)
    await leader.land(left, token, None)  # no verdict: the lock is free, no outcome
    assert await follower.wait(left) is None
    assert await follower.claim(left, 5.0, flight_token())


async def test_spend_adds_up_over_every_instance(connect: Connect, tmp_path: Path) -> None:
    first, second = RedisSpendStore(connect()), RedisSpendStore(connect())
    await first.exchange(
        {("team", "2026-11-24"): Tally(cost_usd=0.25, requests=1, prompt_tokens=3)}, "2026-11-24"
    )
    await second.exchange(
        {("team", "2026-11-23"): Tally(cost_usd=1.0, requests=2, completion_tokens=4)}, "2026-11-24"
    )
    totals = await first.exchange({}, "2026-11-24")
    assert totals == {"team": Spent(day=0.25, month=1.25, requests=3, tokens=7)}
    assert await first.exchange({}, "2026-12-01") == {}


async def test_a_pin_kept_by_one_worker_is_found_by_another_and_expires(connect: Connect) -> None:
    first, second = RedisPins(connect(), PinTable(None)), RedisPins(connect(), PinTable(None))
    key = b"s" * 16
    # A second to live: long enough that the other worker's first look finds it on a loaded
    # machine (its connection is opened for that look), short enough to wait for its expiry.
    first.keep(key, "d2", 1.0)
    await first.close()  # its background write is done
    assert await second.find(key, ["d1", "d2"]) == "d2"
    assert await second.find(key, ["d1"]) is None  # a deployment the group no longer has
    deadline = time.monotonic() + 5  # Redis's own clock expires the key (PX): poll for it
    while await second.find(key, ["d1", "d2"]) is not None:
        assert time.monotonic() < deadline, "the pin outlived its ttl"
        await asyncio.sleep(0.05)
    await second.close()


async def test_without_redis_a_worker_s_own_pins_serve(connect: Connect) -> None:
    pins = RedisPins(connect(url=f"redis://127.0.0.1:{free_port()}/0"), PinTable(None))
    pins.keep(b"k" * 16, "d1", 60.0)
    assert await pins.find(b"k" * 16, ["d1", "d2"]) == "d1"
    await pins.close()
