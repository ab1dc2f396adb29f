"""When the supervisor starts a dead worker again, and the start failures it gives up on."""

from __future__ import annotations

import enum
import signal


class StartFailure(enum.IntEnum):
    """The exit code of a worker that found it cannot start: every restart would fail the same
    way, so the supervisor stops and says which. (Values from BSD's sysexits.h.)"""

    CONFIG = 78  # EX_CONFIG: the config snapshot does not load
    BIND = 69  # EX_UNAVAILABLE: the worker cannot bind its listening socket
    STARTUP = 70  # EX_SOFTWARE: the app's start-up raised (its traceback is in the log)

    @property
    def reason(self) -> str:
        return _REASONS[self]

    @classmethod
    def of(cls, exitcode: int) -> StartFailure | None:
        """The failure an exit code reports; None for any other death (a signal, a crash)."""
        try:
            return cls(exitcode)
        except ValueError:
            return None


_REASONS = {
    StartFailure.CONFIG: "its config does not load",
    StartFailure.BIND: "it cannot bind the port (in use by another program?)",
    StartFailure.STARTUP: "its start-up failed",
}


def describe_exit(exitcode: int) -> str:
    """``killed by SIGKILL`` for a signal (an OOM kill, say), else ``exit code N``."""
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class Backoff:
    """The delay before starting a worker again after it died.

    A worker that had run for ``healthy_after`` seconds is restarted at once. One that dies
    younger (killed while starting, by the OOM killer say, or crashing soon after) waits
    ``first``, then twice as long after each further early death, up to ``cap``; a run that
    lasts ``healthy_after`` starts the count again. Times are the caller's (a monotonic clock).
    """

    __slots__ = ("_cap", "_early_deaths", "_first", "_healthy_after")

    def __init__(self, *, first: float = 0.5, cap: float = 30.0, healthy_after: float = 10.0) -> None:
        self._first, self._cap, self._healthy_after = first, cap, healthy_after
        self._early_deaths = 0

    def delay(self, uptime: float) -> float:
        """How long to wait before the next start, for a worker that died after ``uptime`` seconds."""
        if uptime >= self._healthy_after:
            self._early_deaths = 0
            return 0.0
        self._early_deaths += 1
        return min(self._cap, self._first * 2.0 ** (self._early_deaths - 1))
