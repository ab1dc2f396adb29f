"""The SSE relay owns a stream's end: it relays every event, ends a cut stream with an error
event instead of ``[DONE]`` (and one the drain outlasted too), stops the upstream when the
client leaves, and ends the stream with what happened, once."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from router.dispatch.legs import Leg
from router.dispatch.opened_stream import Committed, OpenedStream
from router.dispatch.stream_end import StreamResult
from router.errors import UpstreamError
from router.http.responses import SSEResponse
from router.runtime.drain import Drain
from router.telemetry.labels import StreamOutcome
from router.wire.sse import DONE_EVENT, Batches

CHUNK = b'data: {"choices": [{"index": 0, "delta": {"content": "hi"}}]}\n\n'


class Upstream:
    """The tail of a stream: ``events``, then the end, a failure, or silence until closed."""

    def __init__(self, events: list[bytes], *, then: str = "end") -> None:
        self.events, self.then, self.closed = events, then, False

    async def tail(self) -> Batches:
        try:
            for event in self.events:  # one read each
                yield [event]
            if self.then == "fail":
                raise UpstreamError("the connection reset", deployment="a")
            if self.then == "hang":
                await asyncio.Event().wait()
        finally:
            self.closed = True


class Client:
    """The ASGI side: records what is sent; ``leave`` makes it disconnect."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.gone = asyncio.Event()

    async def receive(self) -> dict[str, Any]:
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


class Outcomes(list[StreamOutcome]):
    """An observer of the stream that notes how it ended."""

    def on_event(self, event: bytes) -> None:
        return None

    def on_end(self, result: StreamResult) -> None:
        self.append(result.outcome)


def opened(upstream: Upstream) -> tuple[OpenedStream, list[StreamOutcome]]:
    ended = Outcomes()
    return OpenedStream(Committed(Leg("a", [CHUNK], upstream.tail(), 0.0)), observers=[ended]), ended


async def relay(stream: OpenedStream, client: Client, drain: Drain | None = None) -> None:
    response = SSEResponse(stream, {"x-raceway-deployment": "a"}, drain or Drain())
    await response({"type": "http"}, client.receive, client.send)


def last_error(client: Client) -> dict[str, Any]:
    last_event = client.body.split(b"\n\n")[-2]
    error: dict[str, Any] = orjson.loads(last_event.removeprefix(b"data: "))["error"]
    return error


async def test_a_whole_stream_is_relayed_and_ends_complete() -> None:
    upstream, client = Upstream([CHUNK, DONE_EVENT]), Client()
    stream, ended = opened(upstream)
    await relay(stream, client)
    assert client.sent[0]["status"] == 200 and (b"x-raceway-deployment", b"a") in client.sent[0]["headers"]
    assert client.body == CHUNK + CHUNK + DONE_EVENT
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert ended == [StreamOutcome.COMPLETE] and upstream.closed


async def test_what_one_read_brought_is_written_at_once() -> None:
    client = Client()
    together = Leg("a", [CHUNK], Upstream([]).tail(), 0.0, rest=[CHUNK, DONE_EVENT])
    await relay(OpenedStream(Committed(together)), client)
    bodies = [m["body"] for m in client.sent if m["type"] == "http.response.body"]
    assert bodies == [CHUNK + CHUNK + DONE_EVENT, b""]


async def test_a_stream_cut_midway_ends_with_an_error_event_and_no_done() -> None:
    upstream, client = Upstream([CHUNK], then="fail"), Client()
    stream, ended = opened(upstream)
    await relay(stream, client)
    assert last_error(client)["message"] == "the connection reset"
    assert DONE_EVENT not in client.body
    assert ended == [StreamOutcome.CUT]


async def test_a_client_that_leaves_stops_the_upstream_and_the_stream_is_abandoned() -> None:
    upstream, client = Upstream([CHUNK], then="hang"), Client()
    stream, ended = opened(upstream)
    relaying = asyncio.create_task(relay(stream, client))
    async with asyncio.timeout(5):
        while client.body.count(b"data:") < 2:  # noqa: ASYNC110 (the head and one upstream event out)
            await asyncio.sleep(0)
    client.gone.set()
    await relaying
    assert ended == [StreamOutcome.ABANDONED] and upstream.closed


async def test_a_stream_the_drain_outlasts_ends_with_an_error_event_and_no_done() -> None:
    upstream, client = Upstream([CHUNK], then="hang"), Client()
    stream, ended = opened(upstream)
    drain = Drain()
    relaying = asyncio.create_task(relay(stream, client, drain))
    async with asyncio.timeout(5):
        while client.body.count(b"data:") < 2:  # noqa: ASYNC110 (the head and one upstream event out)
            await asyncio.sleep(0)
    drain.end()
    async with asyncio.timeout(5):
        await relaying
    assert last_error(client) == {
        "message": "the gateway is shutting down: the stream ended before its answer did",
        "type": "service_unavailable",
        "param": None,
        "code": "server_shutting_down",
    }
    assert client.body.startswith(CHUNK + CHUNK) and DONE_EVENT not in client.body
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert ended == [StreamOutcome.STOPPED] and upstream.closed


async def test_a_stream_ends_once_and_tells_its_observers() -> None:
    upstream = Upstream([])
    bookkeeping, access_log = Outcomes(), Outcomes()
    stream = OpenedStream(
        Committed(Leg("a", [CHUNK], upstream.tail(), 0.0, observers=[bookkeeping])), observers=[access_log]
    )
    await stream.end(StreamOutcome.ABANDONED)
    await stream.end(StreamOutcome.COMPLETE)
    assert bookkeeping == access_log == [StreamOutcome.ABANDONED]
    assert stream.result is not None and stream.result.outcome is StreamOutcome.ABANDONED


async def test_a_client_that_leaves_leaves_no_task_behind() -> None:
    upstream, client = Upstream([CHUNK], then="hang"), Client()
    stream, ended = opened(upstream)
    before = asyncio.all_tasks()
    relaying = asyncio.create_task(relay(stream, client))
    async with asyncio.timeout(5):
        while client.body.count(b"data:") < 2:  # noqa: ASYNC110 (the head and one upstream event out)
            await asyncio.sleep(0)
    assert len(asyncio.all_tasks() - before) == 2  # the relay, in the request's task, and its watcher
    client.gone.set()
    await relaying
    assert asyncio.all_tasks() == before  # the watcher is over, and no generator is left to close
    assert ended == [StreamOutcome.ABANDONED] and upstream.closed


async def test_a_relay_that_ends_leaves_no_task_behind() -> None:
    upstream, client = Upstream([CHUNK, DONE_EVENT]), Client()
    stream, ended = opened(upstream)
    before = asyncio.all_tasks()
    await relay(stream, client)
    assert asyncio.all_tasks() == before
    assert ended == [StreamOutcome.COMPLETE]
