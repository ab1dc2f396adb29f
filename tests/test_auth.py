import pytest

from router.config.model import GatewayKey
from router.errors import AuthenticationFailed
from router.http.auth import KeyRing

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
