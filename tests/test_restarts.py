"""When the supervisor starts a dead worker again, and the start failures it gives up on."""

from __future__ import annotations

import signal

from router.server.restarts import Backoff, StartFailure, describe_exit


def test_a_worker_that_had_run_a_while_is_started_again_at_once() -> None:
    backoff = Backoff(first=0.5, cap=30.0, healthy_after=10.0)
    assert [backoff.delay(uptime) for uptime in (3600.0, 10.0, 86400.0)] == [0.0, 0.0, 0.0]


def test_early_deaths_in_a_row_wait_twice_as_long_each_time_up_to_the_cap() -> None:
    backoff = Backoff(first=0.5, cap=30.0, healthy_after=10.0)
    delays = [backoff.delay(uptime) for uptime in (2.0, 0.1, 0.1, 9.9, 0.1, 0.1, 0.1, 0.1, 0.1)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_a_run_that_lasts_starts_the_count_again() -> None:
    backoff = Backoff(first=0.5, cap=30.0, healthy_after=10.0)
    assert [backoff.delay(uptime) for uptime in (1.0, 1.0, 1.0, 60.0, 1.0)] == [0.5, 1.0, 2.0, 0.0, 0.5]


def test_only_the_failures_a_worker_reports_are_given_up_on() -> None:
    assert (
        StartFailure.of(78) is StartFailure.CONFIG
        and StartFailure.CONFIG.reason == "its config does not load"
    )
    assert StartFailure.of(69) is StartFailure.BIND and "cannot bind the port" in StartFailure.BIND.reason
    assert StartFailure.of(70) is StartFailure.STARTUP
    # killed by a signal (an OOM kill), an unhandled crash, a clean exit: started again
    assert [StartFailure.of(code) for code in (-signal.SIGKILL, -signal.SIGSEGV, 1, 0)] == [None] * 4


def test_exits_are_described_by_signal_or_code() -> None:
    assert describe_exit(-signal.SIGKILL) == "killed by SIGKILL"
    assert describe_exit(1) == "exit code 1"
