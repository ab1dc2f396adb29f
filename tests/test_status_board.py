"""A worker's facts file for the status page: rewritten when its facts change, and otherwise only
as often as its liveness needs (``HEARTBEAT``, well inside ``STALE_AFTER``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from router.config.load import parse_config
from router.providers.upstream_errors import Scrubber
from router.runtime.gateway import Gateway
from router.status.board import HEARTBEAT, INTERVAL, STALE_AFTER, WorkerBoard
from router.telemetry.metrics import Metrics

CONFIG = b"""
deployments:
  - {name: a, provider: fake}
models:
  - {name: chat, deployments: [a]}
"""


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def test_unchanged_facts_are_written_once_a_heartbeat_and_a_change_at_the_next_look() -> None:
    clock = Clock()
    gateway = Gateway.build(parse_config(CONFIG, {}), Metrics(CollectorRegistry()))
    board = WorkerBoard(None, 0, Scrubber(), clock=clock)
    try:
        written: list[float] = []
        for _look in range(int(3 * HEARTBEAT / INTERVAL)):  # an idle worker, looking every INTERVAL
            facts = board.facts(gateway, None)
            if board.due(facts):
                board.wrote(facts)
                written.append(facts["written"] - 1_000.0)
            clock.now += INTERVAL
        assert written == [0.0, HEARTBEAT, 2 * HEARTBEAT]
        assert HEARTBEAT + INTERVAL < STALE_AFTER  # a reader never takes an idle worker for a gone one
        board.note_failure("a", "upstream_error", "deployment a failed")
        changed = board.facts(gateway, None)
        assert changed["deployments"]["a"]["last_error"]["code"] == "upstream_error"
        assert board.due(changed)  # at the next look, not at the next heartbeat
        clock.now += INTERVAL
        assert board.due(board.facts(gateway, None))  # its write failed (no ``wrote``): still due
        board.wrote(changed)
        assert not board.due(board.facts(gateway, None))
    finally:
        await gateway.close()
