"""The spend ledger: an SQLite file (WAL mode) that every worker on the machine writes to.

One row per key and UTC day holds the cost, requests and tokens of that day. Workers
add what they recorded since their last write and read back every worker's totals in
the same short transaction (``exchange``); this module is synchronous and is called
from a worker's ledger thread, never from its event loop.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    key TEXT NOT NULL,
    day TEXT NOT NULL,  -- UTC, YYYY-MM-DD
    cost_usd REAL NOT NULL DEFAULT 0,
    requests INTEGER NOT NULL DEFAULT 0,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (key, day)
) WITHOUT ROWID
"""
_ADD = """
INSERT INTO spend (key, day, cost_usd, requests, prompt_tokens, completion_tokens)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (key, day) DO UPDATE SET
    cost_usd = cost_usd + excluded.cost_usd,
    requests = requests + excluded.requests,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens
"""
_TOTALS = """
SELECT key,
       SUM(CASE WHEN day = :day THEN cost_usd ELSE 0 END),
       SUM(cost_usd),
       SUM(requests),
       SUM(prompt_tokens + completion_tokens)
FROM spend WHERE day >= :month_start AND day <= :day GROUP BY key
"""


@dataclass(slots=True)
class Tally:
    """Spend recorded by one worker and not yet written."""

    cost_usd: float = 0.0
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, other: Tally) -> None:
        self.cost_usd += other.cost_usd
        self.requests += other.requests
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens


@dataclass(frozen=True, slots=True)
class Spent:
    """A key's spend in USD: today (UTC) and this month; requests and tokens this month."""

    day: float = 0.0
    month: float = 0.0
    requests: int = 0
    tokens: int = 0


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self._db = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a process crash loses nothing committed; a power cut may lose the last commits.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(_SCHEMA)

    def exchange(self, tallies: Mapping[tuple[str, str], Tally], day: str) -> dict[str, Spent]:
        """Add ``tallies`` (by key and day), then read every key's totals for ``day`` and its month."""
        db = self._db
        db.execute("BEGIN IMMEDIATE" if tallies else "BEGIN")
        try:
            db.executemany(
                _ADD,
                [
                    (key, tally_day, t.cost_usd, t.requests, t.prompt_tokens, t.completion_tokens)
                    for (key, tally_day), t in tallies.items()
                ],
            )
            rows = db.execute(_TOTALS, {"day": day, "month_start": day[:8] + "01"}).fetchall()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return {
            key: Spent(day=today, month=month, requests=requests, tokens=tokens)
            for key, today, month, requests, tokens in rows
        }

    def close(self) -> None:
        self._db.close()
