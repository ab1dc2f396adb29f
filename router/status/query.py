"""Which request-log records a reader asks for (``GET /status/requests?model=&status=&...``), and
the test a record must pass: the same for every store, so SQLite and Redis answer alike."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.errors import InvalidRequest

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_STATUS = re.compile(r"[1-5](?:\d\d|xx)|error|ok")


class StatusFilter(enum.StrEnum):
    """``status=`` besides an exact code (``429``) or a class (``5xx``)."""

    ERROR = "error"  # 400 and above
    OK = "ok"  # below 400


@dataclass(frozen=True, slots=True)
class RequestQuery:
    model: str | None = None
    deployment: str | None = None
    status: str | None = None  # "200", "5xx", "error" or "ok"
    since: float | None = None  # unix seconds: records at or after it
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> RequestQuery:
        """From a query string; a bad value is a 400 naming the parameter."""
        status = params.get("status") or None
        if status is not None and not _STATUS.fullmatch(status.lower()):
            raise InvalidRequest(
                "status must be a code (429), a class (5xx), 'error' or 'ok'", param="status"
            )
        return cls(
            model=params.get("model") or None,
            deployment=params.get("deployment") or None,
            status=status.lower() if status else None,
            since=_number(params, "since"),
            limit=_limit(params),
        )

    def matches(self, record: Mapping[str, Any]) -> bool:
        if self.model is not None and record.get("model") != self.model:
            return False
        if self.deployment is not None and record.get("deployment") != self.deployment:
            return False
        if self.since is not None and float(record.get("ts") or 0.0) < self.since:
            return False
        return self.status is None or status_matches(self.status, int(record.get("status") or 0))


def status_matches(wanted: str, status: int) -> bool:
    if wanted == StatusFilter.ERROR:
        return status >= 400
    if wanted == StatusFilter.OK:
        return status < 400
    if wanted.endswith("xx"):
        return status // 100 == int(wanted[0])
    return status == int(wanted)


def _number(params: Mapping[str, str], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number of seconds since the epoch", param=name) from None


def _limit(params: Mapping[str, str]) -> int:
    raw = params.get("limit")
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be a whole number from 1 to {MAX_LIMIT}", param="limit")
    return int(raw)
