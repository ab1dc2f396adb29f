"""Each error class says whether a client's own retry can help (``x-should-retry``), and a wait
is said precisely enough that a client honouring it neither comes back early nor sits idle."""

from __future__ import annotations

import pytest

from router.errors import (
    BudgetExceeded,
    GatewayError,
    InvalidRequest,
    NoDeploymentAvailable,
    RelayedFailure,
    Saturated,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamTimeout,
)
from router.http.responses import error_response


def advice(error: GatewayError) -> str | None:
    """The ``x-should-retry`` header of the error's answer, if any."""
    return error_response(error).headers.get("x-should-retry")


@pytest.mark.parametrize(
    "error",
    [
        UpstreamError("every attempt failed", deployment="a"),
        UpstreamTimeout("the deadline passed"),
        UpstreamRejected("credentials refused", status=502, code="upstream_auth_failed"),
        UpstreamRejected("max_tokens is too large", status=400),
    ],
    ids=["502", "504", "502-auth", "400-upstream"],
)
def test_after_an_upstream_failure_the_client_must_not_retry_what_raceway_already_retried(
    error: UpstreamError,
) -> None:
    assert advice(error) == "false"


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (UpstreamRateLimited("every deployment is busy", retry_after=2), "true"),
        (Saturated("over its rate limit", reason="rate_limited", retry_after=0.2), "true"),
        (NoDeploymentAvailable("all cooling down", retry_after=30), "true"),
        (UpstreamRateLimited("busy for a while", retry_after=61), "false"),
        (UpstreamRateLimited("busy, no idea how long"), "false"),
        (Saturated("larger than a minute of tpm", reason="tokens_exceed_limit"), "false"),
        (NoDeploymentAvailable("nothing configured"), "false"),
        (BudgetExceeded("spent", retry_after=7200), "false"),
        (BudgetExceeded("spent, renews in a moment", retry_after=20), "true"),
    ],
)
def test_a_refusal_that_lifts_with_time_is_worth_retrying_only_after_a_short_known_wait(
    error: GatewayError, expected: str
) -> None:
    assert advice(error) == expected


def test_errors_of_the_request_itself_carry_no_advice() -> None:
    assert advice(InvalidRequest("messages must be a list", param="messages")) is None


def test_a_relayed_failure_keeps_the_advice_it_was_given() -> None:
    original = UpstreamTimeout("too slow", deployment="a")
    relayed = RelayedFailure(original.status_code, original.to_dict(), original.response_headers())
    assert advice(relayed) == "false"


@pytest.mark.parametrize(
    ("seconds", "retry_after", "retry_after_ms"),
    [(15.0, "15", "15000"), (14.9999999999, "15", "15000"), (1.2, "2", "1200"), (0.05, "1", "50")],
)
def test_a_wait_is_rounded_up_and_also_given_in_milliseconds(
    seconds: float, retry_after: str, retry_after_ms: str
) -> None:
    headers = error_response(UpstreamRateLimited("busy", retry_after=seconds)).headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == (retry_after, retry_after_ms)
