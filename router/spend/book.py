"""Each worker's book of its keys' spend, kept in step with a store shared by every worker.

The store is the state backend's (``router.state``): the machine's SQLite ledger, used
from a thread of its own, or Redis. Finished requests are tallied in memory
(``record``, a dict update on the hot path). Every ``sync_interval`` a background task
hands the tallies to the store, which writes them and reads back the totals of every
worker in one transaction. A key's spend as this worker sees it is the store's last
totals plus what it has recorded since. While the store fails, tallies are kept and
written once it works again.

What a crash can lose: a clean stop (SIGTERM, a worker replaced, a reload) writes
everything. A killed process loses the spend of requests that finished in its last
``sync_interval`` (250 ms by default) and of those in flight; committed rows survive
(WAL, ``synchronous=NORMAL``), though a power cut may also lose the last commits.

Budgets checked against this view can be overshot by what the other workers spent
since the last sync, and by requests already in flight when the limit was crossed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from router.spend.ledger import Spent, Tally
from router.state.backend import SpendStore, StoreUnavailable
from router.telemetry.labels import SpendPeriod
from router.telemetry.metrics import Metrics
from router.wire.usage import Usage

logger = logging.getLogger("raceway.spend")


def utc_day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


class SpendBook:
    def __init__(
        self,
        store: SpendStore,
        interval: float,
        *,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.interval = interval
        self._metrics = metrics
        self._clock = clock
        self._pending: dict[tuple[str, str], Tally] = {}
        self._in_transit: dict[tuple[str, str], Tally] = {}
        self._totals: dict[str, Spent] = {}
        self._totals_day = ""
        self.tracking = False  # read the others' spend too (some key has a budget)
        self._failing = False

    # -- the hot path ---------------------------------------------------------------

    def record(self, key: str, cost: float, usage: Usage | None) -> None:
        tally = self._pending.get((key, day := utc_day(self._clock())))
        if tally is None:
            tally = self._pending[(key, day)] = Tally()
        tally.cost_usd += cost
        tally.requests += 1
        if usage is not None:
            tally.prompt_tokens += usage.prompt_tokens
            tally.completion_tokens += usage.completion_tokens

    def spent(self, key: str) -> Spent:
        """The key's spend today and this month, over every worker, as far as this worker knows."""
        today = utc_day(self._clock())
        synced = Spent()
        if self._totals_day[:7] == today[:7]:  # the last totals are of this month
            synced = self._totals.get(key, synced)
            if self._totals_day != today:  # but of an earlier day
                synced = Spent(month=synced.month, requests=synced.requests, tokens=synced.tokens)
        day, month, requests, tokens = synced.day, synced.month, synced.requests, synced.tokens
        for tallies in (self._in_transit, self._pending):
            for (name, tally_day), tally in tallies.items():
                if name == key and tally_day[:7] == today[:7]:
                    month += tally.cost_usd
                    requests += tally.requests
                    tokens += tally.prompt_tokens + tally.completion_tokens
                    if tally_day == today:
                        day += tally.cost_usd
        return Spent(day=day, month=month, requests=requests, tokens=tokens)

    # -- in the background --------------------------------------------------------------

    async def start(self) -> None:
        """Before the first request: read the spend so far, so budgets hold from the start."""
        if self.tracking:
            await self.sync()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if self._pending or self.tracking:
                await self.sync()

    async def sync(self) -> None:
        """Write the pending tallies and read back every key's totals."""
        self._in_transit, self._pending = self._pending, {}
        today = utc_day(self._clock())
        try:
            totals = await self.store.exchange(self._in_transit, today)
        except StoreUnavailable:
            if not self._failing:
                logger.exception("cannot write spend to %s; keeping it to retry", self.store.where)
            self._failing = True
            for entry, tally in self._in_transit.items():  # keep them for the next attempt
                self._pending.setdefault(entry, Tally()).add(tally)
            return
        finally:
            self._in_transit = {}
        if self._failing:
            logger.info("spend is written to %s again", self.store.where)
            self._failing = False
        self._totals, self._totals_day = totals, today
        if self._metrics is not None and self.tracking:
            for key, spent in totals.items():
                self._metrics.key_spend.labels(key, SpendPeriod.DAY).set(spent.day)
                self._metrics.key_spend.labels(key, SpendPeriod.MONTH).set(spent.month)

    async def flush(self) -> None:
        """Write what is left (the store is its backend's to close)."""
        if self._pending:
            await self.sync()
