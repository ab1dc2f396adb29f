"""What a worker has observed of each deployment: in-flight calls and recent latencies."""

from __future__ import annotations

import time
from collections import deque

from router.fleet.breaker import Clock

_WINDOW = 256  # recent samples kept for percentiles
_EWMA_ALPHA = 0.2
_STALE_AFTER = 60.0  # seconds without a sample before a deployment counts as unexplored


class LatencyWindow:
    """An exponentially weighted mean and the last samples, for p95 and the like."""

    __slots__ = ("_samples", "ewma", "last_sample_at")

    def __init__(self) -> None:
        self._samples: deque[float] = deque(maxlen=_WINDOW)
        self.ewma: float | None = None
        self.last_sample_at = 0.0

    def add(self, seconds: float, now: float) -> None:
        self._samples.append(seconds)
        self.ewma = seconds if self.ewma is None else self.ewma + _EWMA_ALPHA * (seconds - self.ewma)
        self.last_sample_at = now

    def __len__(self) -> int:
        return len(self._samples)

    def percentile(self, q: float) -> float | None:
        if not self._samples:
            return None
        ordered = sorted(self._samples)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class DeploymentStats:
    __slots__ = ("_clock", "first_chunk", "in_flight", "latency", "warm_first_chunk", "warm_latency")

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.in_flight = 0
        self.latency = LatencyWindow()  # complete non-streaming answers
        self.first_chunk = LatencyWindow()  # time to the first content chunk of streams
        # The same, of calls that read the prompt cache: how fast a warm session is served.
        self.warm_latency = LatencyWindow()
        self.warm_first_chunk = LatencyWindow()

    def window(self, stream: bool) -> LatencyWindow:
        return self.first_chunk if stream else self.latency

    def observe(self, seconds: float, *, stream: bool) -> None:
        self.window(stream).add(seconds, self._clock())

    def warm_window(self, stream: bool) -> LatencyWindow:
        return self.warm_first_chunk if stream else self.warm_latency

    def observe_warm(self, seconds: float, *, stream: bool) -> None:
        """A call that read the prompt cache took ``seconds`` (to its first content, for a stream)."""
        self.warm_window(stream).add(seconds, self._clock())

    def expected_latency(self, stream: bool) -> float | None:
        """The recent mean for this kind of call; None when unknown or stale (worth exploring)."""
        window = self.window(stream)
        if window.ewma is None or self._clock() - window.last_sample_at > _STALE_AFTER:
            return None
        return window.ewma
