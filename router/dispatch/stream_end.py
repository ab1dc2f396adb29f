"""How a stream ends: its one result (its outcome in ``router.telemetry.labels.StreamOutcome``'s
vocabulary, its usage, its cost), and who is told.

A stream's end is computed once (``router.dispatch.opened_stream.OpenedStream.end``, and for each
upstream call that served part of it, ``router.dispatch.legs.Leg.end``) as a ``StreamResult``;
whoever needs it (the deployment's bookkeeping, the trace, the answer cache, the access log) is a
``StreamObserver`` given to the stream when it is made. Observers read the result and nothing
else, so they work in any order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from router.telemetry.labels import StreamOutcome
from router.wire.usage import Usage


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What a stream came to: how it ended, the tokens it reported, what they cost.

    For the client's stream, ``cost`` is every upstream call's that served it, ``resumed``
    lists the breaks a continuation took over (``router.dispatch.resume``), ``attempts`` counts
    the calls it took (its continuations' included) and ``keeps_answer`` says whether its answer
    may go into the answer cache (a spliced one only if its group's ``resume.cache`` allows)."""

    outcome: StreamOutcome
    usage: Usage | None = None
    cost: float = 0.0
    resumed: tuple[dict[str, object], ...] = ()
    attempts: int = 1
    keeps_answer: bool = True


class StreamObserver(Protocol):
    """Told what a stream does: each event as it passes, then its result, once."""

    def on_event(self, event: bytes) -> None: ...

    def on_end(self, result: StreamResult) -> None: ...
