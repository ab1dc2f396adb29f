"""Gateway API keys: who is calling, recognised by the SHA-256 of what they present; and what
happens to callers who keep presenting wrong ones."""

from __future__ import annotations

import enum
import hmac
import time
from collections.abc import Callable

from starlette.types import Scope

from router.config.gateway_keys import GatewayKey, key_digest
from router.errors import AuthenticationFailed, TooManyAuthFailures
from router.telemetry.metrics import Metrics


class AuthFailure(enum.StrEnum):
    """Why a request was refused authentication (the ``reason`` of ``raceway_auth_failures_total``)."""

    MISSING = "missing"  # no bearer key
    INVALID = "invalid"  # a key the gateway does not know
    ADMIN = "admin"  # a wrong admin key
    BLOCKED = "blocked"  # not looked at: the address failed too often (``server.auth_failures_per_minute``)


def client_address(scope: Scope | None) -> str | None:
    """The peer's address as the server saw it (a proxy's, behind one); None when unknown."""
    client = scope.get("client") if scope is not None else None
    return str(client[0]) if client else None


class FailureLimit:
    """At most ``per_minute`` failed authentications per client address, as a leaky bucket.

    An address may fail a minute's worth at once, then at the rate; past that, its requests
    are refused without looking at their key until the bucket has room again, so guessing
    keys gets no faster than the limit. Only the most recent ``max_addresses`` addresses
    are remembered, to bound the memory an attacker with many addresses can take.
    """

    __slots__ = ("_clock", "_due", "_interval", "_max_addresses", "_tolerance", "per_minute")

    def __init__(
        self, per_minute: int, *, clock: Callable[[], float] = time.monotonic, max_addresses: int = 10_000
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._interval = 60.0 / per_minute
        self._tolerance = 60.0 - self._interval  # a minute's worth, the failure in hand included
        self._max_addresses = max_addresses
        # Per address, when its bucket will be empty again (GCRA's theoretical arrival time);
        # insertion order is recency order: the oldest address is forgotten first.
        self._due: dict[str, float] = {}

    def check(self, address: str) -> None:
        """Raises ``TooManyAuthFailures`` while ``address`` may not fail again."""
        due = self._due.get(address)
        if due is not None and (wait := due - self._clock() - self._tolerance) > 0:
            raise TooManyAuthFailures(
                "too many failed authentications from this address; try again later", retry_after=wait
            )

    def failed(self, address: str) -> None:
        now = self._clock()
        self._due[address] = max(self._due.pop(address, now), now) + self._interval
        if len(self._due) > self._max_addresses:
            del self._due[next(iter(self._due))]


class KeyRing:
    """Looks a presented key up by its SHA-256, then confirms it with ``hmac.compare_digest``.

    Only digests are kept, so a config may hold just ``key_sha256``; the lookup by digest
    keeps the cost independent of how many keys exist and of how much of a wrong key
    matches a right one. Every failure is counted; with a ``limit``, an address that fails
    too often is refused before its key is looked at.
    """

    __slots__ = ("_by_digest", "_failures", "limit")

    def __init__(
        self, keys: tuple[GatewayKey, ...], metrics: Metrics | None = None, limit: FailureLimit | None = None
    ) -> None:
        self._by_digest = {key.digest: key for key in keys}
        self.limit = limit
        self._failures = {
            reason: metrics.auth_failures.labels(reason) for reason in AuthFailure if metrics is not None
        }

    @property
    def enabled(self) -> bool:
        return bool(self._by_digest)

    def authenticate(
        self, authorization: str | None, peer: Scope | None = None, *, api_key: str | None = None
    ) -> GatewayKey | None:
        """The caller's key, from ``Authorization: Bearer`` or, as Anthropic's clients send it,
        ``x-api-key`` (``api_key``); None when the gateway runs without keys.

        ``peer``: the request's scope, where its address is read, only when there is a limit.
        """
        if not self._by_digest:
            return None
        if self.limit is not None:
            self.screen(peer)
        if authorization and authorization[:7].lower() == "bearer ":
            presented = authorization[7:].strip()
        elif api_key:
            presented = api_key.strip()
        else:
            self.record_failure(AuthFailure.MISSING, peer)
            raise AuthenticationFailed(
                "missing API key: send it as 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
                code="missing_api_key",
            )
        digest = key_digest(presented)
        key = self._by_digest.get(digest)
        if key is None or not hmac.compare_digest(key.digest, digest):
            self.record_failure(AuthFailure.INVALID, peer)
            raise AuthenticationFailed("invalid API key")
        return key

    def screen(self, peer: Scope | None) -> None:
        """Before looking at a key: refuse an address over the failure limit."""
        if self.limit is None or (address := client_address(peer)) is None:
            return
        try:
            self.limit.check(address)
        except TooManyAuthFailures:
            self._count(AuthFailure.BLOCKED)
            raise

    def record_failure(self, reason: AuthFailure, peer: Scope | None) -> None:
        """Account for a failed authentication (the caller raises the error)."""
        self._count(reason)
        if self.limit is not None and (address := client_address(peer)) is not None:
            self.limit.failed(address)

    def _count(self, reason: AuthFailure) -> None:
        if self._failures:
            self._failures[reason].inc()
