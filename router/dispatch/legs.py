"""One upstream call's part of a client's stream (a ``Leg``): read up to its first content, then
relayed, then ended once with its own result.

A stream is opened by reading it up to its first content event (``open_stream``); what was read
is held back (``head``, and what came after the first content in the same read: ``rest``) and the
rest is still upstream (``tail``). Events travel in the batches they came in
(``router.wire.sse.Batches``): each is looked at one by one, and handed on with its batch.

Whatever the provider and the dialect, this is where an upstream's error event becomes a
failure: before content, one another deployment may retry; after it, a cut. What an event
means (content, the end, usage) is the client's ``WireFormat``'s to say: the call's events are in
the client's dialect by now (the upstream's own format stays behind the ``Call`` that translated
them). What is held back is bounded by the deployment's ``max_response_size``.

A leg is complete when it is made: the deployment, its call's ties to the upstream, its price,
its trace span (a continuation's links to it) and its observers (the attempt's bookkeeping, the
trace span's watcher). ``end`` closes the upstream side and computes its ``StreamResult``
(outcome, the usage its events reported, their cost at its price) once, for every observer. The
client's stream (``OpenedStream``) is made of one leg, or of several when continuations took over
after breaks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from router.config.model import Deployment, Price
from router.dispatch.stream_end import StreamObserver, StreamResult
from router.errors import UpstreamError, UpstreamTimeout
from router.providers.correlation import Correlation
from router.providers.upstream_errors import Scrubber, failure_in_event
from router.spend.pricing import cost_usd
from router.telemetry.labels import StreamOutcome
from router.telemetry.tracing import NO_ATTEMPT, AttemptSpan
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS, WireFormat
from router.wire.sse import Batches
from router.wire.usage import Usage

_CHAT = FORMATS[Dialect.CHAT]


class Leg:
    """A stream committed to one deployment: ``head`` is held back, ``tail`` still upstream."""

    __slots__ = (
        "_result",
        "_usage",
        "client",
        "correlation",
        "deployment",
        "finished",
        "head",
        "observers",
        "price",
        "rest",
        "scrubber",
        "span",
        "started",
        "tail",
    )

    def __init__(
        self,
        deployment: str,
        head: list[bytes],
        tail: Batches,
        started: float,
        *,
        rest: list[bytes] | None = None,
        finished: bool = False,
        client: WireFormat = _CHAT,
        scrubber: Scrubber | None = None,
        correlation: Correlation | None = None,
        price: Price | None = None,
        span: AttemptSpan = NO_ATTEMPT,
        observers: Sequence[StreamObserver] = (),
    ) -> None:
        """``rest``: the events that came after the first content in the read that brought it
        (not yet looked at); ``finished``: the head already holds the whole stream; ``client``:
        the format of its events (the client's); ``scrubber``: what to remove from the message of
        an error event the upstream sends midway; ``correlation``: the call's ties to the upstream
        (None: a replay); ``price``: what its tokens cost; ``span``: its call's trace span (a
        continuation's links to it)."""
        self.deployment = deployment
        self.head = head
        self.rest = rest if rest is not None else []
        self.tail = tail
        self.started = started
        self.finished = finished
        self.client = client
        self.scrubber = Scrubber() if scrubber is None else scrubber
        self.correlation = correlation
        self.price = price
        self.span = span
        self.observers = tuple(observers)
        self._usage: Usage | None = None
        self._result: StreamResult | None = None

    @classmethod
    def replay(cls, deployment: str, events: list[bytes], client: WireFormat = _CHAT) -> Leg:
        """A stream whose every event is already known (an answer from the cache)."""
        return cls(deployment, events, _no_more_events(), time.perf_counter(), finished=True, client=client)

    @property
    def usage(self) -> Usage | None:
        """The tokens its events reported so far."""
        return self._usage

    @property
    def result(self) -> StreamResult | None:
        """How it ended (None until ``end``)."""
        return self._result

    async def batches(self) -> Batches:
        """Every event of the call, in batches (the head and what came with it first); raises
        ``UpstreamError`` if the upstream fails midway, after the events before the failure."""
        head = self.head
        self._saw(head)
        if self.finished:
            yield head
            return
        rest, failed = self._checked(self.rest)
        yield head + rest if rest else head
        if failed is not None:
            raise failed
        async for batch in self.tail:
            batch, failed = self._checked(batch)
            if batch:
                yield batch
            if failed is not None:
                raise failed

    def _checked(self, batch: list[bytes]) -> tuple[list[bytes], UpstreamError | None]:
        """The events of ``batch`` before its first error event (told to the observers), and that
        event's failure (None: no error event)."""
        deployment, scrubber, client = self.deployment, self.scrubber, self.client
        for index, event in enumerate(batch):
            failed = failure_in_event(event, client, deployment=deployment, scrubber=scrubber)
            if failed is not None:
                batch = batch[:index]
                self._saw(batch)
                return batch, failed
        self._saw(batch)
        return batch, None

    def _saw(self, batch: list[bytes]) -> None:
        usage, event_usage = self._usage, self.client.event_usage
        for event in batch:
            usage = event_usage(event, usage)
        self._usage = usage
        for observer in self.observers:
            for event in batch:
                observer.on_event(event)

    async def end(self, outcome: StreamOutcome) -> StreamResult:
        """Close the upstream side and tell the observers how the call ended; later calls only
        return that result."""
        if self._result is not None:
            return self._result
        usage = self._usage
        result = self._result = StreamResult(
            outcome, usage, cost_usd(self.price, usage) if usage is not None else 0.0
        )
        try:
            await self.tail.aclose()
        finally:
            for observer in self.observers:
                observer.on_end(result)
        return result


async def _no_more_events() -> Batches:
    return
    yield


async def open_stream(
    deployment: Deployment,
    batches: Batches,
    scrubber: Scrubber | None = None,
    client: WireFormat = _CHAT,
    *,
    correlation: Correlation | None = None,
    price: Price | None = None,
    span: AttemptSpan = NO_ATTEMPT,
    observers: Sequence[StreamObserver] = (),
) -> Leg:
    """Read ``batches`` (in the ``client``'s format) up to the first content event (within
    ``first_chunk_timeout``): the leg, whose observers are told of its events from the first.

    ``scrubber``: what to remove from the message of an error event the upstream sends."""
    started = time.perf_counter()
    scrubber = Scrubber() if scrubber is None else scrubber
    try:
        async with asyncio.timeout(deployment.first_chunk_timeout):
            head, rest, finished = await _read_until_content(batches, deployment, scrubber, client)
    except TimeoutError as exc:
        await batches.aclose()
        raise UpstreamTimeout(
            f"deployment {deployment.name} sent no content within {deployment.first_chunk_timeout:g}s",
            deployment=deployment.name,
        ) from exc
    except BaseException:
        await batches.aclose()
        raise
    return Leg(
        deployment.name,
        head,
        batches,
        started,
        rest=rest,
        finished=finished,
        client=client,
        scrubber=scrubber,
        correlation=correlation,
        price=price,
        span=span,
        observers=observers,
    )


async def _read_until_content(
    batches: Batches, deployment: Deployment, scrubber: Scrubber, client: WireFormat
) -> tuple[list[bytes], list[bytes], bool]:
    """Events up to and including the first content event, those that came after it in the same
    batch, and True when the stream already ended.

    Fails (retryably) on an error event, or once what is held passes ``max_response_size``
    (an upstream that sends only comments or empty chunks until ``first_chunk_timeout``)."""
    name = deployment.name
    head: list[bytes] = []
    held = 0
    async for batch in batches:
        for index, event in enumerate(batch):
            held += len(event)
            if held > deployment.max_response_size:
                raise UpstreamError(
                    f"deployment {name} sent more than its max_response_size "
                    f"({deployment.max_response_size} bytes) before any content",
                    deployment=name,
                    code="upstream_response_too_large",
                )
            if (failed := failure_in_event(event, client, deployment=name, scrubber=scrubber)) is not None:
                raise failed
            head.append(event)
            if client.is_final(event):
                return head, [], True
            if client.has_content(event):
                return head, batch[index + 1 :], False
    raise UpstreamError(f"deployment {name} ended the stream before any content", deployment=name)
