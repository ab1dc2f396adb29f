"""Multiprocess metric values written once per loop turn: what a scrape reads is what was counted."""

import os
import subprocess
import sys
from pathlib import Path

PROBE = """
import asyncio
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector
from router.telemetry import deferred_values

deferred_values.install()
deferred_values.install()  # twice: still one subclass

def scraped(name, labels=None):
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry.get_sample_value(name, labels or {})

calls = Counter("calls_total", "calls", ("outcome",))
inflight = Gauge("inflight", "inflight", multiprocess_mode="livesum")
latency = Histogram("latency_seconds", "latency", buckets=(0.1, 1.0))
from prometheus_client import values
print("wrapped once", getattr(values.ValueClass.__mro__[1], "_deferred", False) is False)

up = Gauge("up", "up", multiprocess_mode="livemin")

async def in_a_turn():
    calls.labels("ok").inc()
    calls.labels("ok").inc(2)
    inflight.inc(3)
    latency.observe(0.5)
    up.set(1)  # a state: written at once
    print("during the turn", scraped("calls_total", {"outcome": "ok"}), scraped("inflight"), scraped("up"))
    await asyncio.sleep(0)
    print("after the turn", scraped("calls_total", {"outcome": "ok"}), scraped("inflight"),
          scraped("latency_seconds_bucket", {"le": "1.0"}), scraped("latency_seconds_sum"))

asyncio.run(in_a_turn())
calls.labels("ok").inc(10)  # no loop runs: written at once
print("without a loop", scraped("calls_total", {"outcome": "ok"}), calls.labels("ok")._value.get())
"""


def test_values_reach_the_files_at_the_end_of_the_turn_or_at_once_without_a_loop(tmp_path: Path) -> None:
    # In a process of its own: prometheus-client picks its value class when first imported.
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1]
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "wrapped once True",
        "during the turn 0.0 0.0 1.0",  # the series exist (made at 0), the increments not written yet
        "after the turn 3.0 3.0 1.0 0.5",
        "without a loop 13.0 13.0",
    ]


def test_outside_multiprocess_mode_install_changes_nothing() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    probe = (
        "from prometheus_client import values\nfrom router.telemetry import deferred_values\n"
        "before = values.ValueClass\ndeferred_values.install()\nprint(values.ValueClass is before)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=Path(__file__).parents[1]
    )
    assert done.stdout.strip() == "True", done.stderr
