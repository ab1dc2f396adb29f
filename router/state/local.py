"""The local backend: this machine only. Each worker enforces its share of every rate limit and
keeps its own cooldowns, cache and flights; spend goes to the machine's SQLite ledger, and
session pins to a memory-mapped table in the instance's state directory, which every worker maps."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from router.limits import Limiter, RateLimit
from router.spend.ledger import Ledger, Spent, Tally
from router.state.backend import Loop, StoreUnavailable
from router.state.pins import FILE_NAME, PinTable

if TYPE_CHECKING:
    from router.answers.cache import CachedAnswer
    from router.answers.flights import Flight
    from router.config.model import GatewayConfig

T = TypeVar("T")


class NoAnswersBeyondThisWorker:
    """The worker's own ``ResponseCache`` and ``Flights`` are all there is."""

    async def get(self, key: bytes) -> CachedAnswer | None:
        return None

    def keep(self, key: bytes, answer: CachedAnswer, ttl: float) -> None:
        return None

    async def lead(self, flight: Flight, lease: float) -> Flight | CachedAnswer:
        return flight


class LedgerStore:
    """The SQLite ledger, used from a thread of its own (opened on first use)."""

    def __init__(self, path: Path) -> None:
        self.where = str(path)
        self._path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="raceway-ledger")
        self._ledger: Ledger | None = None

    async def exchange(self, tallies: Mapping[tuple[str, str], Tally], day: str) -> dict[str, Spent]:
        return await self._in_thread(lambda: self._open().exchange(tallies, day))

    async def totals(self, day: str) -> dict[str, Spent] | None:
        if not self._path.exists():
            return None
        return await self.exchange({}, day)

    def _open(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self._path)
        return self._ledger

    async def _in_thread(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, work)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"{self.where}: {exc}") from exc

    async def close(self) -> None:
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, ledger.close)
        self._executor.shutdown(wait=False)


class LocalState:
    name = "local"

    def __init__(self, ledger: Path, shared_dir: Path | None = None) -> None:
        """``shared_dir``: the instance's state directory, which its workers share (None: pins
        stay in this process)."""
        self.answers = NoAnswersBeyondThisWorker()
        self.spend = LedgerStore(ledger)
        self.pins = PinTable(shared_dir / FILE_NAME if shared_dir is not None else None)

    def rate_limit(
        self, scope: str, name: str, rpm: int | None, tpm: int | None, *, share: int, wait: float = 0.0
    ) -> Limiter:
        return RateLimit(rpm, tpm, share=share, wait=wait)

    def announce_cooldown(self, deployment: str, seconds: float) -> None:
        return None  # the other workers find out by themselves

    def background(
        self, deployments: Callable[[], Sequence[str]], on_cooldown: Callable[[str, float], None]
    ) -> dict[str, Loop]:
        return {}

    def adopt(self, config: GatewayConfig) -> None:
        return None

    async def close(self) -> None:
        await self.spend.close()
        self.pins.close()
