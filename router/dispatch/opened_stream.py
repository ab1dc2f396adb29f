"""A stream committed to one deployment, and the one place where a stream ends.

A stream is opened by reading it up to its first content event (``open_stream``); what
was read is held back (``head``) and the rest is still upstream (``tail``). Whoever
relays it ends it with ``end(outcome)``, exactly once: that closes the upstream side and
tells every listener how it ended, in one vocabulary (``StreamOutcome``) from the
deployment's bookkeeping to the access log.

Whatever the provider and the dialect, this is where an upstream's error event becomes a
failure: before content, one another deployment may retry; after it, a cut. What an event
means (content, the end, usage) is the stream's ``WireFormat``'s to say: the stream is in
the client's dialect by now. What is held back is bounded by the deployment's
``max_response_size``.

A stream of a group with ``resume`` has a ``resumer`` (``router.dispatch.resume``): it sees every
event that passes, and when the upstream fails midway it may hand over a continuation whose
events follow instead of the failure; the broken call then counts as cut (``broken``) while the
client's stream goes on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from router.config.model import Deployment
from router.errors import UpstreamError, UpstreamTimeout
from router.providers.correlation import Correlation
from router.providers.upstream_errors import Scrubber, failure_in_event
from router.telemetry.labels import StreamOutcome
from router.telemetry.tracing import NO_ATTEMPT, AttemptSpan
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS, WireFormat
from router.wire.usage import Usage

_CHAT = FORMATS[Dialect.CHAT]


class Continuer(Protocol):
    """Continues a stream that failed midway (``router.dispatch.resume.Resumer``)."""

    cost: float  # of the continuations that ended
    resumed: list[dict[str, Any]]  # each continuation: from, to, at_chars
    keeps_answer: bool  # a spliced answer may go into the answer cache

    def note(self, event: bytes) -> None: ...

    async def resume(self, broken: UpstreamError) -> AsyncGenerator[bytes, None]:
        """The rest of the stream; raises ``broken`` when it cannot be continued."""
        ...

    async def end(self, outcome: StreamOutcome) -> None: ...


@dataclass(slots=True)
class OpenedStream:
    """A stream committed to one deployment: ``head`` is held back, ``tail`` still upstream."""

    deployment: str
    head: list[bytes]
    tail: AsyncGenerator[bytes, None]
    upstream_started: float
    finished: bool = False  # the head already holds the whole stream
    attempts: int = 1
    usage: Usage | None = None
    cost: float = 0.0
    correlation: Correlation | None = None  # the call's ties to the upstream (None: a replay)
    # The gateway asked for usage the client did not: keep the usage-only chunk to ourselves.
    hide_usage: bool = False
    # What to remove from the message of an error event the upstream sends midway.
    scrubber: Scrubber = field(default_factory=Scrubber, repr=False)
    wire_format: WireFormat = field(default=_CHAT, repr=False)  # the dialect of its events
    # Sees every event that passes, e.g. to assemble the whole answer.
    on_event: Callable[[bytes], None] | None = field(default=None, repr=False)
    # Sees every event too, for the stream's trace span (set only when the request is traced).
    watch: Callable[[bytes], None] | None = field(default=None, repr=False)
    # The call's trace span (a continuation's links to it).
    span: AttemptSpan = field(default=NO_ATTEMPT, repr=False)
    outcome: StreamOutcome | None = None  # set once, by ``end``
    resumer: Continuer | None = field(default=None, repr=False)
    # The failure a continuation took over from (this call broke; the client's stream went on).
    broken: UpstreamError | None = None
    _own_usage: Usage | None = field(default=None, repr=False)  # this call's usage when it broke
    _listeners: list[Callable[[StreamOutcome], None]] = field(default_factory=list, repr=False)
    _on_break: list[Callable[[], None]] = field(default_factory=list, repr=False)

    @classmethod
    def replay(cls, deployment: str, events: list[bytes], wire_format: WireFormat = _CHAT) -> OpenedStream:
        """A stream whose every event is already known (an answer from the cache)."""
        return cls(
            deployment, events, _no_more_events(), time.perf_counter(), finished=True, wire_format=wire_format
        )

    def when_ended(self, listener: Callable[[StreamOutcome], None]) -> None:
        """Call ``listener`` with the outcome when the stream ends (listeners run in order)."""
        self._listeners.append(listener)

    @property
    def own_usage(self) -> Usage | None:
        """The tokens this call used (without its continuations')."""
        return self._own_usage if self.broken is not None else self.usage

    @property
    def total_cost(self) -> float:
        return self.cost + (self.resumer.cost if self.resumer is not None else 0.0)

    async def events(self) -> AsyncGenerator[bytes, None]:
        """Every event for the client; raises ``UpstreamError`` if the upstream fails midway
        (and no continuation takes over)."""
        for event in self.head:
            if self._passes(event):
                yield event
        if self.finished:
            return
        tail = self.tail
        while True:
            try:
                event = await anext(tail)
                failed = failure_in_event(
                    event, self.wire_format, deployment=self.deployment, scrubber=self.scrubber
                )
                if failed is not None:
                    raise failed
            except StopAsyncIteration:
                return
            except UpstreamError as exc:
                if self.resumer is None:
                    raise
                if self.broken is None:
                    self._broke(exc)
                tail = await self.resumer.resume(exc)  # raises ``exc`` when nothing continues it
                continue
            if self._passes(event):
                yield event

    def _broke(self, error: UpstreamError) -> None:
        """This call failed midway and a resume may take over: it is over for its listeners."""
        self.broken, self._own_usage = error, self.usage
        for listener in self._on_break:
            listener()

    def when_broken(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when the call fails midway with a resumer to take over (then ``end``
        still ends the client's stream, continued or not)."""
        self._on_break.append(listener)

    def _passes(self, event: bytes) -> bool:
        """Note what the event says; False for a usage chunk the client did not ask for."""
        if self.resumer is not None:
            self.resumer.note(event)
        if self.on_event is not None:
            self.on_event(event)
        if self.watch is not None:
            self.watch(event)
        before = self.usage
        self.usage = self.wire_format.event_usage(event, before)
        if self.usage is before or not self.hide_usage:
            return True
        return not self.wire_format.is_usage_only(event)

    async def end(self, outcome: StreamOutcome) -> None:
        """Close the upstream side and tell the listeners how the stream ended; later calls do nothing."""
        if self.outcome is not None:
            return
        self.outcome = outcome
        try:
            await self.tail.aclose()
            if self.resumer is not None:
                await self.resumer.end(outcome)
        finally:
            for listener in self._listeners:
                listener(outcome)


async def _no_more_events() -> AsyncGenerator[bytes, None]:
    return
    yield


async def open_stream(
    deployment: Deployment,
    events: AsyncGenerator[bytes, None],
    scrubber: Scrubber | None = None,
    wire_format: WireFormat = _CHAT,
) -> OpenedStream:
    """Read ``events`` (in ``wire_format``) up to the first content event (within
    ``first_chunk_timeout``).

    ``scrubber``: what to remove from the message of an error event the upstream sends."""
    started = time.perf_counter()
    scrubber = Scrubber() if scrubber is None else scrubber
    try:
        async with asyncio.timeout(deployment.first_chunk_timeout):
            head, finished = await _read_until_content(events, deployment, scrubber, wire_format)
    except TimeoutError as exc:
        await events.aclose()
        raise UpstreamTimeout(
            f"deployment {deployment.name} sent no content within {deployment.first_chunk_timeout:g}s",
            deployment=deployment.name,
        ) from exc
    except BaseException:
        await events.aclose()
        raise
    return OpenedStream(
        deployment.name, head, events, started, finished, scrubber=scrubber, wire_format=wire_format
    )


async def _read_until_content(
    events: AsyncGenerator[bytes, None], deployment: Deployment, scrubber: Scrubber, wire_format: WireFormat
) -> tuple[list[bytes], bool]:
    """Events up to and including the first content event; True when the stream already ended.

    Fails (retryably) on an error event, or once what is held passes ``max_response_size``
    (an upstream that sends only comments or empty chunks until ``first_chunk_timeout``)."""
    name = deployment.name
    head: list[bytes] = []
    held = 0
    async for event in events:
        held += len(event)
        if held > deployment.max_response_size:
            raise UpstreamError(
                f"deployment {name} sent more than its max_response_size "
                f"({deployment.max_response_size} bytes) before any content",
                deployment=name,
                code="upstream_response_too_large",
            )
        if (failed := failure_in_event(event, wire_format, deployment=name, scrubber=scrubber)) is not None:
            raise failed
        head.append(event)
        if wire_format.is_final(event):
            return head, True
        if wire_format.has_content(event):
            return head, False
    raise UpstreamError(f"deployment {name} ended the stream before any content", deployment=name)
