import pytest
from prometheus_client import CollectorRegistry

from router.config.gateway_keys import GatewayKey
from router.errors import AuthenticationFailed, TooManyAuthFailures
from router.runtime.keyring import AuthFailure, FailureLimit, KeyRing
from router.telemetry.metrics import Metrics

TEAM = GatewayKey.from_secret("team", "rw-team-secret-1")
BATCH = GatewayKey.from_secret("batch", "rw-batch-secret-2", models=frozenset({"m"}))


def test_without_keys_everyone_is_anonymous() -> None:
    assert KeyRing(()).authenticate(None) is None
    assert not KeyRing(()).enabled


def test_the_right_key_names_its_owner() -> None:
    ring = KeyRing((TEAM, BATCH))
    assert ring.authenticate("Bearer rw-batch-secret-2") is BATCH
    assert ring.authenticate("bearer rw-team-secret-1") is TEAM


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_api_key"),
        ("rw-team-secret-1", "missing_api_key"),
        ("Basic cnc6eA==", "missing_api_key"),
        ("Bearer rw-team-secret-", "invalid_api_key"),
        ("Bearer ", "invalid_api_key"),
    ],
)
def test_wrong_or_missing_keys_are_401(header: str | None, code: str) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        KeyRing((TEAM,)).authenticate(header)
    assert caught.value.status_code == 401 and caught.value.code == code
    assert "rw-team-secret-1" not in caught.value.message


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_every_failure_is_counted_by_reason() -> None:
    registry = CollectorRegistry()
    ring = KeyRing((TEAM,), Metrics(registry))

    def count(reason: AuthFailure) -> float | None:
        return registry.get_sample_value("raceway_auth_failures_total", {"reason": reason})

    assert [count(reason) for reason in AuthFailure] == [0, 0, 0, 0]  # exported before the first
    for header in (None, "Basic cnc6eA==", "Bearer wrong-key-123"):
        with pytest.raises(AuthenticationFailed):
            ring.authenticate(header, {"client": ("10.0.0.1", 40000)})
    ring.authenticate("Bearer rw-team-secret-1", {"client": ("10.0.0.1", 40000)})
    assert count(AuthFailure.MISSING) == 2 and count(AuthFailure.INVALID) == 1
    assert count(AuthFailure.BLOCKED) == 0  # no limit configured: nobody is blocked


def test_an_address_past_its_failures_per_minute_waits_for_room_whatever_its_key() -> None:
    clock = Clock()
    registry = CollectorRegistry()
    ring = KeyRing((TEAM,), Metrics(registry), FailureLimit(3, clock=clock))
    for _ in range(3):  # a minute's worth at once
        with pytest.raises(AuthenticationFailed):
            ring.authenticate("Bearer guess-0000", {"client": ("10.0.0.1", 40000)})
    with pytest.raises(TooManyAuthFailures) as caught:
        ring.authenticate("Bearer rw-team-secret-1", {"client": ("10.0.0.1", 40000)})  # not even looked at
    assert caught.value.status_code == 429 and caught.value.code == "too_many_auth_failures"
    assert caught.value.retry_after == 20  # 3 a minute: room for one more in 20 s
    assert caught.value.response_headers() == {
        "retry-after": "20",
        "retry-after-ms": "20000",
        "x-should-retry": "true",  # a short, known wait
    }
    assert (
        ring.authenticate("Bearer rw-team-secret-1", {"client": ("10.0.0.2", 40000)}) is TEAM
    )  # other addresses are fine
    assert ring.authenticate("Bearer rw-team-secret-1", {"client": None}) is TEAM  # no address: not limited
    clock.now += 19.5
    with pytest.raises(TooManyAuthFailures) as caught:
        ring.authenticate("Bearer guess-0001", {"client": ("10.0.0.1", 40000)})
    assert caught.value.retry_after == 0.5 and caught.value.headers["retry-after"] == "1"
    clock.now += 0.5
    with pytest.raises(AuthenticationFailed):  # one more guess, then blocked again
        ring.authenticate("Bearer guess-0002", {"client": ("10.0.0.1", 40000)})
    with pytest.raises(TooManyAuthFailures):
        ring.authenticate("Bearer guess-0003", {"client": ("10.0.0.1", 40000)})
    samples = {
        r: registry.get_sample_value("raceway_auth_failures_total", {"reason": r}) for r in AuthFailure
    }
    assert samples == {"missing": 0, "invalid": 4, "admin": 0, "blocked": 3}


def test_only_the_most_recent_addresses_are_remembered() -> None:
    clock = Clock()
    limit = FailureLimit(1, clock=clock, max_addresses=2)
    for address in ("a", "b", "c"):
        limit.failed(address)
    limit.check("a")  # forgotten: the oldest of three
    for address in ("b", "c"):
        with pytest.raises(TooManyAuthFailures):
            limit.check(address)
