"""look_up: the cache first, then an identical request in flight; a follower waits no longer
than its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from router.answers.cache import CachedAnswer, CachePlan, plan_for
from router.answers.flights import Flight
from router.answers.reuse import Keeper, ground, look_up
from router.config.load import parse_config
from router.errors import ClientGone, GatewayError, ShuttingDown, UpstreamError, UpstreamTimeout
from router.routing.rules import route
from router.runtime.gateway import Gateway
from router.telemetry.exchange import Exchange
from router.telemetry.metrics import Metrics

CONFIG = parse_config(
    b"deployments: [{name: a, provider: fake}]\n"
    b"models: [{name: m, deployments: [a], cache: {mode: always}}]\n",
    {},
)
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
ANSWER = CachedAnswer(b'{"choices": []}', "a", None)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    built = Gateway.build(CONFIG, Metrics(CollectorRegistry()))
    yield built
    await built.close()


def plan() -> CachePlan:
    return plan_for(route(CONFIG, "m", BODY, None, {}), "/v1/chat/completions", BODY, None, None, 60.0)


async def test_the_first_leads_the_next_follows_and_then_the_cache_answers(gateway: Gateway) -> None:
    first, second, third = (Exchange(str(n), "/v1/chat/completions", model="m") for n in range(3))
    leader = await look_up(gateway, plan(), first, 1.0)
    assert isinstance(leader, Flight) and first.cache is None
    follower = asyncio.create_task(look_up(gateway, plan(), second, 1.0))
    await asyncio.sleep(0)
    Keeper(gateway, plan(), leader).keep(ANSWER)
    assert await follower == ANSWER and second.cache == "hit"
    assert await look_up(gateway, plan(), third, 1.0) == ANSWER and third.cache == "hit"


async def test_a_follower_gives_up_at_its_deadline(gateway: Gateway) -> None:
    leader = await look_up(gateway, plan(), Exchange("1", "/v1/chat/completions"), 1.0)
    assert isinstance(leader, Flight)
    with pytest.raises(UpstreamTimeout):
        await look_up(gateway, plan(), Exchange("2", "/v1/chat/completions"), 0.05)
    leader.abandon()


@pytest.mark.parametrize("error", [ShuttingDown("the drain ended"), ClientGone("the client left")])
async def test_a_leader_stopped_for_its_own_reasons_hands_over_to_a_follower(
    gateway: Gateway, error: GatewayError
) -> None:
    leader = await look_up(gateway, plan(), Exchange("1", "/v1/chat/completions"), 1.0)
    assert isinstance(leader, Flight)
    follower = asyncio.create_task(look_up(gateway, plan(), Exchange("2", "/v1/chat/completions"), 1.0))
    await asyncio.sleep(0)
    ground(leader, error)
    successor = await follower
    assert isinstance(successor, Flight) and successor is not leader
    successor.abandon()


async def test_a_failed_call_is_shared_with_the_followers(gateway: Gateway) -> None:
    leader = await look_up(gateway, plan(), Exchange("1", "/v1/chat/completions"), 1.0)
    assert isinstance(leader, Flight)
    follower = asyncio.create_task(look_up(gateway, plan(), Exchange("2", "/v1/chat/completions"), 1.0))
    await asyncio.sleep(0)
    ground(leader, UpstreamTimeout("the upstream did not answer"))
    with pytest.raises(UpstreamTimeout):
        await follower


async def test_a_follower_sharing_the_leaders_error_logs_no_call_of_its_own(gateway: Gateway) -> None:
    first, second = (Exchange(str(n), "/v1/chat/completions", model="m") for n in range(2))
    leader = await look_up(gateway, plan(), first, 1.0)
    assert isinstance(leader, Flight)
    follower = asyncio.create_task(look_up(gateway, plan(), second, 1.0))
    await asyncio.sleep(0)
    error = UpstreamError("the upstream failed", deployment="a")
    error.attempts, error.upstream_request_id = 2, "req_1,req_2"
    ground(leader, error)
    with pytest.raises(UpstreamError) as caught:
        await follower
    first.failed(error)
    second.failed(caught.value)
    assert (first.coalesced, first.deployment, first.attempts, first.upstream_request_id) == (
        False,
        "a",
        2,
        "req_1,req_2",
    )
    assert second.coalesced and second.error == "upstream_error"
    assert (second.deployment, second.attempts, second.upstream_request_id) == (None, 0, None)
