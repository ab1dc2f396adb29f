"""Client request bodies: parsed once, checked for shape and type, refused with a clear 400."""

from __future__ import annotations

from typing import Any

import orjson

from router.errors import InvalidRequest

# Fields that would let a client redirect traffic or swap credentials.
FORBIDDEN_FIELDS = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "api_type",
        "organization",
        "headers",
        "extra_headers",
        "custom_llm_provider",
        "deployment_id",
        "azure_ad_token",
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
        "vertex_credentials",
        "mock_response",
        "litellm_params",
    }
)
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_NUMBER_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_INT_FIELDS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs")
_BOOL_FIELDS = ("stream", "logprobs", "parallel_tool_calls")
_STRING_FIELDS = ("user",)
_OBJECT_FIELDS = ("stream_options", "response_format", "logit_bias", "metadata")
_LIST_FIELDS = ("tools", "functions")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"the request body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(document, dict):
        raise InvalidRequest("the request body must be a JSON object", code="invalid_json")
    forbidden = FORBIDDEN_FIELDS.intersection(document)
    if forbidden:
        name = sorted(forbidden)[0]
        raise InvalidRequest(
            f"the field {name!r} is not accepted: upstreams and credentials are set by the gateway",
            param=name,
            code="forbidden_field",
        )
    return document


def _expect(body: dict[str, Any], name: str, kinds: type | tuple[type, ...], what: str) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise InvalidRequest(f"{name!r} must be {what}", param=name, code="invalid_type")
    if not isinstance(value, kinds):
        raise InvalidRequest(f"{name!r} must be {what}", param=name, code="invalid_type")


def _model(body: dict[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise InvalidRequest("'model' is required", param="model", code="missing_field")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' must be a non-empty string", param="model", code="invalid_type")
    return model


def chat_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of a chat completion request, or ``InvalidRequest``."""
    body = parse_json_object(raw)
    model = _model(body)
    messages = body.get("messages")
    if messages is None:
        raise InvalidRequest("'messages' is required", param="messages", code="missing_field")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages", code="invalid_type")
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise InvalidRequest(f"{param} must be an object", param=param, code="invalid_type")
        if message.get("role") not in _ROLES:
            raise InvalidRequest(
                f"{param}.role must be one of {', '.join(sorted(_ROLES))}",
                param=f"{param}.role",
                code="invalid_value",
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise InvalidRequest(
                f"{param}.content must be a string or an array of parts",
                param=f"{param}.content",
                code="invalid_type",
            )
    for name in _NUMBER_FIELDS:
        _expect(body, name, (int, float), "a number")
    for name in _INT_FIELDS:
        _expect(body, name, int, "an integer")
    for name in _BOOL_FIELDS:
        _expect(body, name, bool, "a boolean")
    for name in _STRING_FIELDS:
        _expect(body, name, str, "a string")
    for name in _OBJECT_FIELDS:
        _expect(body, name, dict, "an object")
    for name in _LIST_FIELDS:
        _expect(body, name, list, "an array")
    stop = body.get("stop")
    if stop is not None and not (
        isinstance(stop, str) or (isinstance(stop, list) and all(isinstance(s, str) for s in stop))
    ):
        raise InvalidRequest(
            "'stop' must be a string or an array of strings", param="stop", code="invalid_type"
        )
    options = body.get("stream_options")
    if options is not None and not body.get("stream"):
        raise InvalidRequest(
            "'stream_options' is only allowed when 'stream' is true",
            param="stream_options",
            code="invalid_value",
        )
    return model, body


def embeddings_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of an embeddings request, or ``InvalidRequest``."""
    body = parse_json_object(raw)
    model = _model(body)
    value = body.get("input")
    if value is None:
        raise InvalidRequest("'input' is required", param="input", code="missing_field")
    valid = (isinstance(value, str) and value != "") or (
        isinstance(value, list)
        and value
        and (
            all(isinstance(item, str) for item in value)
            or all(isinstance(item, int) and not isinstance(item, bool) for item in value)
            or all(isinstance(item, list) and all(isinstance(t, int) for t in item) for item in value)
        )
    )
    if not valid:
        raise InvalidRequest(
            "'input' must be a non-empty string, an array of strings, or an array of token arrays",
            param="input",
            code="invalid_type",
        )
    _expect(body, "dimensions", int, "an integer")
    _expect(body, "encoding_format", str, "a string")
    _expect(body, "user", str, "a string")
    return model, body
