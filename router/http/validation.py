"""Client request bodies: parsed once, checked for shape and type, refused with a clear 400."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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


class _WrongValue(Exception):
    """A value of the wrong kind somewhere in the body. Each enclosing level adds its field name
    or index on the way out, so the path is built only when a request is refused."""

    def __init__(self, problem: str, code: str, path: list[str | int] | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.code = code
        self.path: list[str | int] = path or []  # innermost first

    def refusal(self) -> InvalidRequest:
        """The 400 naming the value, e.g. ``messages[2].content[0].text``."""
        outermost, *inner = reversed(self.path)
        param = str(outermost) + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in inner)
        return InvalidRequest(f"{param} {self.problem}", param=param, code=self.code)


@dataclass(frozen=True, slots=True)
class Kind:
    """What a field of OpenAI's request body must be: its JSON types and, for an object, the
    kinds of its documented fields (others pass through unchecked); for an array, its items'.

    Types are compared exactly (``type(v) in types``): JSON gives exactly these classes, and
    ``true`` is not an integer here. ``null`` counts as absent, as in OpenAI's API.
    """

    what: str
    types: tuple[type, ...]
    fields: Mapping[str, Kind] = field(default_factory=dict)
    items: Kind | None = None
    required: tuple[str, ...] = ()
    choices: frozenset[str] = frozenset()

    def check(self, value: Any) -> None:
        kind = type(value)
        if kind not in self.types:
            raise _WrongValue(f"must be {self.what}", "invalid_type")
        if self.choices and value not in self.choices:
            raise _WrongValue(f"must be {self.what}", "invalid_value")
        if kind is dict:
            if self.fields:
                _check_fields(value, self.fields)
            for name in self.required:
                if value.get(name) is None:
                    raise _WrongValue("is required", "missing_field", [name])
        elif kind is list and self.items is not None:
            _check_items(value, self.items)


def _check_fields(value: dict[str, Any], fields: Mapping[str, Kind]) -> None:
    """The documented fields present in ``value``: proportional to what the client sent."""
    for name, item in value.items():
        kind = fields.get(name)
        if kind is not None and item is not None:
            try:
                kind.check(item)
            except _WrongValue as wrong:
                wrong.path.append(name)
                raise


def _check_items(value: list[Any], kind: Kind) -> None:
    for index, item in enumerate(value):
        try:
            kind.check(item)
        except _WrongValue as wrong:
            wrong.path.append(index)
            raise


def _object(**fields: Kind) -> Kind:
    return Kind("an object", (dict,), fields)


def _array(items: Kind, what: str = "an array") -> Kind:
    return Kind(what, (list,), items=items)


_STRING = Kind("a string", (str,))
_BOOLEAN = Kind("a boolean", (bool,))
_INTEGER = Kind("an integer", (int,))
_NUMBER = Kind("a number", (int, float))
_OBJECT = _object()
_STRINGS = _array(_STRING, "an array of strings")

_FUNCTION = _object(name=_STRING, description=_STRING, parameters=_OBJECT, strict=_BOOLEAN)
_CALLED_FUNCTION = _object(name=_STRING, arguments=_STRING)
_CONTENT_PART = _object(
    type=_STRING,
    text=_STRING,
    refusal=_STRING,
    image_url=_object(url=_STRING, detail=_STRING),
    input_audio=_object(data=_STRING, format=_STRING),
    file=_object(file_data=_STRING, file_id=_STRING, filename=_STRING),
)
_MESSAGE = Kind(
    "an object",
    (dict,),
    {
        "role": Kind(f"one of {', '.join(sorted(_ROLES))}", (str,), choices=_ROLES),
        "content": Kind("a string or an array of content parts", (str, list), items=_CONTENT_PART),
        "name": _STRING,
        "tool_call_id": _STRING,
        "refusal": _STRING,
        "tool_calls": _array(_object(id=_STRING, type=_STRING, function=_CALLED_FUNCTION)),
        "function_call": _CALLED_FUNCTION,
        "audio": _OBJECT,
    },
    required=("role",),
)

# OpenAI's Chat Completions request body: every documented field's kind. Raceway reads some of
# them (messages, stream, stream_options, user, temperature, max_tokens); providers read the
# rest (litellm's adapters index into tools and tool calls), so all are checked here, once.
CHAT_FIELDS: Mapping[str, Kind] = {
    "messages": Kind("a non-empty array of messages", (list,), items=_MESSAGE),
    "audio": _OBJECT,
    "frequency_penalty": _NUMBER,
    "function_call": Kind("a string or an object", (str, dict), {"name": _STRING}),
    "functions": _array(_FUNCTION),
    "logit_bias": _OBJECT,
    "logprobs": _BOOLEAN,
    "max_completion_tokens": _INTEGER,
    "max_tokens": _INTEGER,
    "metadata": _OBJECT,
    "modalities": _STRINGS,
    "n": _INTEGER,
    "parallel_tool_calls": _BOOLEAN,
    "prediction": _OBJECT,
    "presence_penalty": _NUMBER,
    "prompt_cache_key": _STRING,
    "reasoning_effort": _STRING,
    "response_format": _object(
        type=_STRING, json_schema=_object(name=_STRING, description=_STRING, schema=_OBJECT, strict=_BOOLEAN)
    ),
    "safety_identifier": _STRING,
    "seed": _INTEGER,
    "service_tier": _STRING,
    "stop": Kind("a string or an array of strings", (str, list), items=_STRING),
    "store": _BOOLEAN,
    "stream": _BOOLEAN,
    "stream_options": _object(include_usage=_BOOLEAN),
    "temperature": _NUMBER,
    "tool_choice": Kind(
        "a string or an object", (str, dict), {"type": _STRING, "function": _object(name=_STRING)}
    ),
    "tools": _array(_object(type=_STRING, function=_FUNCTION)),
    "top_logprobs": _INTEGER,
    "top_p": _NUMBER,
    "user": _STRING,
    "verbosity": _STRING,
    "web_search_options": _OBJECT,
}
EMBEDDINGS_FIELDS: Mapping[str, Kind] = {
    "dimensions": _INTEGER,
    "encoding_format": _STRING,
    "user": _STRING,
}


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


def _check(body: dict[str, Any], fields: Mapping[str, Kind]) -> None:
    try:
        _check_fields(body, fields)
    except _WrongValue as wrong:
        raise wrong.refusal() from None


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
    if messages == []:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages", code="invalid_type")
    _check(body, CHAT_FIELDS)
    if body.get("stream_options") is not None and not body.get("stream"):
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
    valid = (type(value) is str and value != "") or (
        type(value) is list
        and value
        and (
            all(type(item) is str for item in value)
            or all(type(item) is int for item in value)
            or all(type(item) is list and all(type(t) is int for t in item) for item in value)
        )
    )
    if not valid:
        raise InvalidRequest(
            "'input' must be a non-empty string, an array of strings, or an array of token arrays",
            param="input",
            code="invalid_type",
        )
    _check(body, EMBEDDINGS_FIELDS)
    return model, body
