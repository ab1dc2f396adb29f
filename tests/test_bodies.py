"""Reading a request's body: bounded in size and in time, kept or dropped; a client that leaves is a 499.

The slow clients run on virtual time: a body that never ends times out when due (one tick of
the deadlines' timer late at most).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from starlette.requests import Request

from router.errors import ClientGone, PayloadTooLarge, RequestTimeout
from router.http.bodies import drop_body, read_body
from router.runtime.deadlines import Deadlines
from tests.virtual_time import run

Receive = Callable[[], Awaitable[dict[str, Any]]]


def request(receive: Receive, headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": headers or []}
    return Request(scope, receive)


def body_of(*chunks: bytes, then: str) -> Receive:
    """The ASGI messages of a body sent as ``chunks``; ``then``: "end", "stall", "leave", or
    "trickle" (one more byte every second for a minute, then the end)."""
    sent = list(chunks)
    trickled = 0

    async def receive() -> dict[str, Any]:
        if sent:
            return {"type": "http.request", "body": sent.pop(0), "more_body": True}
        nonlocal trickled
        if then == "trickle" and trickled < 60:
            trickled += 1
            await asyncio.sleep(1.0)
            return {"type": "http.request", "body": b" ", "more_body": True}
        if then in ("end", "trickle"):
            return {"type": "http.request", "body": b"", "more_body": False}
        if then == "leave":
            return {"type": "http.disconnect"}
        await asyncio.Event().wait()  # stall
        raise AssertionError("unreachable")

    return receive


async def timed_read(receive: Receive, time_limit: float = 30.0) -> tuple[bytes | BaseException, float]:
    """What ``read_body`` returned or raised, and when (on the loop's clock)."""
    started = asyncio.get_running_loop().time()
    outcome: bytes | BaseException
    try:
        outcome = await read_body(request(receive), 1024, time_limit, Deadlines(tick=0.25))
    except Exception as exc:
        outcome = exc
    return outcome, asyncio.get_running_loop().time() - started


def test_a_body_that_arrives_in_time_is_read_whole() -> None:
    outcome, _ = run(timed_read(body_of(b'{"a": ', b"1}", then="end")))
    assert outcome == b'{"a": 1}'


@pytest.mark.parametrize("then", ["stall", "trickle"])
def test_a_body_that_stalls_or_trickles_times_out_when_due(then: str) -> None:
    outcome, elapsed = run(timed_read(body_of(b'{"model": ', then=then), time_limit=30.0))
    assert isinstance(outcome, RequestTimeout)
    assert 30.0 <= elapsed <= 30.25
    assert outcome.status_code == 408  # the endpoint closes the connection: the body is not all read
    assert outcome.to_dict()["error"] == {
        "message": "the request body did not arrive within 30s",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_timeout",
    }


def test_a_client_that_leaves_midway_is_gone_not_an_error() -> None:
    outcome, _ = run(timed_read(body_of(b'{"model": ', then="leave")))
    assert isinstance(outcome, ClientGone) and outcome.status_code == 499


def test_the_size_limit_still_applies() -> None:
    outcome, _ = run(timed_read(body_of(b"x" * 1000, b"x" * 100, then="end")))
    assert isinstance(outcome, PayloadTooLarge)


@pytest.mark.parametrize(
    ("chunks", "then", "whole"),
    [
        ((b"x" * 600, b"x" * 400), "end", True),  # read to its end, so the connection serves on
        ((b"x" * 1000, b"x" * 100), "end", False),  # past the size limit: given up at once
        ((b"x" * 10,), "stall", False),  # past the time limit
        ((b"x" * 10,), "leave", False),
    ],
    ids=["whole", "too-large", "stalled", "gone"],
)
def test_a_refused_requests_body_is_read_within_the_same_limits(
    chunks: tuple[bytes, ...], then: str, whole: bool
) -> None:
    async def drop() -> tuple[bool, float]:
        started = asyncio.get_running_loop().time()
        outcome = await drop_body(request(body_of(*chunks, then=then)), 1024, 30.0, Deadlines(tick=0.25))
        return outcome, asyncio.get_running_loop().time() - started

    outcome, elapsed = run(drop())
    assert outcome is whole and elapsed <= 30.25
