"""Admission control: a concurrency cap with a bounded queue, and per-worker rate limits."""

from __future__ import annotations

import asyncio

import pytest

from router.errors import Saturated
from router.limits import ConcurrencyGate, RateLimit, per_worker
from tests.virtual_time import run


async def test_gate_admits_up_to_the_cap_then_queues_then_refuses() -> None:
    gate = ConcurrencyGate(2, max_queue=3, queue_timeout=5)
    await gate.enter()
    await gate.enter()
    assert not gate.has_capacity()
    waiters = [asyncio.create_task(gate.enter()) for _ in range(3)]
    await asyncio.sleep(0)
    assert gate.waiting == 3
    with pytest.raises(Saturated) as full:
        await gate.enter()
    assert full.value.reason == "queue_full" and full.value.status_code == 429
    gate.leave()  # the oldest waiter gets the slot
    await asyncio.sleep(0)
    assert waiters[0].done() and not waiters[1].done()
    assert gate.active == 2 and gate.waiting == 2
    for _ in range(4):
        gate.leave()
    await asyncio.gather(*waiters)
    assert gate.active == 0 and gate.waiting == 0


async def test_waiting_too_long_is_refused() -> None:
    gate = ConcurrencyGate(1, max_queue=1, queue_timeout=0.01)
    await gate.enter()
    with pytest.raises(Saturated) as late:
        await gate.enter()
    assert late.value.reason == "queue_timeout"
    assert gate.waiting == 0 and gate.active == 1


async def test_a_cancelled_waiter_leaves_the_queue_and_a_granted_one_passes_the_slot_on() -> None:
    gate = ConcurrencyGate(1, max_queue=2, queue_timeout=5)
    await gate.enter()
    first = asyncio.create_task(gate.enter())
    second = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    gate.leave()  # hands the slot to `first`...
    first.cancel()  # ...which is cancelled before it runs: the slot must reach `second`
    await asyncio.sleep(0)
    await second
    assert gate.active == 1 and gate.waiting == 0
    gate.leave()
    assert gate.active == 0


async def test_unlimited_gate() -> None:
    gate = ConcurrencyGate(None)
    for _ in range(100):
        await gate.enter()
    assert gate.has_capacity() and gate.active == 100


def test_each_worker_enforces_its_share() -> None:
    assert per_worker(100, 2) == 50
    assert per_worker(3, 4) == 1
    assert per_worker(None, 2) is None
    limit = RateLimit(rpm=120, tpm=1000, share=2)
    assert (limit.rpm, limit.tpm) == (60, 500)


def test_requests_per_minute_reject_a_burst_beyond_the_limit() -> None:
    limit = RateLimit(rpm=4, tpm=None)

    async def main() -> Saturated:
        for _ in range(4):
            await limit.admit(0, owner="d")
        with pytest.raises(Saturated) as refused:
            await limit.admit(0, owner="d")
        return refused.value

    refused = run(main())
    assert refused.reason == "rate_limited" and refused.retry_after == 15.0  # a quarter of a minute


def test_retry_after_says_when_the_request_would_fit() -> None:
    """Not a fixed interval: the time until the bucket has leaked enough, for requests and tokens."""
    requests = RateLimit(rpm=2, tpm=None)  # one request leaks out every 30 s
    tokens = RateLimit(rpm=100, tpm=1000)  # 1000 tokens a minute: 100 every 6 s

    async def main() -> list[float | None]:
        waits = []
        for _ in range(2):
            await requests.admit(0, owner="key k")
        await asyncio.sleep(10)
        for _ in range(2):  # twice: a refusal takes nothing
            with pytest.raises(Saturated) as refused:
                await requests.admit(0, owner="key k")
            waits.append(refused.value.retry_after)
        await asyncio.sleep(20)
        await requests.admit(0, owner="key k")  # exactly when it said

        await tokens.admit(600, owner="key k")
        await asyncio.sleep(6)  # 100 tokens leaked: 500 held
        with pytest.raises(Saturated) as refused:
            await tokens.admit(700, owner="key k")  # 200 too many: 12 s of leaking
        waits.append(refused.value.retry_after)
        await asyncio.sleep(12)
        await tokens.admit(700, owner="key k")
        return waits

    assert run(main()) == [pytest.approx(20.0), pytest.approx(20.0), pytest.approx(12.0)]


def test_retry_after_of_a_wait_that_timed_out() -> None:
    limit = RateLimit(rpm=6, tpm=None, wait=2.0)  # one request every 10 s; waits at most 2 s

    async def main() -> float | None:
        for _ in range(6):
            await limit.admit(0, owner="d")
        with pytest.raises(Saturated) as refused:
            await limit.admit(0, owner="d")
        return refused.value.retry_after

    assert run(main()) == pytest.approx(8.0)  # 10 s from the start, 2 s of them already waited


def test_a_burst_can_be_smoothed_by_waiting() -> None:
    limit = RateLimit(rpm=600, tpm=None, wait=1.0)  # one request per 0.1 s once the burst is spent

    async def main() -> float:  # on virtual time: aiolimiter's buckets leak by the loop's clock
        for _ in range(600):
            await limit.admit(0, owner="d")
        loop = asyncio.get_running_loop()
        started = loop.time()
        await limit.admit(0, owner="d")
        return loop.time() - started

    assert run(main()) == pytest.approx(0.1)


async def test_tokens_per_minute_and_a_request_larger_than_a_minute() -> None:
    limit = RateLimit(rpm=None, tpm=1000)
    await limit.admit(600, owner="d")
    assert not limit.has_capacity(600)
    with pytest.raises(Saturated):
        await limit.admit(600, owner="d")
    with pytest.raises(Saturated) as huge:
        await limit.admit(5000, owner="d")
    assert huge.value.reason == "tokens_exceed_limit" and "1000" in huge.value.message


async def test_reported_usage_corrects_the_estimate() -> None:
    limit = RateLimit(rpm=None, tpm=1000)
    await limit.admit(100, owner="d")
    limit.settle(estimated=100, used=700)  # the answer was much longer than estimated
    assert limit.has_capacity(300)  # 100 used + 600 debt + 300 = the whole 1000
    assert not limit.has_capacity(301)
    credit = RateLimit(rpm=None, tpm=1000)
    await credit.admit(900, owner="d")
    credit.settle(estimated=900, used=100)
    assert credit.has_capacity(200)  # 800 tokens of credit offset the next charge
