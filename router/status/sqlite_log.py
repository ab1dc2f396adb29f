"""The request log in an SQLite file (WAL) that every worker of the instance writes: the writer of
one worker and the reader of a status query. Synchronous: called from a thread, never the loop.

Rows are the access-log records as JSON, with the columns a query filters on beside them,
in the order they were written, which is their time order give or take a batch (each worker
writes what finished in the last quarter second). No index but the rowid's: an index on the
time doubled the cost of an insert (~25 µs a row against ~10), and every read walks back from
the newest row anyway, stopping ``SLACK`` seconds before ``since``. After a write, at most
every ``PRUNE_EVERY`` seconds, all but the newest ``max_rows`` rows and, from the oldest
end, the rows older than ``max_age`` are deleted, so the file stays bounded whatever the traffic.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from router.status.query import RequestQuery, status_matches

PRUNE_EVERY = 5.0
SLACK = 10.0  # how far a row's time may be behind a row written after it (batches of several workers)
_AGED_AT_ONCE = 10_000  # oldest rows looked at per pruning for their age

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS requests (
        id INTEGER PRIMARY KEY,  -- rows are deleted from the low end only: ids stay contiguous
        ts REAL NOT NULL,  -- unix seconds, the record's own
        model TEXT,
        deployment TEXT,
        status INTEGER NOT NULL,
        record BLOB NOT NULL  -- the whole record, JSON
    )""",
)
_INSERT = "INSERT INTO requests (ts, model, deployment, status, record) VALUES (?, ?, ?, ?, ?)"


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=2.0, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # a power cut may lose the last batches; a crash does not
        for statement in _SCHEMA:
            db.execute(statement)
    except BaseException:
        db.close()
        raise
    return db


class SqliteRequestLog:
    """Writes batches and reads queries; opened on first use and again after a failure."""

    def __init__(
        self, path: Path, *, max_rows: int, max_age: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.where = str(path)
        self._path = path
        self._max_rows = max_rows
        self._max_age = max_age
        self._clock = clock
        self._db: sqlite3.Connection | None = None
        self._pruned_at = 0.0

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        """Insert ``records`` in one transaction; ``sqlite3.Error`` or ``OSError`` when the disk refuses."""
        rows = [(r["ts"], r.get("model"), r.get("deployment"), r["status"], orjson.dumps(r)) for r in records]
        try:
            db = self._open()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_INSERT, rows)
                if self._clock() - self._pruned_at >= PRUNE_EVERY:
                    self._prune(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except (sqlite3.Error, OSError):
            self.close()  # opened afresh next time: the disk may have room again
            raise

    def _prune(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        self._pruned_at = now
        db.execute("DELETE FROM requests WHERE id <= (SELECT max(id) FROM requests) - ?", (self._max_rows,))
        db.execute(
            "DELETE FROM requests WHERE id IN (SELECT id FROM requests ORDER BY id LIMIT ?) AND ts < ?",
            (_AGED_AT_ONCE, now - self._max_age),
        )

    def read(self, query: RequestQuery) -> list[dict[str, Any]]:
        """The newest records that pass ``query``, newest first (empty when nothing was written yet)."""
        if not self._path.exists():
            return []
        clauses: list[str] = ["1"]
        values: list[str | float] = []
        for column, wanted in (("model", query.model), ("deployment", query.deployment)):
            if wanted is not None:
                clauses.append(f"{column} = ?")
                values.append(wanted)
        sql = f"SELECT ts, status, record FROM requests WHERE {' AND '.join(clauses)} ORDER BY id DESC"
        since = query.since
        found: list[tuple[float, bytes]] = []
        horizon: float | None = None  # rows further back than this cannot be among the newest found
        db = _connect(self._path)
        try:
            for ts, status, record in db.execute(sql, values):
                if (horizon is not None and ts < horizon) or (since is not None and ts < since - SLACK):
                    break  # every row further back is older still, give or take SLACK
                if since is not None and ts < since:
                    continue
                if query.status is None or status_matches(query.status, status):
                    found.append((ts, record))
                    if horizon is None and len(found) >= query.limit:
                        horizon = min(kept for kept, _ in found) - SLACK
        finally:
            db.close()
        found.sort(key=lambda row: row[0], reverse=True)
        return [orjson.loads(record) for _, record in found[: query.limit]]

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = _connect(self._path)
        return self._db

    def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            db.close()
