"""Gateway API keys: who is calling, checked in constant time."""

from __future__ import annotations

import hashlib
import hmac

from router.config import GatewayKey
from router.errors import AuthenticationFailed


class KeyRing:
    """Looks a presented key up by its SHA-256, then confirms it with ``hmac.compare_digest``.

    The lookup by digest keeps the cost independent of how many keys exist and of how
    much of a wrong key matches a right one.
    """

    __slots__ = ("_by_digest",)

    def __init__(self, keys: tuple[GatewayKey, ...]) -> None:
        self._by_digest = {hashlib.sha256(k.key.reveal().encode()).digest(): k for k in keys}

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
        presented = authorization[7:].strip().encode()
        key = self._by_digest.get(hashlib.sha256(presented).digest())
        if key is None or not hmac.compare_digest(key.key.reveal().encode(), presented):
            raise AuthenticationFailed("invalid API key")
        return key
