"""Every malformed request is refused with a 400 that names the offending field."""

import pytest

from router.errors import InvalidRequest
from router.http.validation import chat_request, embeddings_request

GOOD = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


def refusal(raw: bytes, parse=chat_request) -> InvalidRequest:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidRequest) as caught:
        parse(raw)
    assert caught.value.status_code == 400
    return caught.value


def test_good_request() -> None:
    model, body = chat_request(GOOD)
    assert model == "m" and body["messages"][0]["content"] == "hi"


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"[1, 2]", None, "invalid_json"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "missing_field"),
        (b'{"model": 5, "messages": [{"role": "user", "content": "x"}]}', "model", "invalid_type"),
        (b'{"model": "m"}', "messages", "missing_field"),
        (b'{"model": "m", "messages": []}', "messages", "invalid_type"),
        (b'{"model": "m", "messages": ["hi"]}', "messages[0]", "invalid_type"),
        (
            b'{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}',
            "messages[0].role",
            "invalid_value",
        ),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": 7}]}',
            "messages[0].content",
            "invalid_type",
        ),
        (GOOD[:-1] + b', "temperature": "hot"}', "temperature", "invalid_type"),
        (GOOD[:-1] + b', "max_tokens": 1.5}', "max_tokens", "invalid_type"),
        (GOOD[:-1] + b', "max_tokens": true}', "max_tokens", "invalid_type"),
        (GOOD[:-1] + b', "stream": "yes"}', "stream", "invalid_type"),
        (GOOD[:-1] + b', "stop": [1]}', "stop", "invalid_type"),
        (GOOD[:-1] + b', "tools": {}}', "tools", "invalid_type"),
        (GOOD[:-1] + b', "stream_options": {"include_usage": true}}', "stream_options", "invalid_value"),
    ],
)
def test_malformed_requests(raw: bytes, param: str | None, code: str) -> None:
    error = refusal(raw)
    assert (error.param, error.code) == (param, code)
    assert error.to_dict()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "extra_headers", "custom_llm_provider"])
def test_fields_that_would_redirect_traffic_are_refused(field: str) -> None:
    error = refusal(GOOD[:-1] + f', "{field}": "http://evil.example"}}'.encode())
    assert error.param == field and error.code == "forbidden_field"


def test_deeply_nested_json_is_refused_not_crashing() -> None:
    refusal(b'{"model": "m", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}")


def test_embeddings_requests() -> None:
    assert embeddings_request(b'{"model": "e", "input": ["a", "b"]}')[0] == "e"
    assert embeddings_request(b'{"model": "e", "input": [[1, 2], [3]]}')[0] == "e"
    assert refusal(b'{"model": "e"}', embeddings_request).param == "input"
    assert refusal(b'{"model": "e", "input": [1, "a"]}', embeddings_request).param == "input"
    assert refusal(b'{"model": "e", "input": ""}', embeddings_request).param == "input"
