"""What one worker serves with, typed: its gateway snapshot, recorder, metrics and reloader,
and how it reaches its supervisor (instead of Starlette's untyped ``app.state``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from router.runtime.deadlines import Deadlines
from router.runtime.drain import Drain
from router.runtime.gateway import Gateway
from router.runtime.reload import ConfigReloader
from router.telemetry.exchange import Recorder
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import OFF, Tracing

if TYPE_CHECKING:
    from router.status.service import StatusService


@dataclass(frozen=True, slots=True)
class Supervision:
    """A worker under ``raceway serve``: the config snapshot every worker starts from, how
    to ask the supervisor to have every other worker adopt it, and what the process does once
    the app's startup is done (``router.runtime.collector.settle``)."""

    snapshot: Path
    announce: Callable[[], None]
    started: Callable[[], None] = lambda: None


@dataclass(eq=False, slots=True)
class Worker:
    gateway: Gateway  # swapped whole by a reload; a request keeps the one it started with
    recorder: Recorder
    metrics: Metrics
    registry: CollectorRegistry | None  # None in multiprocess mode: /metrics reads every worker's files
    reloader: ConfigReloader | None = None
    supervision: Supervision | None = None
    deadlines: Deadlines = field(default_factory=Deadlines)  # of request bodies (server.body_timeout)
    # Ends when a drain's grace (server.graceful_timeout) has run out: requests still
    # waiting are answered 503, streams still running end with an error event.
    drain: Drain = field(default_factory=Drain)
    tracing: Tracing = OFF  # telemetry.traces, as the worker started (a reload does not change it)
    status: StatusService | None = None  # the status page and the request log (router.status)


def worker_of(request: Request) -> Worker:
    """The worker serving ``request`` (set on the app by its lifespan)."""
    worker: Worker = request.app.worker
    return worker
