"""Per-deployment circuit breaker: cool a failing deployment down, then probe it before trusting it."""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable

from router.config.model import CooldownSettings

Clock = Callable[[], float]


class State(enum.IntEnum):
    """Values match the ``raceway_deployment_state`` metric."""

    HEALTHY = 0
    HALF_OPEN = 1
    COOLED_DOWN = 2


class Breaker:
    """``failures`` retryable failures within ``window`` seconds open the breaker for ``duration``.

    Once the cool-down has passed the breaker is half-open: one request at a time may
    probe the deployment; a success closes the breaker, a failure opens it again. A 429
    with ``Retry-After`` cools the deployment down for at least that long at once, up to
    ``max_retry_after`` (one ``Retry-After: 99999`` must not take it away for a day).
    """

    __slots__ = ("_clock", "_failures", "_open_until", "_probing", "settings")

    def __init__(self, settings: CooldownSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._failures: deque[float] = deque()
        self._open_until: float | None = None
        self._probing = False

    @property
    def state(self) -> State:
        if self._open_until is None:
            return State.HEALTHY
        return State.COOLED_DOWN if self._clock() < self._open_until else State.HALF_OPEN

    def available(self) -> bool:
        """May a request be sent now? (Does not reserve the half-open probe.)"""
        state = self.state
        return state is State.HEALTHY or (state is State.HALF_OPEN and not self._probing)

    def acquire(self) -> bool:
        """Reserve the right to call: always when healthy, once at a time when half-open."""
        state = self.state
        if state is State.HEALTHY:
            return True
        if state is State.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def seconds_until_available(self) -> float:
        if self._open_until is None:
            return 0.0
        return max(0.0, self._open_until - self._clock())

    def record_success(self) -> None:
        self._failures.clear()
        self._open_until = None
        self._probing = False

    def record_failure(self, retry_after: float | None = None) -> None:
        now = self._clock()
        if retry_after is not None:
            retry_after = min(retry_after, self.settings.max_retry_after)
        if self._probing:  # the probe failed: straight back to cooling down
            self._probing = False
            self._open(now, retry_after)
            return
        if retry_after:
            self._open(now, retry_after)
            return
        self._failures.append(now)
        horizon = now - self.settings.window
        while self._failures and self._failures[0] < horizon:
            self._failures.popleft()
        if len(self._failures) >= self.settings.failures:
            self._open(now, None)

    def cool_down_for(self, seconds: float) -> None:
        """Another worker or instance cooled this deployment down: stay away that long too."""
        until = self._clock() + seconds
        if self._open_until is None or self._open_until < until:
            self._failures.clear()
            self._open_until = until

    def release(self) -> None:
        """A call ended without a verdict (cancelled as a race loser): free the probe."""
        self._probing = False

    def _open(self, now: float, retry_after: float | None) -> None:
        self._failures.clear()
        self._open_until = now + max(
            self.settings.duration if retry_after is None else 0.0, retry_after or 0.0
        )
