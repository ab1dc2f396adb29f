"""prometheus-client's multiprocess values, written to their files once per turn of the event loop.

In multiprocess mode (``raceway serve``), every ``inc``, ``set`` and ``observe`` of
prometheus-client takes a lock, checks whether the process forked, and writes the new value
into the worker's memory-mapped file, and a request makes some twenty of them (issue 27). Here
an ``inc`` (and so an ``observe``) changes the value in memory and marks it; the first mark of
a turn of the event loop schedules one write of every marked value at the end of that turn
(``call_soon``), so a value that several requests of one turn change is written once. A
scrape, which reads the files in a later turn, sees every update made before it. An update from
a thread that runs no event loop is written at once, and so is a ``set``: a gauge set to a
state is read by whoever waits for that state. Workers are spawned, never forked, so the fork
check has nothing to do.

``install()`` makes these the values of every metric created from then on (``build_metrics``,
in multiprocess mode); ``flush()`` writes what is marked (a worker calls it after its last
request).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from prometheus_client import values

_lock = threading.Lock()  # the values, the marked list and the files are changed under it
_marked: list[Any] = []  # the values changed since the last write


def deferred(mmaped: Any) -> Any:
    """The deferred subclass of ``mmaped``, prometheus-client's multiprocess value class (the
    one it chose at import, whose files every value of the process shares)."""

    class DeferredValue(mmaped):  # type: ignore[misc]
        """A float of one series, in memory at once and in the worker's file by the end of the turn."""

        _deferred = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            with _lock:  # opening or growing a file must not meet a write of the marked values
                super().__init__(*args, **kwargs)
            self._marked = False

        def inc(self, amount: float) -> None:
            with _lock:
                self._value += amount
                self._timestamp = 0.0
                first = self._mark()
            if first:
                _schedule()

        def set(self, value: float, timestamp: float | None = None) -> None:
            # Written at once: a gauge set to a state (Redis up, a config's hash) is read right
            # after by whoever waits for that state, and a set is rare on the request path.
            with _lock:
                self._value = value
                self._timestamp = timestamp or 0.0
                self._file.write_value(self._key, value, self._timestamp)

        def get(self) -> float:
            with _lock:
                value: float = self._value
            return value

        def _mark(self) -> bool:
            """Mark this value changed; True when it is the first marked since the last write."""
            if self._marked:
                return False
            self._marked = True
            _marked.append(self)
            return len(_marked) == 1

    return DeferredValue


def _schedule() -> None:
    try:
        asyncio.get_running_loop().call_soon(flush)
    except RuntimeError:  # no event loop runs in this thread: none would come back for it
        flush()


def flush() -> None:
    """Write every marked value into its file."""
    with _lock:
        for value in _marked:
            value._marked = False
            value._file.write_value(value._key, value._value, value._timestamp)
        _marked.clear()


def install() -> None:
    """Make deferred values the value class of the metrics created from now on, when
    prometheus-client chose its multiprocess values (it chooses when it is first imported)."""
    chosen = values.ValueClass
    if getattr(chosen, "_multiprocess", False) and not getattr(chosen, "_deferred", False):
        values.ValueClass = deferred(chosen)
