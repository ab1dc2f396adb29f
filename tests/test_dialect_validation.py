"""Messages, Responses and legacy Completions bodies are held to what their providers' own request
types say (router/http/dialect_validation.py): no less, and no more."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.errors import InvalidRequest
from router.http.dialect_validation import completions_request, messages_request, responses_request


def message(*blocks: dict[str, Any], role: str = "user") -> bytes:
    body = {"model": "m", "max_tokens": 8, "messages": [{"role": role, "content": list(blocks)}]}
    return orjson.dumps(body)


def refused(parse: Any, raw: bytes) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refusal:
        parse(raw)
    return refusal.value


TEXT = {"type": "text", "text": "hi"}


@pytest.mark.parametrize(
    "block",
    [
        {"type": "search_result", "source": "https://example.com", "title": "t", "content": [TEXT]},
        {
            "type": "code_execution_tool_result",
            "tool_use_id": "s",
            "content": {"type": "code_execution_result"},
        },
        {
            "type": "web_search_tool_result",
            "tool_use_id": "s",
            "content": {"type": "web_search_tool_result_error"},
        },
        {"type": "a_block_anthropic_adds_later", "content": {"any": "shape"}, "source": 3},
    ],
    ids=["search result", "code execution result", "web search error", "unknown type"],
)
def test_a_block_whose_source_or_content_has_another_kind_passes_untouched(block: dict[str, Any]) -> None:
    raw = message(block, role="assistant")
    _, body = messages_request(raw)
    assert body == orjson.loads(raw)


@pytest.mark.parametrize(
    ("block", "param"),
    [
        ({"type": "image", "source": "https://example.com/a.png"}, "messages[0].content[0].source"),
        ({"type": "document", "source": {"data": "x"}}, "messages[0].content[0].source.type"),
        (
            {"type": "tool_result", "tool_use_id": "t", "content": {"text": "x"}},
            "messages[0].content[0].content",
        ),
    ],
)
def test_where_the_types_give_source_and_content_a_kind_it_is_held_to_it(
    block: dict[str, Any], param: str
) -> None:
    assert refused(messages_request, message(block)).param == param


def test_a_system_message_among_the_messages_passes_and_other_roles_do_not() -> None:
    messages_request(message(TEXT, role="system"))
    refusal = refused(messages_request, message(TEXT, role="tool"))
    assert refusal.param == "messages[0].role" and "one of assistant, system, user" in refusal.message


@pytest.mark.parametrize(("parse", "field"), [(completions_request, "prompt"), (responses_request, "input")])
@pytest.mark.parametrize("empty", ["", []])
def test_an_empty_prompt_or_input_passes_but_a_missing_one_does_not(
    parse: Any, field: str, empty: Any
) -> None:
    _, body = parse(orjson.dumps({"model": "m", field: empty}))
    assert body[field] == empty
    assert refused(parse, orjson.dumps({"model": "m", field: None})).code == "missing_field"


def test_an_empty_messages_list_is_refused_as_anthropic_refuses_it() -> None:
    refusal = refused(messages_request, orjson.dumps({"model": "m", "max_tokens": 8, "messages": []}))
    assert (refusal.param, refusal.code) == ("messages", "invalid_value")
