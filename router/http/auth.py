"""Gateway API keys: who is calling, recognised by the SHA-256 of what they present."""

from __future__ import annotations

import hmac

from router.config.model import GatewayKey, key_digest
from router.errors import AuthenticationFailed


class KeyRing:
    """Looks a presented key up by its SHA-256, then confirms it with ``hmac.compare_digest``.

    Only digests are kept, so a config may hold just ``key_sha256``; the lookup by digest
    keeps the cost independent of how many keys exist and of how much of a wrong key
    matches a right one.
    """

    __slots__ = ("_by_digest",)

    def __init__(self, keys: tuple[GatewayKey, ...]) -> None:
        self._by_digest = {key.digest: key for key in keys}

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest)

    def authenticate(self, authorization: str | None) -> GatewayKey | None:
        """The caller's key; None when the gateway runs without keys."""
        if not self._by_digest:
            return None
        if not authorization or authorization[:7].lower() != "bearer ":
            raise AuthenticationFailed(
                "missing API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        digest = key_digest(authorization[7:].strip())
        key = self._by_digest.get(digest)
        if key is None or not hmac.compare_digest(key.digest, digest):
            raise AuthenticationFailed("invalid API key")
        return key
