"""Classify an upstream's HTTP error answer once, and scrub what a client may see of it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import orjson

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
) -> UpstreamError:
    """The classified error for a non-2xx upstream answer."""
    message, param, code = upstream_message(body, secrets)
    if status == 429:
        return UpstreamRateLimited(
            message or f"deployment {deployment} is rate limited",
            retry_after=_retry_after(headers),
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


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after") or headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; rare from LLM APIs, treated as unknown
