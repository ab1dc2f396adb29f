"""Upstream failures are classified once: what may be retried, and what the client sees."""

import pytest

from router.errors import UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.providers.upstream_errors import (
    Scrubber,
    error_from_status,
    failure_in_event,
    retry_after_seconds,
)
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS

CHAT = FORMATS[Dialect.CHAT]

OPENAI_BODY = (
    b'{"error": {"message": "Bad value for temperature", "type": "invalid_request_error",'
    b' "param": "temperature", "code": null}}'
)


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_server_errors_are_retryable_502s(status: int) -> None:
    error = error_from_status(status, b"<html>oops</html>", {}, deployment="d")
    assert type(error) is UpstreamError and error.retryable and error.status_code == 502


def test_429_is_retryable_and_keeps_retry_after() -> None:
    error = error_from_status(429, b"{}", {"retry-after": "7"}, deployment="d")
    assert isinstance(error, UpstreamRateLimited) and error.retryable
    assert error.retry_after == 7.0 and error.headers["retry-after"] == "7"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("99999", 99999.0),
        ("9" * 400, 1e9),  # float() of it is inf
        ("inf", None),
        ("Infinity", None),
        ("nan", None),
        ("-5", None),
        ("1e9", None),
        ("soon", None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # 30 s after ``now``
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # already past
        ("Wed, 21 Oct 2015 07:28:30 -0000", None),  # a date of unknown zone
        ("Wed, 32 Oct 2015 99:99:99 GMT", None),
    ],
)
def test_retry_after_values_parse_robustly(value: str, seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert retry_after_seconds(value, now=now) == seconds


@pytest.mark.parametrize("value", ["99999", "inf", "nan", "-1", "9" * 400, "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_429_retry_after_is_capped_and_never_breaks_the_error(value: str) -> None:
    error = error_from_status(429, b"{}", {"retry-after": value}, deployment="d", max_retry_after=60.0)
    assert isinstance(error, UpstreamRateLimited) and error.retryable and error.status_code == 429
    assert error.retry_after is None or 0 <= error.retry_after <= 60.0
    assert error.headers.get("retry-after") in (None, "60", "1")
    error.to_json()


def test_timeouts_from_upstream() -> None:
    assert isinstance(error_from_status(504, b"", {}, deployment="d"), UpstreamTimeout)


def test_a_404_is_the_deployments_fault_not_the_requests() -> None:
    """The URL and the model are the config's: a 404 means a wrong base_url or model, and another
    deployment may answer. What the upstream said (its URL, its model names) is not passed on."""
    body = b'{"error": {"message": "The model `internal-llm-7` does not exist", "code": "model_not_found"}}'
    error = error_from_status(404, body, {}, deployment="d")
    assert type(error) is UpstreamError and error.retryable and error.status_code == 502
    assert error.code == "upstream_not_found" and error.deployment == "d"
    assert "internal-llm" not in error.message and "base_url" in error.message


@pytest.mark.parametrize("status", [400, 422])
def test_request_errors_pass_through_without_retry(status: int) -> None:
    error = error_from_status(status, OPENAI_BODY, {}, deployment="d")
    assert isinstance(error, UpstreamRejected) and not error.retryable
    assert error.status_code == status
    assert error.to_dict()["error"] == {
        "message": "Bad value for temperature",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": None,
    }


@pytest.mark.parametrize("status", [401, 403])
def test_refused_upstream_credentials_are_the_gateways_problem(status: int) -> None:
    body = b'{"error": {"message": "Incorrect API key provided: sk-live-abcdef123456"}}'
    error = error_from_status(status, body, {}, deployment="d", scrubber=Scrubber(["sk-live-abcdef123456"]))
    assert error.status_code == 502 and not error.retryable
    assert "sk-live" not in error.message


def test_non_openai_bodies_are_not_passed_through() -> None:
    error = error_from_status(400, b"<html>internal stack trace</html>", {}, deployment="d")
    assert "stack trace" not in error.message


def test_scrub_removes_secrets_and_key_shaped_strings() -> None:
    text = "key sk-proj-AAAABBBBCCCC rejected; token Bearer xyz123; custom s3cr3t-value"
    assert Scrubber(["s3cr3t-value"])(text) == "key *** rejected; token ***; custom ***"


def test_scrub_removes_secrets_echoed_cut_short_and_short_ones() -> None:
    scrubber = Scrubber(["rw-gateway-key-0123456789", "abcd", "abc"])  # 3 characters: too short to scrub
    text = 'key rw-gateway-key-01…, key="rw-gatewa", abcd and abc'
    assert scrubber(text) == 'key ***, key="***", abcd and abc'.replace("abcd", "***")


def test_a_scrubber_keeps_every_secret_it_was_given() -> None:
    scrubber = Scrubber(["first-secret-value"])
    scrubber.add(["second-secret-value"])
    assert scrubber("first-secret-value second-secret-value") == "*** ***"


LEAKY_BODY = (
    b'{"error": {"message": "bad header authorization: Bearer sk-probe-SECRET-123",'
    b' "param": "header authorization: Bearer sk-probe-SECRET-\\u2026",'
    b' "code": "invalid rw-gateway-key-0123456789 here"}}'
)


@pytest.mark.parametrize("status", [400, 413, 422])
def test_every_field_passed_on_is_scrubbed(status: int) -> None:
    scrubber = Scrubber(["sk-probe-SECRET-123", "rw-gateway-key-0123456789"])
    error = error_from_status(status, LEAKY_BODY, {}, deployment="d", scrubber=scrubber)
    fields = error.to_dict()["error"]
    assert "SECRET" not in error.to_json().decode() and "rw-gateway" not in error.to_json().decode()
    assert fields["param"] == "header authorization: Bearer ***" and fields["code"] == "invalid *** here"
    assert fields["message"] == "bad header authorization: Bearer ***"


def test_long_param_and_code_are_cut() -> None:
    body = b'{"error": {"message": "m", "param": "' + b"p" * 5000 + b'", "code": "' + b"c" * 5000 + b'"}}'
    error = error_from_status(400, body, {}, deployment="d")
    assert len(error.param or "") == 200 and len(error.code or "") == 200


def test_an_error_event_is_a_failure_with_its_message_scrubbed() -> None:
    event = b'data: {"error": {"message": "overloaded, key sk-live-abcdef123456 throttled"}}\n\n'
    error = failure_in_event(event, CHAT, deployment="d")
    assert error is not None and error.retryable and error.deployment == "d"
    assert error.message == "deployment d failed midway: overloaded, key *** throttled"


def test_other_events_are_not_errors() -> None:
    content = b'data: {"choices": [{"delta": {"content": "\\"error\\": no"}}]}\n\n'
    assert failure_in_event(content, CHAT, deployment="d") is None
    value = b'data: {"choices": [{"delta": {"content": "error"}}], "x": "error"}\n\n'
    assert failure_in_event(value, CHAT, deployment="d") is None  # parsed: no top-level error
    assert failure_in_event(b"data: [DONE]\n\n", CHAT, deployment="d") is None
    null = b'data: {"choices": [{"delta": {"content": "hi"}}], "error": null}\n\n'
    assert failure_in_event(null, CHAT, deployment="d") is None  # some upstreams send it in every chunk


def test_an_error_event_is_a_failure_in_every_dialect() -> None:
    anthropic = (
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}\n\n'
    )
    responses = (
        b'event: error\ndata: {"type": "error", "code": "server_error", "message": "broke", '
        b'"sequence_number": 3}\n\n'
    )
    failed = (
        b'event: response.failed\ndata: {"type": "response.failed", "sequence_number": 9, '
        b'"response": {"status": "failed", "error": {"code": "server_error", "message": "gave up"}}}\n\n'
    )
    wires = ((Dialect.MESSAGES, anthropic), (Dialect.RESPONSES, responses), (Dialect.RESPONSES, failed))
    messages = [failure_in_event(event, FORMATS[wire], deployment="d") for wire, event in wires]
    assert [error.message if error else None for error in messages] == [
        "deployment d failed midway: busy",
        "deployment d failed midway: broke",
        "deployment d failed midway: gave up",
    ]
    harmless = (
        b"event: response.output_text.delta\n"
        b'data: {"type": "response.output_text.delta", "delta": "error"}\n\n'
    )
    assert failure_in_event(harmless, FORMATS[Dialect.RESPONSES], deployment="d") is None
