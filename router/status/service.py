"""A worker's status side: its request log, its board, and the status document it answers with.

Built and run by the app's lifespan (``StatusService.open``): the request log's batches and
the board's writes are background loops of the worker; the document is made when asked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import cache
from pathlib import Path
from typing import Any

from router.config.model import BackendKind, GatewayConfig
from router.runtime.gateway import Gateway
from router.spend.book import utc_day
from router.spend.ledger import Spent
from router.state.backend import StateBackend, StoreUnavailable
from router.status.board import WorkerBoard
from router.status.figures import WINDOW, History
from router.status.journal import JournalTracing
from router.status.overview import Sources, overview
from router.status.query import MAX_LIMIT, RequestQuery
from router.status.request_log import RequestLog
from router.status.sqlite_log import SqliteRequestLog
from router.status.store import RequestLogStore, RequestLogUnavailable, SqliteStore
from router.telemetry.exposition import families
from router.telemetry.metrics import Metrics
from router.telemetry.tracing import Tracing

logger = logging.getLogger("raceway.status")


@cache
def _version() -> str:
    """The installed version, looked up when the status page first shows it, not at every
    worker's start (the lookup reads the metadata of every installed distribution)."""
    from importlib import metadata

    try:
        return metadata.version("raceway")
    except metadata.PackageNotFoundError:
        return "unknown"


class StatusService:
    def __init__(self, request_log: RequestLog | None, board: WorkerBoard, metrics: Metrics) -> None:
        self.request_log = request_log  # None: server.request_log.enabled is false
        self.board = board
        self._metrics = metrics
        self._history = History()

    @classmethod
    def open(
        cls,
        config: GatewayConfig,
        gateway: Gateway,
        state: StateBackend,
        metrics: Metrics,
        *,
        worker: int,
        directory: Path | None,
    ) -> StatusService:
        """``directory``: where the instance's workers put their boards (None: no siblings)."""
        scrubber = gateway.fleet.factory.scrubber
        settings = config.server.request_log
        log = None
        if settings.enabled:
            log = RequestLog(open_store(config, state), settings, metrics, scrubber)
        return cls(log, WorkerBoard(directory, worker, scrubber), metrics)

    def journaling(self, tracing: Tracing, config: GatewayConfig) -> Tracing:
        """The worker's tracing, telling this service what each request's calls did (unchanged
        with the request log off: then nothing on the request path is journaled)."""
        if self.request_log is None:
            return tracing
        return JournalTracing(
            tracing, bodies=config.server.request_log.bodies, on_failure=self.board.note_failure
        )

    async def document(self, gateway: Gateway, reload: dict[str, Any] | None) -> dict[str, Any]:
        """``GET /status.json``: the whole instance now."""
        now = time.time()
        window = self._history.take(families(self._metrics.registry))
        boards = await asyncio.to_thread(self.board.read_all, self.board.facts(gateway, reload))
        spend: dict[str, Spent] | None
        try:
            spend = await gateway.spend.store.totals(utc_day(now)) or {}
        except StoreUnavailable:
            spend = None
        recent: list[dict[str, Any]] = []
        if self.request_log is not None:
            try:
                recent = await self.request_log.read(RequestQuery(since=now - WINDOW, limit=MAX_LIMIT))
            except RequestLogUnavailable:
                recent = []
        return overview(Sources(gateway.config, window, boards, spend, recent, _version(), now))

    async def close(self) -> None:
        if self.request_log is not None:
            await self.request_log.close()


def open_store(config: GatewayConfig, state: StateBackend) -> RequestLogStore:
    """The store for ``config``: Redis's stream when the state is shared through Redis."""
    settings = config.server.request_log
    if config.state.backend is BackendKind.REDIS:
        from router.state.redis.backend import RedisBackend
        from router.status.redis_log import RedisStore

        assert isinstance(state, RedisBackend), "state.backend: redis opens the Redis backend"
        return RedisStore(state.redis, max_rows=settings.max_rows, max_age=settings.max_age)
    return SqliteStore(SqliteRequestLog(settings.path, max_rows=settings.max_rows, max_age=settings.max_age))
