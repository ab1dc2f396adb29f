"""The circuit breaker opens after repeated failures, cools down, and is probed before trust."""

from router.config.model import CooldownSettings
from router.fleet.breaker import Breaker, State


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: FakeClock, **settings: float) -> Breaker:
    return Breaker(CooldownSettings(**{"failures": 3, "window": 10.0, "duration": 30.0, **settings}), clock)  # type: ignore[arg-type]


def test_opens_after_failures_within_the_window() -> None:
    clock = FakeClock()
    b = breaker(clock)
    b.record_failure()
    b.record_failure()
    assert b.state is State.HEALTHY and b.acquire()
    b.record_failure()
    assert b.state is State.COOLED_DOWN and not b.available() and not b.acquire()
    assert b.seconds_until_available() == 30.0


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = FakeClock()
    b = breaker(clock)
    b.record_failure()
    b.record_failure()
    clock.now += 11
    b.record_failure()
    assert b.state is State.HEALTHY


def test_half_open_admits_one_probe_and_success_closes() -> None:
    clock = FakeClock()
    b = breaker(clock, failures=1)
    b.record_failure()
    clock.now += 30
    assert b.state is State.HALF_OPEN and b.available()
    assert b.acquire()
    assert not b.acquire() and not b.available()  # one probe at a time
    b.record_success()
    assert b.state is State.HEALTHY and b.acquire() and b.acquire()


def test_failed_probe_cools_down_again() -> None:
    clock = FakeClock()
    b = breaker(clock, failures=1)
    b.record_failure()
    clock.now += 30
    assert b.acquire()
    b.record_failure()
    assert b.state is State.COOLED_DOWN
    clock.now += 29.9
    assert b.state is State.COOLED_DOWN
    clock.now += 0.1
    assert b.state is State.HALF_OPEN


def test_cancelled_probe_frees_the_slot() -> None:
    clock = FakeClock()
    b = breaker(clock, failures=1)
    b.record_failure()
    clock.now += 30
    assert b.acquire()
    b.release()
    assert b.acquire()


def test_retry_after_cools_down_at_once_for_that_long() -> None:
    clock = FakeClock()
    b = breaker(clock)
    b.record_failure(retry_after=5.0)
    assert b.state is State.COOLED_DOWN and b.seconds_until_available() == 5.0
    clock.now += 5
    assert b.state is State.HALF_OPEN


def test_a_retry_after_cools_down_no_longer_than_max_retry_after_then_probes() -> None:
    clock = FakeClock()
    b = breaker(clock, max_retry_after=60.0)
    b.record_failure(retry_after=99999.0)
    assert b.state is State.COOLED_DOWN and b.seconds_until_available() == 60.0
    clock.now += 60
    assert b.state is State.HALF_OPEN and b.acquire()
    b.record_success()
    assert b.state is State.HEALTHY


def test_a_short_retry_after_is_kept() -> None:
    clock = FakeClock()
    b = breaker(clock, max_retry_after=60.0)
    b.record_failure(retry_after=7.0)
    assert b.seconds_until_available() == 7.0
