"""Where the request log is kept: the interface and the SQLite store.

- ``SqliteStore`` (``state.backend: local``): the SQLite file ``server.request_log.path``,
  shared by the instance's workers, used from threads of its own;
- ``RedisStore`` (``state.backend: redis``, in ``redis_log``): one capped stream shared by
  every instance.

``StatusService.open`` chooses between them (``open_store``).

A store either does what it is asked or raises ``RequestLogUnavailable``; the request log
counts what it could not write and carries on.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from router.status.query import RequestQuery
from router.status.sqlite_log import SqliteRequestLog

T = TypeVar("T")


class RequestLogUnavailable(Exception):
    """The store cannot be written or read right now (a full or read-only disk, Redis down)."""


class RequestLogStore(Protocol):
    where: str

    async def write(self, records: Sequence[dict[str, Any]]) -> None: ...

    async def read(self, query: RequestQuery) -> list[dict[str, Any]]: ...

    async def close(self) -> None: ...


class SqliteStore:
    """The SQLite log: one thread writes (so a slow disk holds only it), another reads."""

    def __init__(self, log: SqliteRequestLog) -> None:
        self.where = log.where
        self._log = log
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="raceway-request-log")
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="raceway-request-log-read")

    async def write(self, records: Sequence[dict[str, Any]]) -> None:
        await self._in(self._writer, lambda: self._log.write(records))

    async def read(self, query: RequestQuery) -> list[dict[str, Any]]:
        return await self._in(self._reader, lambda: self._log.read(query))

    async def _in(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, work)
        except (sqlite3.Error, OSError) as exc:
            raise RequestLogUnavailable(f"{self.where}: {exc}") from exc

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._writer, self._log.close)
        self._writer.shutdown(wait=False)
        self._reader.shutdown(wait=False)
