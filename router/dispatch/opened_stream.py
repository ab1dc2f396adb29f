"""The client's stream, and its one owner: the one place where a stream ends.

Dispatch hands over a stream as ``Committed``: the call that won it (a ``Leg``), how many calls
that took, and, for a group with ``resume``, what may continue it (a ``Continuer``,
``router.dispatch.resume.Resumer``). The HTTP side makes the ``OpenedStream`` from it, complete
at once: whether to hide the usage chunk the gateway asked for and the client did not, and who
observes the client's stream (the answer cache's assembler, the access log). Whoever relays it
ends it with ``end(outcome)``, exactly once: that ends the leg being relayed (its observers,
the attempt's bookkeeping and trace, hear its own result) and computes the client's
``StreamResult`` (outcome, usage, the cost of every leg), which every observer of the stream is
given, in one vocabulary (``StreamOutcome``) from the deployment's bookkeeping to the access log.

When a leg fails midway and the stream has a continuer, the owner ends that leg as cut and asks
for a continuation (``Continuer.resume``): a new leg, whose events, spliced into the client's
stream, follow instead of the failure. When nothing can continue it, the first failure
propagates and the stream ends with the error event, as without ``resume``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Protocol

from router.dispatch.legs import Leg
from router.dispatch.stream_end import StreamObserver, StreamResult
from router.errors import UpstreamError
from router.providers.correlation import Correlation
from router.telemetry.labels import StreamOutcome
from router.wire.formats import WireFormat
from router.wire.sse import Batches
from router.wire.usage import Usage


@dataclass(frozen=True, slots=True)
class Continuation:
    """A leg that continues a broken stream, and its events spliced into the client's."""

    leg: Leg
    batches: Batches


class Continuer(Protocol):
    """Continues a stream that failed midway (``router.dispatch.resume.Resumer``)."""

    resumed: list[dict[str, Any]]  # each continuation: from, to, at_chars
    keeps_answer: bool  # a spliced answer may go into the answer cache

    @property
    def attempts(self) -> int:
        """The calls the stream took so far, its continuations' included (``max_attempts``)."""
        ...

    # Told each event the client is sent (an attribute: the resumer swaps what it is).
    note: Callable[[bytes], None]

    async def resume(self, broken: UpstreamError, spent: float) -> Continuation:
        """The rest of the stream; raises ``broken`` when it cannot be continued. ``spent``: what
        the stream's calls cost so far (USD), which its key's budget counts."""
        ...


@dataclass(frozen=True, slots=True)
class Committed:
    """A stream as dispatch hands it over: the call that won it, the calls that took, and what
    may continue it when it breaks."""

    leg: Leg
    attempts: int = 1
    resumer: Continuer | None = None


class OpenedStream:
    """The client's stream: the events of its legs, relayed, and its one end."""

    __slots__ = (
        "_broken",
        "_current",
        "_ending",
        "_hide_usage",
        "_observers",
        "_result",
        "_spent",
        "_usage",
        "committed",
    )

    def __init__(
        self,
        committed: Committed,
        *,
        hide_usage: bool = False,
        observers: Sequence[StreamObserver] = (),
    ) -> None:
        """``hide_usage``: the gateway asked for usage the client did not, so the usage-only
        chunk stays ours; ``observers``: told of every event the client is sent (before
        ``hide_usage``), then of the stream's result."""
        self.committed = committed
        self._hide_usage = hide_usage
        self._observers = tuple(observers)
        self._current: Leg | None = committed.leg  # the leg relayed now (None: between two)
        self._spent = 0.0  # the cost of the legs that ended
        self._broken = False  # its first leg broke midway: its usage is counted here from then on
        self._usage: Usage | None = None  # what the client's stream reported, once broken
        self._ending = False
        self._result: StreamResult | None = None

    @classmethod
    def replay(
        cls,
        deployment: str,
        events: list[bytes],
        client: WireFormat,
        observers: Sequence[StreamObserver] = (),
    ) -> OpenedStream:
        """A stream whose every event is already known (an answer from the cache)."""
        return cls(Committed(Leg.replay(deployment, events, client)), observers=observers)

    @property
    def deployment(self) -> str:
        """The deployment whose call won the stream."""
        return self.committed.leg.deployment

    @property
    def attempts(self) -> int:
        """The calls the stream took so far, its continuations' included."""
        resumer = self.committed.resumer
        return resumer.attempts if resumer is not None else self.committed.attempts

    @property
    def correlation(self) -> Correlation | None:
        """The winning call's ties to the upstream (None: a replay)."""
        return self.committed.leg.correlation

    @property
    def client(self) -> WireFormat:
        """The format of the client's events."""
        return self.committed.leg.client

    @property
    def result(self) -> StreamResult | None:
        """How the stream ended (None until ``end``)."""
        return self._result

    async def batches(self) -> Batches:
        """Every event for the client, in the batches they came in; raises ``UpstreamError`` if
        the upstream fails midway (and no continuation takes over)."""
        leg, resumer = self.committed.leg, self.committed.resumer
        client = leg.client
        hiding = self._hide_usage
        try:
            async with aclosing(leg.batches()) as batches:
                async for batch in batches:
                    self._heard(batch)
                    if hiding:
                        batch = _without_usage_only(batch, client)
                    if batch:
                        yield batch
            return
        except UpstreamError as exc:
            if resumer is None:
                raise
            broken = exc
        self._broken, self._usage = True, leg.usage
        while True:  # continued elsewhere, until a continuation ends the stream or nothing can
            await self._end_leg(leg, StreamOutcome.CUT)
            # raises ``broken`` when nothing continues it
            continuation = await resumer.resume(broken, self._spent)
            leg = self._current = continuation.leg
            try:
                async with aclosing(continuation.batches) as batches:
                    async for batch in batches:
                        usage = self._usage
                        for event in batch:
                            usage = client.event_usage(event, usage)
                        self._usage = usage
                        self._heard(batch)
                        if hiding:
                            batch = _without_usage_only(batch, client)
                        if batch:
                            yield batch
                return
            except UpstreamError as exc:
                broken = exc

    def _heard(self, batch: list[bytes]) -> None:
        """Tell the continuer and the observers of every event the client is sent."""
        resumer = self.committed.resumer
        if resumer is not None:
            note = resumer.note
            for event in batch:
                note(event)
        for observer in self._observers:
            for event in batch:
                observer.on_event(event)

    async def _end_leg(self, leg: Leg, outcome: StreamOutcome) -> None:
        self._current = None
        self._spent += (await leg.end(outcome)).cost

    async def end(self, outcome: StreamOutcome) -> None:
        """End the leg being relayed, then tell the observers the stream's result; later calls
        do nothing."""
        if self._ending:
            return
        self._ending = True
        current = self._current
        try:
            if current is not None:
                await self._end_leg(current, outcome)
        finally:
            resumer = self.committed.resumer
            resumed = tuple(resumer.resumed) if resumer is not None else ()
            result = self._result = StreamResult(
                outcome,
                self._usage if self._broken else self.committed.leg.usage,
                self._spent,
                resumed,
                attempts=self.attempts,
                keeps_answer=not resumed or (resumer is not None and resumer.keeps_answer),
            )
            for observer in self._observers:
                observer.on_end(result)


def _without_usage_only(batch: list[bytes], client: WireFormat) -> list[bytes]:
    """``batch`` less the chunks that only report usage (the gateway asked for them, the client
    did not)."""
    return [
        event for event in batch if client.event_usage(event, None) is None or not client.is_usage_only(event)
    ]
