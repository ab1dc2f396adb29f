"""Single flight: identical requests in flight share one call; failures and departures are handled."""

from __future__ import annotations

import asyncio

import pytest

from router.answers.cache import CachedAnswer
from router.answers.flights import Flight, Flights
from router.errors import UpstreamError

ANSWER = CachedAnswer(b'{"choices": []}', "a", None)
KEY = b"k" * 32


async def crowd(flights: Flights, count: int) -> list[asyncio.Task[Flight | CachedAnswer]]:
    tasks = [asyncio.create_task(flights.lead_or_follow(KEY)) for _ in range(count)]
    await asyncio.sleep(0)  # everyone arrives
    return tasks


async def test_the_first_leads_and_everyone_else_gets_its_answer() -> None:
    flights = Flights()
    tasks = await crowd(flights, 50)
    leader = tasks[0].result()
    assert isinstance(leader, Flight)
    assert not any(task.done() for task in tasks[1:])
    leader.finish(ANSWER)
    assert await asyncio.gather(*tasks[1:]) == [ANSWER] * 49
    assert len(flights) == 0  # landed: the next request leads a new flight
    assert isinstance(await flights.lead_or_follow(KEY), Flight)


async def test_a_failed_call_fails_every_follower_with_the_same_error() -> None:
    flights = Flights()
    tasks = await crowd(flights, 5)
    leader = tasks[0].result()
    assert isinstance(leader, Flight)
    error = UpstreamError("upstream broke", deployment="a")
    leader.fail(error)
    for task in tasks[1:]:
        with pytest.raises(UpstreamError) as raised:
            await task
        assert raised.value is error


async def test_when_the_leader_leaves_a_follower_leads_and_the_rest_follow_it() -> None:
    flights = Flights()
    tasks = await crowd(flights, 4)
    first = tasks[0].result()
    assert isinstance(first, Flight)
    first.abandon()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    led = [task for task in tasks[1:] if task.done()]
    assert len(led) == 1
    new_leader = led[0].result()
    assert isinstance(new_leader, Flight)
    new_leader.finish(ANSWER)
    assert [await task for task in tasks[1:] if task is not led[0]] == [ANSWER] * 2


async def test_a_follower_that_gives_up_does_not_disturb_the_others() -> None:
    flights = Flights()
    tasks = await crowd(flights, 3)
    leader = tasks[0].result()
    assert isinstance(leader, Flight)
    tasks[1].cancel()
    await asyncio.sleep(0)
    leader.finish(ANSWER)
    assert await tasks[2] == ANSWER
    assert tasks[1].cancelled()


async def test_settling_twice_changes_nothing() -> None:
    flights = Flights()
    leader = await flights.lead_or_follow(KEY)
    assert isinstance(leader, Flight)
    leader.finish(ANSWER)
    leader.abandon()
    leader.fail(UpstreamError("late"))
    assert leader.settled
