"""Each worker's side of the request log: records taken on the request path, written in batches.

``add`` (on the request path) appends the finished request's access-log record, with what
its ``JournalTrace`` heard (its calls and their outcomes, its trace id, its body when
``bodies`` is on), to a bounded list: a dict update and an append. A background loop hands
the list to the store every ``interval``; while a write is slow (a slow disk, Redis
lagging), records accumulate up to ``max_pending``, and past that they are dropped and
counted (``raceway_request_log_dropped_total{reason="queue_full"}``). A batch the store
refuses (a full or read-only disk, Redis down) is dropped and counted too
(``reason="write_failed"``). Either way, no request waits for the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import orjson

from router.config.model import RequestLogSettings
from router.status.journal import JournalTrace
from router.status.query import RequestQuery
from router.status.store import RequestLogStore, RequestLogUnavailable
from router.telemetry.exchange import Exchange
from router.telemetry.labels import RecordDrop
from router.telemetry.metrics import Metrics

logger = logging.getLogger("raceway.request_log")

INTERVAL = 0.25
BODY_LIMIT = 64 * 1024  # characters of a body kept (bodies on), after scrubbing
_BODIES_HELD = 256  # pending records that may hold a body while writes lag: bounds the memory bodies take


class RequestLog:
    def __init__(
        self,
        store: RequestLogStore,
        settings: RequestLogSettings,
        metrics: Metrics,
        scrub: Callable[[str], str],
        *,
        interval: float = INTERVAL,
    ) -> None:
        self.store = store
        self._max_pending = settings.max_pending
        self._interval = interval
        self._scrub = scrub
        self._pending: list[dict[str, Any]] = []
        self._bodies = 0  # pending records holding a body
        for reason in RecordDrop:
            metrics.request_log_dropped.labels(reason)
        self._queue_full = metrics.request_log_dropped.labels(RecordDrop.QUEUE_FULL)
        self._write_failed = metrics.request_log_dropped.labels(RecordDrop.WRITE_FAILED)
        self._written = metrics.request_log_written
        self._failing = False

    # -- the request path -----------------------------------------------------------

    def add(self, exchange: Exchange, record: dict[str, Any]) -> None:
        """Keep ``record`` (the request's access-log record, which becomes the log's) for the next batch."""
        if len(self._pending) >= self._max_pending:
            self._queue_full.inc()
            return
        trace = exchange.trace
        if isinstance(trace, JournalTrace):
            record["calls"] = trace.described()
            record["trace_id"] = trace.trace_id()
            if trace.body is not None and self._bodies < _BODIES_HELD:
                record["body"] = trace.body
                self._bodies += 1
        self._pending.append(record)

    # -- in the background ----------------------------------------------------------

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if self._bodies:
            self._bodies = 0
            await asyncio.to_thread(self._scrub_bodies, batch)  # megabytes of JSON: off the loop
        try:
            await self.store.write(batch)
        except RequestLogUnavailable as exc:
            self._write_failed.inc(len(batch))
            if not self._failing:
                logger.error("cannot write the request log (%s); dropping records until it works", exc)
            self._failing = True
            return
        self._written.inc(len(batch))
        if self._failing:
            logger.warning("the request log is written to %s again", self.store.where)
            self._failing = False

    def _scrub_bodies(self, batch: list[dict[str, Any]]) -> None:
        for record in batch:
            body = record.get("body")
            if body is not None:
                text = self._scrub(orjson.dumps(body).decode())
                record["body"] = text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "…(cut)"

    async def read(self, query: RequestQuery) -> list[dict[str, Any]]:
        """The newest records that pass ``query``; ``RequestLogUnavailable`` when the store cannot say."""
        return await self.store.read(query)

    async def close(self) -> None:
        """At shutdown: write what is left, then close the store."""
        await self.flush()
        await self.store.close()
