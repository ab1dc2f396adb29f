"""router.dispatch.opened_stream: the client's stream has one owner. It is complete when made,
tells its observers every event and then one result, computed once, in whatever order they were
given; with a resumer, a stream that breaks midway goes on with the continuation the resumer
hands over, and the broken call is over for its own observers at the break."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from router.config.model import Price
from router.dispatch.legs import Leg
from router.dispatch.opened_stream import Committed, Continuation, OpenedStream
from router.dispatch.stream_end import StreamResult
from router.errors import UpstreamError
from router.telemetry.labels import StreamOutcome
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from router.wire.sse import DONE_EVENT, Batches, data_event
from router.wire.usage import Usage
from tests.helpers import reads

PRICE = Price(input=1_000_000.0, output=2_000_000.0)  # a dollar a prompt token, two an answer's


def text(word: str) -> bytes:
    return data_event({"id": "a", "choices": [{"index": 0, "delta": {"content": word}}]})


def usage(prompt: int, completion: int) -> bytes:
    return data_event(
        {"id": "a", "choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion}}
    )


async def breaking(*events: bytes) -> Batches:
    """An upstream that sends ``events`` one read each, then fails."""
    for event in events:
        yield [event]
    raise UpstreamError("deployment a failed midway: reset", deployment="a")


async def ending(*events: bytes) -> Batches:
    """An upstream that sends ``events`` one read each."""
    for event in events:
        yield [event]


class Heard:
    """An observer that writes down what it is told."""

    def __init__(self, name: str = "", log: list[tuple[str, Any]] | None = None) -> None:
        self.name = name
        self.log = log if log is not None else []
        self.events: list[bytes] = []
        self.results: list[StreamResult] = []

    def on_event(self, event: bytes) -> None:
        self.events.append(event)

    def on_end(self, result: StreamResult) -> None:
        self.results.append(result)
        self.log.append((self.name, result))


def leg(name: str, head: list[bytes], tail: Batches, *observers: Heard) -> Leg:
    return Leg(name, head, tail, 0.0, price=PRICE, observers=observers)


class Continuing:
    """A resumer that continues on deployment b with ``rest``, or refuses when it has none."""

    def __init__(self, rest: list[bytes] | None, *observers: Heard) -> None:
        self.rest = rest
        self.observers = observers
        self.resumed: list[dict[str, Any]] = []
        self.keeps_answer = True
        self.attempts = 1
        self.noted: list[bytes] = []
        self.broken: list[UpstreamError] = []
        self.continued: list[Leg] = []

    def note(self, event: bytes) -> None:
        self.noted.append(event)

    async def resume(self, broken: UpstreamError, spent: float = 0.0) -> Continuation:
        self.broken.append(broken)
        if self.rest is None:
            raise broken
        self.resumed.append({"from": "a", "to": "b", "at_chars": 3})
        continuation = leg("b", [], ending(*self.rest), *self.observers)
        self.continued.append(continuation)
        return Continuation(continuation, continuation.batches())


async def relayed(stream: OpenedStream) -> list[bytes]:
    return [event async for batch in stream.batches() for event in batch]


async def test_a_stream_tells_every_observer_the_same_one_result_in_whatever_order_they_come() -> None:
    heard_in_each_order = []
    for order in itertools.permutations(["cache", "access log", "status page"]):
        log: list[tuple[str, Any]] = []
        first = leg("a", [text("one")], ending(usage(3, 4), DONE_EVENT), Heard("bookkeeping", log))
        stream = OpenedStream(Committed(first), observers=[Heard(name, log) for name in order])
        assert await relayed(stream) == [text("one"), usage(3, 4), DONE_EVENT]
        await stream.end(StreamOutcome.COMPLETE)
        await stream.end(StreamOutcome.ABANDONED)  # once ended, a stream stays as it ended
        assert log[0][0] == "bookkeeping"  # its call ends first: the stream's cost is that call's
        heard_in_each_order.append(sorted(log))
    result = StreamResult(StreamOutcome.COMPLETE, Usage(3, 4), 3.0 + 8.0)
    everyone = [("access log", result), ("bookkeeping", result), ("cache", result), ("status page", result)]
    assert heard_in_each_order == [everyone] * 6


async def test_its_observers_see_every_event_the_client_gets_and_the_usage_chunk_it_does_not() -> None:
    client = Heard()
    first = leg("a", [text("one")], ending(usage(3, 4), DONE_EVENT))
    stream = OpenedStream(Committed(first), hide_usage=True, observers=[client])
    assert await relayed(stream) == [text("one"), DONE_EVENT]
    assert client.events == [text("one"), usage(3, 4), DONE_EVENT]  # the cache keeps the answer's usage


async def test_a_broken_stream_goes_on_with_its_continuation_and_its_call_ends_at_the_break() -> None:
    call, continued, client = Heard(), Heard(), Heard()
    resumer = Continuing([text(" two"), usage(5, 6), DONE_EVENT], continued)
    first = leg("a", [usage(1, 1), text("one")], breaking(), call)
    stream = OpenedStream(Committed(first, 1, resumer), observers=[client])
    batches = stream.batches()
    assert await anext(batches) == [usage(1, 1), text("one")]  # the head, as one batch
    assert not call.results
    rest = [event async for batch in batches for event in batch]
    assert rest == [text(" two"), usage(5, 6), DONE_EVENT]
    assert call.results == [StreamResult(StreamOutcome.CUT, Usage(1, 1), 3.0)]  # over at the break
    assert resumer.broken[0].message == "deployment a failed midway: reset"
    assert resumer.noted == [usage(1, 1), text("one"), text(" two"), usage(5, 6), DONE_EVENT]
    assert continued.events == [text(" two"), usage(5, 6), DONE_EVENT] and not continued.results
    await stream.end(StreamOutcome.COMPLETE)
    assert continued.results == [StreamResult(StreamOutcome.COMPLETE, Usage(5, 6), 17.0)]
    # The client's result: the usage its stream reported, the cost of both calls.
    hop = {"from": "a", "to": "b", "at_chars": 3}
    assert client.results == [StreamResult(StreamOutcome.COMPLETE, Usage(5, 6), 20.0, (hop,))]


async def test_when_the_resumer_refuses_the_first_failure_propagates() -> None:
    call = Heard()
    resumer = Continuing(None)
    stream = OpenedStream(Committed(leg("a", [text("one")], breaking(), call), 1, resumer))
    events: list[bytes] = []
    with pytest.raises(UpstreamError, match="failed midway"):
        async for batch in stream.batches():
            events.extend(batch)
    assert events == [text("one")]
    assert [result.outcome for result in call.results] == [StreamOutcome.CUT]
    await stream.end(StreamOutcome.CUT)
    assert len(call.results) == 1


async def test_without_a_resumer_a_break_is_the_failure_as_ever() -> None:
    call = Heard()
    stream = OpenedStream(Committed(leg("a", [text("one")], breaking(text(" two")), call)))
    with pytest.raises(UpstreamError):
        await relayed(stream)
    assert not call.results  # the relay ends it, with what it saw
    await stream.end(StreamOutcome.CUT)
    assert [result.outcome for result in call.results] == [StreamOutcome.CUT]


async def test_a_replay_costs_nothing() -> None:
    client = Heard()
    stream = OpenedStream.replay("a", [text("one"), usage(3, 4), DONE_EVENT], FORMATS[Dialect.CHAT], [client])
    assert await relayed(stream) == [text("one"), usage(3, 4), DONE_EVENT]
    await stream.end(StreamOutcome.COMPLETE)
    assert client.results == [StreamResult(StreamOutcome.COMPLETE, Usage(3, 4), 0.0)]


async def test_events_that_came_together_go_on_together_up_to_an_error_event_among_them() -> None:
    call = Heard()
    error = data_event({"error": {"message": "overloaded"}})
    together = [text(" three"), error, text(" never")]
    first = Leg("a", [text("one")], reads(together), 0.0, rest=[text(" two")], observers=[call])
    stream = OpenedStream(Committed(first))
    batches = stream.batches()
    assert await anext(batches) == [text("one"), text(" two")]  # the head, with the rest of its read
    assert await anext(batches) == [text(" three")]  # what came before the error event, then the failure
    with pytest.raises(UpstreamError, match="overloaded"):
        await anext(batches)
    assert call.events == [text("one"), text(" two"), text(" three")]


async def test_a_usage_chunk_the_client_did_not_ask_for_leaves_its_batch_and_no_empty_batch_is_sent() -> None:
    first = leg("a", [text("one")], reads([usage(3, 4)], [text(" two"), usage(3, 5), DONE_EVENT]))
    stream = OpenedStream(Committed(first), hide_usage=True)
    assert [batch async for batch in stream.batches()] == [[text("one")], [text(" two"), DONE_EVENT]]


async def test_a_replay_is_one_batch() -> None:
    stream = OpenedStream.replay("a", [text("one"), usage(3, 4), DONE_EVENT], FORMATS[Dialect.CHAT])
    assert [batch async for batch in stream.batches()] == [[text("one"), usage(3, 4), DONE_EVENT]]
