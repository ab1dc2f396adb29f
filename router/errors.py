"""Gateway errors: each knows its HTTP status and renders OpenAI's error shape.

Exception tree::

    GatewayError
    ├── InvalidRequest            400  malformed JSON, missing or mistyped fields
    ├── AuthenticationFailed      401  missing or wrong gateway key
    ├── PermissionDenied          403  key not allowed to use a model
    ├── NotFound                  404
    │   ├── ModelNotFound              unknown public model name
    │   ├── RouteNotFound              no such endpoint
    │   └── AdminDisabled              admin endpoints without ``server.admin_key``
    ├── MethodNotAllowed          405  a known endpoint, another method
    ├── RequestTimeout            408  the body did not arrive within ``server.body_timeout``
    ├── PayloadTooLarge           413  body over the configured limit
    ├── BudgetExceeded            429  the key spent its daily or monthly budget
    ├── TooManyAuthFailures       429  the client's address presented wrong keys too often
    ├── ClientGone                499  the client disconnected before the answer
    ├── NoDeploymentAvailable     503  nothing usable to serve the request
    ├── ShuttingDown              503  the worker's drain ended before the answer did
    ├── RelayedFailure            any  another instance's call for the same request failed so
    └── UpstreamError             502  an upstream call failed (connect, 5xx, cut stream)
        ├── UpstreamTimeout       504  an upstream call took too long
        ├── UpstreamRateLimited   429  the upstream answered 429
        │   └── Saturated         429  no room at a deployment or key (queue, rate limit) now
        └── UpstreamRejected      4xx  the upstream refused the request itself (not retried)

Lower-level exceptions (aiohttp, litellm, asyncio timeouts) are translated into
``UpstreamError`` subclasses at exactly one boundary per provider.

Each class also says whether a client's own retry can help (``retry_advice``), sent as
``x-should-retry``, which the openai and anthropic SDKs obey before their own rules (they
retry every 429 and 5xx): never after an upstream failure, since Raceway has already made
every attempt the model group allows (retries, fallbacks); after a wait that is known
and short for a refusal that lifts with time (a rate limit, a cooldown, a budget).
"""

from __future__ import annotations

import enum
import math
from typing import Any, ClassVar

import orjson

# The longest wait after which a client's own retry is still advised: the openai and
# anthropic SDKs honour a Retry-After of up to a minute; past it they retry on their own
# schedule (too early) or give up, and a caller blocked that long is better told at once.
SHORT_WAIT = 60.0


class RetryAdvice(enum.Enum):
    """What a client's own retry of an error can achieve."""

    NONE = "none"  # no advice: the client's rules for the status apply (4xx: no retry)
    NEVER = "never"  # Raceway already retried as much as the request's model group allows
    AFTER_WAIT = "after_wait"  # worth it once Retry-After has passed, if that is soon


def retry_after_headers(seconds: float) -> dict[str, str]:
    """``Retry-After`` in whole seconds, rounded up so a client does not come back too early, and
    ``retry-after-ms`` (which the openai SDK prefers) for a wait shorter than a second."""
    return {
        "retry-after": str(max(1, math.ceil(round(seconds, 3)))),
        "retry-after-ms": str(max(1, math.ceil(round(seconds * 1000, 3)))),
    }


class GatewayError(Exception):
    status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    retry_advice: ClassVar[RetryAdvice] = RetryAdvice.NONE

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """``retry_after``: seconds until the refusal lifts, when known (sets ``Retry-After``)."""
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code if code is not None else self.default_code
        self.headers = headers or {}
        self.retry_after = retry_after
        if retry_after is not None:
            for name, value in retry_after_headers(retry_after).items():
                self.headers.setdefault(name, value)

    @property
    def status_code(self) -> int:
        return self.status

    def should_retry(self) -> bool | None:
        """Whether the client should retry on its own; None: no advice."""
        if self.retry_advice is RetryAdvice.NONE:
            return None
        if self.retry_advice is RetryAdvice.NEVER:
            return False
        return self.retry_after is not None and self.retry_after <= SHORT_WAIT

    def response_headers(self) -> dict[str, str]:
        """The headers of the error's answer: its own, and the retry advice."""
        advice = self.should_retry()
        if advice is None:
            return self.headers
        return {**self.headers, "x-should-retry": "true" if advice else "false"}

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())


class InvalidRequest(GatewayError):
    status = 400
    error_type = "invalid_request_error"


class AuthenticationFailed(GatewayError):
    status = 401
    error_type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDenied(GatewayError):
    status = 403
    error_type = "permission_error"
    default_code = "model_not_allowed"


class NotFound(GatewayError):
    status = 404
    error_type = "invalid_request_error"
    default_code = "not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"


class RouteNotFound(NotFound):
    default_code = "not_found"


class AdminDisabled(NotFound):
    default_code = "admin_disabled"


class MethodNotAllowed(GatewayError):
    status = 405
    error_type = "invalid_request_error"
    default_code = "method_not_allowed"


class RequestTimeout(GatewayError):
    """The client sent its headers but not its whole body in time (the connection is then closed)."""

    status = 408
    error_type = "invalid_request_error"
    default_code = "request_timeout"


class PayloadTooLarge(GatewayError):
    status = 413
    error_type = "invalid_request_error"
    default_code = "request_too_large"


class BudgetExceeded(GatewayError):
    status = 429
    error_type = "insufficient_quota"
    default_code = "budget_exceeded"
    retry_advice = RetryAdvice.AFTER_WAIT  # the budget renews at midnight UTC (or the 1st)


class TooManyAuthFailures(GatewayError):
    """Refused without looking at the key: the address failed to authenticate too often."""

    status = 429
    error_type = "rate_limit_error"
    default_code = "too_many_auth_failures"
    retry_advice = RetryAdvice.AFTER_WAIT  # the address is back under its limit after the wait

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, retry_after=retry_after)


class ClientGone(GatewayError):
    """The client closed the connection before the answer: nobody reads this one."""

    status = 499
    error_type = "client_closed_request"
    default_code = "client_closed_request"


class NoDeploymentAvailable(GatewayError):
    status = 503
    error_type = "service_unavailable"
    default_code = "no_deployment_available"
    retry_advice = RetryAdvice.AFTER_WAIT  # no call was made: the first cooldown to end says when


class ShuttingDown(GatewayError):
    """The worker stops: its drain (``server.graceful_timeout``) ended before this answer did."""

    status = 503
    error_type = "service_unavailable"
    default_code = "server_shutting_down"


class RelayedFailure(GatewayError):
    """The error another instance's call for the same request ended with, passed on as it was
    (its headers carry its retry advice)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        error = body.get("error") or {}
        super().__init__(str(error.get("message", "upstream error")), code=error.get("code"), headers=headers)
        self._status = status
        self._body = body

    @property
    def status_code(self) -> int:
        return self._status

    def to_dict(self) -> dict[str, Any]:
        return self._body


class UpstreamError(GatewayError):
    """An upstream call failed. ``retryable`` says whether another attempt may succeed."""

    status = 502
    error_type = "upstream_error"
    default_code: ClassVar[str | None] = "upstream_error"
    retry_advice = RetryAdvice.NEVER
    retryable: bool = True

    def __init__(self, message: str, *, deployment: str = "", **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.deployment = deployment
        self.attempts = 0  # upstream calls the request made in all (set by the dispatcher)
        self.upstream_request_id: str | None = None  # what the upstream called the failed call(s)


class UpstreamTimeout(UpstreamError):
    status = 504
    error_type = "timeout_error"
    default_code = "upstream_timeout"


class UpstreamRateLimited(UpstreamError):
    status = 429
    error_type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retry_advice = RetryAdvice.AFTER_WAIT  # capacity returns: the upstream's or the limiter's wait


class Saturated(UpstreamRateLimited):
    """A deployment (or key) has no room for this request now: try elsewhere, or answer 429.

    ``reason``: a ``router.limits.SaturationReason`` (also the error's ``code``)."""

    default_code = "saturated"

    def __init__(
        self, message: str, *, reason: str, retry_after: float | None = None, deployment: str = ""
    ) -> None:
        super().__init__(message, retry_after=retry_after, deployment=deployment, code=reason)
        self.reason = reason


class UpstreamRejected(UpstreamError):
    """The upstream refused the request itself (4xx): another deployment would too."""

    retryable = False
    error_type = "invalid_request_error"
    default_code: ClassVar[str | None] = None  # the upstream's own code, passed through

    def __init__(self, message: str, *, status: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self._status = status

    @property
    def status_code(self) -> int:
        return self._status
