"""Classify an upstream's HTTP error answer once, and scrub what a client may see of it."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable, Mapping

import orjson

from router.config.model import CooldownSettings
from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.wire.formats import WireFormat

# Statuses that mean "this request is wrong", so no other deployment would accept it. Not
# 404: the URL and the model are the config's, so a 404 says the deployment is misconfigured.
NON_RETRYABLE_STATUSES = frozenset({400, 401, 403, 413, 422})

_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+[A-Za-z0-9._~+/=\-]+|AIza[0-9A-Za-z_\-]{20,})")


_ECHO = 8  # a secret's first characters that identify an echo of it, even cut short
_FIELD = 200  # the longest ``param`` or ``code`` passed on


class Scrubber:
    """Makes text an upstream sent safe for clients and logs.

    Every configured secret (the whole config's: gateway keys, every deployment's key and
    headers, the Redis URL) becomes ``***``, as does an echo of one cut short (its first
    characters and whatever follows them up to a space or quote: ``sk-probe-SECRET-…``),
    and anything shaped like an API key. A secret stays known once added: a key rotated
    out of the config is still a key.
    """

    __slots__ = ("_pattern", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        known = self._secrets | {secret for secret in secrets if len(secret) >= 4}
        if known == self._secrets:
            return
        self._secrets = known
        echoes = sorted({re.escape(secret[:_ECHO]) for secret in known if len(secret) >= _ECHO})
        short = sorted((re.escape(s) for s in known if len(s) < _ECHO), key=len, reverse=True)
        self._pattern = re.compile("|".join([*(rf"{echo}[^\s\"'<>,;]*" for echo in echoes), *short]))

    def __call__(self, text: str) -> str:
        if self._pattern is not None:
            text = self._pattern.sub("***", text)
        return _KEY_LIKE.sub("***", text)


_KEY_SHAPES_ONLY = Scrubber()


def upstream_message(
    body: bytes, scrubber: Scrubber = _KEY_SHAPES_ONLY
) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) from an OpenAI-shaped error body, scrubbed; Nones when it is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    return error_fields(document, scrubber)


def error_fields(
    document: object, scrubber: Scrubber = _KEY_SHAPES_ONLY
) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) of a parsed ``{"error": {...}}`` document, each scrubbed (they reach
    the client, and the code the access log); Nones when it is not one."""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None, None, None
    param = error.get("param")
    code = error.get("code")
    return (
        _scrubbed_message(error["message"], scrubber),
        scrubber(param[: _FIELD * 2])[:_FIELD] if isinstance(param, str) else None,
        scrubber(code[: _FIELD * 2])[:_FIELD] if isinstance(code, str) else None,
    )


def _scrubbed_message(message: str, scrubber: Scrubber) -> str:
    return scrubber(message[:4000])[:2000]


def failure_in_event(
    event: bytes, wire_format: WireFormat, *, deployment: str, scrubber: Scrubber = _KEY_SHAPES_ONLY
) -> UpstreamError | None:
    """The failure an upstream reports with an event of ``wire_format``'s stream
    (``WireFormat.failure_in``), as the error that fails the call, its message scrubbed; None
    for any other event."""
    failure = wire_format.failure_in(event)
    if failure is None:
        return None
    message = None if failure.message is None else _scrubbed_message(failure.message, scrubber)
    return UpstreamError(
        f"deployment {deployment} failed midway: {message or 'it sent an error event'}",
        deployment=deployment,
        code="upstream_stream_error",
    )


def error_from_status(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    deployment: str,
    scrubber: Scrubber = _KEY_SHAPES_ONLY,
    max_retry_after: float = CooldownSettings.max_retry_after,
) -> UpstreamError:
    """The classified error for a non-2xx upstream answer, with what it passes on scrubbed.

    ``max_retry_after``: the deployment's cap on a 429's ``Retry-After`` (its cooldown's)."""
    message, param, code = upstream_message(body, scrubber)
    if status == 429:
        retry_after = retry_after_seconds(headers.get("retry-after") or headers.get("Retry-After"))
        return UpstreamRateLimited(
            message or f"deployment {deployment} is rate limited",
            retry_after=None if retry_after is None else min(retry_after, max_retry_after),
            deployment=deployment,
        )
    if status in (401, 403):
        # The gateway's own upstream credentials were refused: an operator problem,
        # not the client's, so it is reported as a bad gateway without the details.
        return UpstreamRejected(
            f"deployment {deployment} refused the gateway's credentials (HTTP {status})",
            status=502,
            deployment=deployment,
            code="upstream_auth_failed",
        )
    if status == 404:
        return UpstreamError(
            f"deployment {deployment} answered 404 Not Found: check its base_url and model",
            deployment=deployment,
            code="upstream_not_found",
        )
    if status in NON_RETRYABLE_STATUSES:
        return UpstreamRejected(
            message or f"the upstream rejected the request (HTTP {status})",
            status=status,
            param=param,
            code=code,
            deployment=deployment,
        )
    if status in (408, 504):
        return UpstreamTimeout(f"deployment {deployment} timed out (HTTP {status})", deployment=deployment)
    return UpstreamError(f"deployment {deployment} failed (HTTP {status})", deployment=deployment)


_DELAY_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for: delay-seconds or an HTTP date (``now``: the
    Unix time it is measured from). None for anything else (``inf``, ``nan``, ``-5``, ``1e9``,
    words): unknown, not an error. A huge number is kept (up to 1e9 s) for the caller to cap."""
    if value is None:
        return None
    value = value.strip()
    if _DELAY_SECONDS.fullmatch(value):
        return min(float(value), 1e9)  # a 400-digit number would be inf
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        return None  # "-0000": a date of unknown zone
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
