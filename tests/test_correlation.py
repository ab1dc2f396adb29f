"""Only a well-formed W3C trace context goes upstream; the upstream's request id and rate-limit
headers come back, and nothing a client sends becomes any other upstream header."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from router.providers.correlation import NO_HEADERS, Correlation, trace_context

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_well_formed_trace_context_goes_upstream() -> None:
    headers = {"traceparent": TRACEPARENT, "tracestate": "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"}
    assert trace_context(headers) == headers
    assert trace_context({"traceparent": TRACEPARENT}) == {"traceparent": TRACEPARENT}
    future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-later"
    assert trace_context({"traceparent": future}) == {"traceparent": future}


@pytest.mark.parametrize(
    "traceparent",
    [
        "",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # no trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # no parent id
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # the forbidden version
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  # version 00 has 4 fields
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
    ],
)
def test_a_malformed_traceparent_sends_nothing_not_even_the_tracestate(traceparent: str) -> None:
    assert trace_context({"traceparent": traceparent, "tracestate": "a=b"}) is NO_HEADERS


@pytest.mark.parametrize("tracestate", ["a=b\x00c", "a=\u00e9", "x=" + "y" * 511])
def test_a_malformed_tracestate_is_dropped_and_the_traceparent_kept(tracestate: str) -> None:
    assert trace_context({"traceparent": TRACEPARENT, "tracestate": tracestate}) == {
        "traceparent": TRACEPARENT
    }


def test_only_the_trace_context_is_added_and_the_deployments_headers_win() -> None:
    own = {"authorization": "Bearer sk-config", "content-type": "application/json"}
    assert Correlation().headers(own) is own
    traced = Correlation({"traceparent": TRACEPARENT}).headers(own)
    assert traced == {**own, "traceparent": TRACEPARENT}
    configured = {**own, "traceparent": "00-11111111111111111111111111111111-2222222222222222-00"}
    assert Correlation({"traceparent": TRACEPARENT}).headers(configured) == configured


def test_the_upstreams_request_id_is_noted_when_sane() -> None:
    correlation = Correlation()
    correlation.answered(CIMultiDict({"X-Request-Id": "req_abc123", "X-Ratelimit-Remaining-Requests": "9"}))
    assert correlation.request_id == "req_abc123"
    assert correlation.ratelimit is None  # not kept unless they are relayed
    anthropic = Correlation()
    anthropic.answered({"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy"})
    assert anthropic.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    odd = Correlation()
    odd.answered({"x-request-id": "id with spaces and \u00e9"})
    assert odd.request_id is None


def test_rate_limit_headers_are_kept_when_they_are_relayed() -> None:
    correlation = Correlation(keep_ratelimit=True)
    correlation.answered(
        CIMultiDict(
            {
                "X-Ratelimit-Remaining-Requests": "9",
                "x-ratelimit-reset-tokens": "6ms",
                "x-ratelimit-odd": "\u00e9t\u00e9",
                "x-request-id": "r1",
                "openai-organization": "org-secret",
            }
        )
    )
    assert correlation.ratelimit == {"x-ratelimit-remaining-requests": "9", "x-ratelimit-reset-tokens": "6ms"}
