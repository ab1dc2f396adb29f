"""Each dialect's errors in its own shapes: Anthropic's error types, Google's error document,
and the events that end a failed Responses stream (chat's is the gateway's own, ``router.errors``)."""

from __future__ import annotations

from typing import Any

from router.wire.values import as_str

# Anthropic's error types, each with the HTTP statuses Raceway answers it for (what the anthropic
# SDK and Claude Code read in the body). Any other type or status is an ``api_error``.
_ANTHROPIC_TYPES: dict[str, tuple[int, ...]] = {
    "invalid_request_error": (400,),
    "authentication_error": (401,),
    "permission_error": (403,),
    "not_found_error": (404,),
    "request_too_large": (413,),
    "rate_limit_error": (429,),
    "timeout_error": (504,),
    "overloaded_error": (503, 529),
}
_ANTHROPIC_BY_STATUS = {status: kind for kind, statuses in _ANTHROPIC_TYPES.items() for status in statuses}


def anthropic_type(kind: object) -> str:
    """An error's type as Anthropic names it: itself when Anthropic has it, else ``api_error``."""
    return kind if isinstance(kind, str) and kind in _ANTHROPIC_TYPES else "api_error"


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    """Anthropic's error body (and its stream's ``error`` event) for an answer of ``status``."""
    return {
        "type": "error",
        "error": {"type": _ANTHROPIC_BY_STATUS.get(status, "api_error"), "message": message},
    }


# What Google calls each HTTP status in its errors (google.rpc.Code's HTTP mapping).
GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def google_status(status: int) -> str:
    if status in GOOGLE_STATUS:
        return GOOGLE_STATUS[status]
    return "INTERNAL" if status >= 500 else "FAILED_PRECONDITION"


def error_document(status: int, message: str, retry_after: float | None = None) -> dict[str, Any]:
    """Google's error shape; a known wait goes in a ``google.rpc.RetryInfo`` (Gemini CLI's
    floor for its next attempt)."""
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status(status)}
    if retry_after is not None:
        delay = f"{max(1, round(retry_after))}s"
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    return {"error": error}


# The ``error.code`` values of a failed Response that say "rate limited" (the Response schema
# allows a closed set: anything else is ``server_error``).
_RATE_LIMITED = frozenset({"rate_limit_error", "rate_limit_exceeded"})


def failure(response: dict[str, Any], error: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The events that end a failed Responses stream as OpenAI's service ends one, without
    their sequence numbers: ``error``, with the documented fields (``code``, ``message``,
    ``param``) and the nested ``error`` object the service sends too (the openai SDK raises
    ``APIError`` on it), then ``response.failed`` carrying ``response`` failed with its
    ``error`` (what the Agents SDK and Codex read). ``error`` is chat-shaped (``message``,
    ``type``, ``code``, ``param``)."""
    code = error.get("code")
    fields = {
        "code": str(code) if code is not None else as_str(error.get("type")) or None,
        "message": as_str(error.get("message")) or "the upstream stream failed",
        "param": error.get("param") if isinstance(error.get("param"), str) else None,
    }
    nested = {"type": as_str(error.get("type")) or "server_error", **fields}
    limited = bool({error.get("type"), code} & _RATE_LIMITED)
    failed = {
        **response,
        "status": "failed",
        "completed_at": None,
        "error": {"code": "rate_limit_exceeded" if limited else "server_error", "message": fields["message"]},
    }
    return [("error", {**fields, "error": nested}), ("response.failed", {"response": failed})]
