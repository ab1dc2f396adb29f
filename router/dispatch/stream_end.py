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

from router.dialects.usage import Usage
from router.telemetry.labels import StreamOutcome


@dataclass(frozen=True, slots=True)
class StreamResult:
    """What a stream came to: how it ended, the tokens it reported, what they cost.

    For the client's stream, ``cost`` is every upstream call's that served it and ``resumed``
    lists the breaks a continuation took over (``router.dispatch.resume``)."""

    outcome: StreamOutcome
    usage: Usage | None = None
    cost: float = 0.0
    resumed: tuple[dict[str, object], ...] = ()


class StreamObserver(Protocol):
    """Told what a stream does: each event as it passes, then its result, once."""

    def on_event(self, event: bytes) -> None: ...

    def on_end(self, result: StreamResult) -> None: ...
