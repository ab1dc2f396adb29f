"""Every malformed request is refused with a 400 that names the offending field."""

import orjson
import pytest

from router.errors import InvalidRequest
from router.http.validation import MAX_DEPTH, chat_request, embeddings_request

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
        (GOOD[:-1] + b', "stop": [1]}', "stop[0]", "invalid_type"),
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


def chat(message: object = None, **fields: object) -> bytes:
    """A chat request body, with one given message (or a plain user message) and extra fields."""
    messages = [message if message is not None else {"role": "user", "content": "hi"}]
    return orjson.dumps({"model": "m", "messages": messages, **fields})


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        # Each of these once reached code that assumed the type and answered 500.
        (chat({"role": [], "content": None}), "messages[0].role", "invalid_type"),
        (chat({"role": {}, "content": None}), "messages[0].role", "invalid_type"),
        (chat({"content": "x"}), "messages[0].role", "missing_field"),
        (
            chat({"role": "tool", "content": "x", "tool_call_id": {}}),
            "messages[0].tool_call_id",
            "invalid_type",
        ),
        (chat({"role": "user", "content": "x", "name": ["a"]}), "messages[0].name", "invalid_type"),
        (chat({"role": "user", "content": ["x"]}), "messages[0].content[0]", "invalid_type"),
        (
            chat({"role": "user", "content": [{"type": "text", "text": 5}]}),
            "messages[0].content[0].text",
            "invalid_type",
        ),
        (
            chat({"role": "user", "content": [{"type": "image_url", "image_url": "http://x"}]}),
            "messages[0].content[0].image_url",
            "invalid_type",
        ),
        (chat({"role": "user", "content": [{"type": 1}]}), "messages[0].content[0].type", "invalid_type"),
        (chat({"role": "assistant", "tool_calls": {}}), "messages[0].tool_calls", "invalid_type"),
        (chat({"role": "assistant", "tool_calls": ["x"]}), "messages[0].tool_calls[0]", "invalid_type"),
        (
            chat({"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": "f"}]}),
            "messages[0].tool_calls[0].function",
            "invalid_type",
        ),
        (
            chat({"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}),
            "messages[0].tool_calls[0].function.arguments",
            "invalid_type",
        ),
        (chat({"role": "assistant", "function_call": "f"}), "messages[0].function_call", "invalid_type"),
        (chat(tools=["f"]), "tools[0]", "invalid_type"),
        (chat(tools=[{"type": "function", "function": []}]), "tools[0].function", "invalid_type"),
        (
            chat(tools=[{"type": "function", "function": {"name": 1}}]),
            "tools[0].function.name",
            "invalid_type",
        ),
        (
            chat(tools=[{"type": "function", "function": {"name": "f", "parameters": "{}"}}]),
            "tools[0].function.parameters",
            "invalid_type",
        ),
        (chat(tool_choice=5), "tool_choice", "invalid_type"),
        (chat(tool_choice={"type": "function", "function": "f"}), "tool_choice.function", "invalid_type"),
        (chat(response_format={"type": ["json_object"]}), "response_format.type", "invalid_type"),
        (
            chat(response_format={"type": "json_schema", "json_schema": []}),
            "response_format.json_schema",
            "invalid_type",
        ),
        (
            chat(stream=True, stream_options={"include_usage": "yes"}),
            "stream_options.include_usage",
            "invalid_type",
        ),
        (chat(modalities="text"), "modalities", "invalid_type"),
        (chat(reasoning_effort=1), "reasoning_effort", "invalid_type"),
        (chat(functions=[{"name": {}}]), "functions[0].name", "invalid_type"),
        (chat(function_call=[]), "function_call", "invalid_type"),
    ],
)
def test_every_documented_field_is_checked_for_its_type(raw: bytes, param: str, code: str) -> None:
    error = refusal(raw)
    assert (error.param, error.code) == (param, code)
    assert param in error.message


@pytest.mark.parametrize(
    "message",
    [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        },
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                {"type": "a_part_openai_adds_next_year", "payload": [1, 2]},
            ],
        },
        {"role": "user", "content": "x", "name": None, "a_field_vllm_takes": {"any": "thing"}},
    ],
)
def test_well_typed_messages_pass_and_unknown_fields_pass_through(message: dict[str, object]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    _, body = chat_request(chat(message, top_k=5, tools=tools))
    assert body["messages"] == [message] and body["top_k"] == 5


def nested(levels: int) -> object:
    """``levels`` arrays: ``nested(2)`` is ``[[1]]``."""
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def nested_raw(levels: int) -> bytes:
    """``levels`` arrays as JSON text (orjson will not write more than 254)."""
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # The body is level 1: a field at level 2 may hold MAX_DEPTH - 1 levels of its own.
        (lambda levels: chat(metadata={"a": nested(levels - 2)}), "metadata"),
        (lambda levels: chat(top_k=nested(levels - 1)), "top_k"),
        (
            lambda levels: chat(
                tools=[
                    {"type": "function", "function": {"name": "f", "parameters": {"a": nested(levels - 5)}}}
                ]
            ),
            "tools[0].function.parameters",
        ),
        (
            lambda levels: chat({"role": "user", "content": [{"type": "x", "x": nested(levels - 5)}]}),
            "messages[0].content[0].x",
        ),
        (lambda levels: orjson.dumps({"model": "e", "input": "x", "extra": nested(levels - 1)}), "extra"),
    ],
)
def test_nesting_deeper_than_the_limit_is_refused_naming_the_field(body, param: str) -> None:  # type: ignore[no-untyped-def]
    parse = embeddings_request if param == "extra" else chat_request
    parse(body(MAX_DEPTH))
    error = refusal(body(MAX_DEPTH + 1), parse)
    assert (error.param, error.code) == (param, "too_deeply_nested")
    assert str(MAX_DEPTH) in error.message


@pytest.mark.parametrize("levels", [254, 500, 1020])
def test_nesting_that_json_allows_but_orjson_cannot_write_back_is_refused(levels: int) -> None:
    # orjson reads up to 1024 levels but writes at most 254: such a body once reached the
    # upstream call (or the cache key) and failed there with a 500.
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "metadata": {"a": '
    assert refusal(raw + nested_raw(levels) + b"}}").param == "metadata"
    raw = b'{"model": "m", "messages": [{"role": "user", "content": '
    assert refusal(raw + nested_raw(levels) + b"}]}").param == "messages[0].content[0]"


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        # OpenAI's required fields: an upstream refuses a body without them, and litellm's
        # adapters failed on one with what looked like a connection error (a 502 that cools
        # the deployment down).
        (chat({"role": "user"}), "messages[0].content"),
        (chat({"role": "user", "content": None}), "messages[0].content"),
        (chat({"role": "tool", "content": "42"}), "messages[0].tool_call_id"),
        (chat({"role": "function", "content": None}), "messages[0].name"),
        (chat({"role": "user", "content": [{}]}), "messages[0].content[0].type"),
        (chat({"role": "user", "content": [{"type": "text"}]}), "messages[0].content[0].text"),
        (chat({"role": "user", "content": [{"type": "image_url"}]}), "messages[0].content[0].image_url"),
        (
            chat({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
            "messages[0].content[0].image_url.url",
        ),
        (chat({"role": "assistant", "tool_calls": [{"type": "function"}]}), "messages[0].tool_calls[0].id"),
        (
            chat({"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]}),
            "messages[0].tool_calls[0].function",
        ),
        (
            chat(
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f"}}],
                }
            ),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (chat(tools=[{"function": {"name": "f"}}]), "tools[0].type"),
        (chat(tools=[{"type": "function"}]), "tools[0].function"),
        (chat(tools=[{"type": "function", "function": {}}]), "tools[0].function.name"),
        (chat(tool_choice={"type": "function"}), "tool_choice.function"),
        (chat(response_format={"type": "json_schema"}), "response_format.json_schema"),
        (chat(function_call={}), "function_call.name"),
    ],
)
def test_openais_required_fields_are_required(raw: bytes, param: str) -> None:
    error = refusal(raw)
    assert (error.param, error.code) == (param, "missing_field")


def test_a_part_or_tool_of_a_kind_openai_adds_later_needs_only_its_type() -> None:
    body = chat(
        {"role": "user", "content": [{"type": "video_url", "video_url": {"url": "x"}}]},
        tools=[{"type": "web_search"}],
        tool_choice={"type": "allowed_tools", "allowed_tools": {"mode": "auto"}},
    )
    assert chat_request(body)[1]["tools"] == [{"type": "web_search"}]


def test_a_whole_number_float_is_read_as_the_integer_it_is() -> None:
    _, body = chat_request(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "n": 2.0, "seed": -3.0}'
    )
    assert body["n"] == 2 and type(body["n"]) is int and type(body["seed"]) is int


def test_an_integer_float_beyond_64_bits_is_refused() -> None:
    raw = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1e20}'
    assert refusal(raw).param == "max_tokens"
