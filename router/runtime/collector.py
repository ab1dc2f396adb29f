"""The garbage collector of a worker process, set for a server that keeps its startup state for life.

Two costs of CPython's defaults show in a loaded worker's profile (issue 27; bench/RESULTS.md):

- Startup builds tens of thousands of objects that live as long as the worker: modules, the
  config, the fleet, the metrics. Every full collection walks them again. Frozen
  (``gc.freeze``), they sit in a generation no collection visits.
- A worker under load holds the objects of its requests in flight, a few thousand at any instant,
  and that count swings by more than the default young threshold (700 net allocations) as
  requests come and go. So a young collection starts every few requests, walks the in-flight
  objects, and promotes them, although reference counting frees them moments later. With a
  threshold above the swing, a collection starts only for cyclic garbage that really
  accumulates, and there is at most ``YOUNG_THRESHOLD`` of it.

Only the worker's entry point calls ``settle``: in any other process (a test's, an embedding
application's), the collector stays as its owner set it.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # net container allocations before a young collection (CPython: 700)


def settle() -> None:
    """Collect what startup left as garbage, freeze what it built, and raise the young
    threshold. Call it once the worker holds its state and before it serves."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
