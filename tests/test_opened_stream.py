"""router.dispatch.opened_stream with a resumer: a stream that breaks midway goes on with what the
resumer hands over, and the broken call is over for its own listeners at the break."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from router.dispatch.opened_stream import OpenedStream
from router.errors import UpstreamError
from router.telemetry.labels import StreamOutcome
from router.wire.sse import DONE_EVENT, data_event


def text(word: str) -> bytes:
    return data_event({"id": "a", "choices": [{"index": 0, "delta": {"content": word}}]})


async def breaking(*events: bytes) -> AsyncGenerator[bytes, None]:
    for event in events:
        yield event
    raise UpstreamError("deployment a failed midway: reset", deployment="a")


async def ending(*events: bytes) -> AsyncGenerator[bytes, None]:
    for event in events:
        yield event


class Continuing:
    """A resumer that continues with ``rest``, or refuses when it has none."""

    def __init__(self, rest: list[bytes] | None) -> None:
        self.rest = rest
        self.cost = 0.25
        self.resumed: list[dict[str, object]] = []
        self.keeps_answer = True
        self.noted: list[bytes] = []
        self.broken: list[UpstreamError] = []
        self.ended: list[StreamOutcome] = []

    def note(self, event: bytes) -> None:
        self.noted.append(event)

    async def resume(self, broken: UpstreamError) -> AsyncGenerator[bytes, None]:
        self.broken.append(broken)
        if self.rest is None:
            raise broken
        return ending(*self.rest)

    async def end(self, outcome: StreamOutcome) -> None:
        self.ended.append(outcome)


async def relayed(stream: OpenedStream) -> list[bytes]:
    return [event async for event in stream.events()]


async def test_a_broken_stream_goes_on_with_its_continuation_and_its_call_ends_at_the_break() -> None:
    resumer = Continuing([text(" two"), DONE_EVENT])
    stream = OpenedStream("a", [text("one")], breaking(), 0.0, resumer=resumer)
    breaks: list[str] = []
    stream.when_broken(lambda: breaks.append("broke"))
    assert await relayed(stream) == [text("one"), text(" two"), DONE_EVENT]
    assert breaks == ["broke"] and stream.broken is resumer.broken[0]
    assert resumer.noted == [text("one"), text(" two"), DONE_EVENT]  # every event the client got
    stream.cost = 0.5
    assert stream.total_cost == 0.75  # its own and its continuations'
    await stream.end(StreamOutcome.COMPLETE)
    assert resumer.ended == [StreamOutcome.COMPLETE]


async def test_when_the_resumer_refuses_the_first_failure_propagates() -> None:
    resumer = Continuing(None)
    stream = OpenedStream("a", [text("one")], breaking(), 0.0, resumer=resumer)
    events: list[bytes] = []
    with pytest.raises(UpstreamError, match="failed midway"):
        async for event in stream.events():
            events.append(event)
    assert events == [text("one")]


async def test_without_a_resumer_a_break_is_the_failure_as_ever() -> None:
    stream = OpenedStream("a", [text("one")], breaking(text(" two")), 0.0)
    with pytest.raises(UpstreamError):
        await relayed(stream)
    assert stream.broken is None
