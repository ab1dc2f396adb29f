"""Classify an upstream's HTTP error answer once, and scrub what a client may see of it."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Iterable, Mapping

import orjson

from router.config.model import CooldownSettings
from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.sse import event_json

# Statuses that mean "this request is wrong", so no other deployment would accept it.
NON_RETRYABLE_STATUSES = frozenset({400, 401, 403, 404, 413, 422})

_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|Bearer\s+[A-Za-z0-9._~+/=\-]+|AIza[0-9A-Za-z_\-]{20,})")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Remove secret values and anything shaped like an API key from a message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEY_LIKE.sub("***", text)


def upstream_message(body: bytes, secrets: Iterable[str]) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) from an OpenAI-shaped error body; Nones when it is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    return error_fields(document, secrets)


def error_fields(document: object, secrets: Iterable[str]) -> tuple[str | None, str | None, str | None]:
    """(message, param, code) of a parsed ``{"error": {...}}`` document; Nones when it is not one."""
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None, None, None
    param = error.get("param")
    code = error.get("code")
    return (
        scrub(error["message"], secrets)[:2000],
        param if isinstance(param, str) else None,
        code if isinstance(code, str) else None,
    )


def error_event(event: bytes, *, deployment: str, secrets: Iterable[str]) -> UpstreamError | None:
    """The failure an upstream reports with an SSE ``data: {"error": ...}`` event; None for other events.

    Cheap for every other event: a search for ``"error"`` before any parsing."""
    if b'"error"' not in event:
        return None
    document = event_json(event)
    if not isinstance(document, dict) or "error" not in document:
        return None
    message, _param, _code = error_fields(document, secrets)
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
    secrets: Iterable[str] = (),
    max_retry_after: float = CooldownSettings.max_retry_after,
) -> UpstreamError:
    """The classified error for a non-2xx upstream answer.

    ``max_retry_after``: the deployment's cap on a 429's ``Retry-After`` (its cooldown's)."""
    message, param, code = upstream_message(body, secrets)
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
