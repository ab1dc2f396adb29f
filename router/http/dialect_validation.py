"""Anthropic Messages, OpenAI Responses and legacy Completions request bodies: each documented
field's ``Kind`` (what the translators and providers read is checked here, once), and the
parsers that check a body against them. Fields a dialect does not document pass through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import InvalidRequest
from router.http.kinds import (
    BOOLEAN,
    INTEGER,
    NUMBER,
    OBJECT,
    STRING,
    STRINGS,
    Kind,
    array_of,
    check_stream_options,
    checked_request,
    object_of,
)

# The anthropic SDK's MessageParam: a system message may come among the others.
_ANTHROPIC_ROLES = frozenset({"user", "assistant", "system"})
_SOURCE = Kind(
    "an object",
    (dict,),
    {"type": STRING, "media_type": STRING, "data": STRING, "url": STRING},
    required=("type",),
)
_BLOCK = Kind(
    "an object",
    (dict,),
    {
        "type": STRING,
        "text": STRING,
        "id": STRING,
        "name": STRING,
        "input": OBJECT,
        "tool_use_id": STRING,
        "thinking": STRING,
        "signature": STRING,
        "data": STRING,
        "is_error": BOOLEAN,
    },
    required=("type",),
    # Anthropic's own types: a search result's ``source`` is a string, a server tool result's
    # ``content`` an object (web search, code execution...); only these are read here.
    variants={
        "image": {"source": _SOURCE},
        "document": {"source": _SOURCE},
        "tool_result": {"content": Kind("a string or an array of content blocks", (str, list))},
    },
    required_when={
        "text": ("text",),
        "tool_use": ("id", "name"),
        "tool_result": ("tool_use_id",),
        "image": ("source",),
        "thinking": ("thinking",),
        "redacted_thinking": ("data",),
    },
)
_ANTHROPIC_MESSAGE = Kind(
    "an object",
    (dict,),
    {
        "role": Kind("one of assistant, system, user", (str,), choices=_ANTHROPIC_ROLES),
        "content": Kind("a string or an array of content blocks", (str, list), items=_BLOCK),
    },
    required=("role", "content"),
)
_ANTHROPIC_TOOL = Kind(
    "an object",
    (dict,),
    {"name": STRING, "description": STRING, "input_schema": OBJECT, "type": STRING},
    required=("name",),
)
MESSAGES_FIELDS: Mapping[str, Kind] = {
    "messages": Kind("a non-empty array of messages", (list,), items=_ANTHROPIC_MESSAGE),
    "max_tokens": INTEGER,
    "system": Kind("a string or an array of text blocks", (str, list), items=_BLOCK),
    "metadata": object_of(user_id=STRING),
    "stop_sequences": STRINGS,
    "stream": BOOLEAN,
    "temperature": NUMBER,
    "top_p": NUMBER,
    "top_k": INTEGER,
    "tools": array_of(_ANTHROPIC_TOOL),
    "tool_choice": Kind(
        "an object",
        (dict,),
        {"type": STRING, "name": STRING, "disable_parallel_tool_use": BOOLEAN},
        required=("type",),
    ),
    "thinking": Kind("an object", (dict,), {"type": STRING, "budget_tokens": INTEGER}, required=("type",)),
    "service_tier": STRING,
}

_RESPONSES_INPUT = Kind(
    "a string or an array of input items",
    (str, list),
    items=Kind(
        "an object",
        (dict,),
        {
            "type": STRING,
            "role": STRING,
            "call_id": STRING,
            "name": STRING,
            "content": Kind("a string or an array", (str, list)),
        },
        # OpenAI's specification: a string of JSON in these, an object in a tool_search_call.
        variants={
            kind: {"arguments": STRING} for kind in ("function_call", "mcp_call", "mcp_approval_request")
        },
    ),
)
RESPONSES_FIELDS: Mapping[str, Kind] = {
    "input": _RESPONSES_INPUT,
    "instructions": STRING,
    "max_output_tokens": INTEGER,
    "parallel_tool_calls": BOOLEAN,
    "previous_response_id": STRING,
    "reasoning": object_of(effort=STRING, summary=STRING),
    "store": BOOLEAN,
    "stream": BOOLEAN,
    "temperature": NUMBER,
    "text": OBJECT,
    "tool_choice": Kind("a string or an object", (str, dict)),
    "tools": array_of(Kind("an object", (dict,), {"type": STRING, "name": STRING}, required=("type",))),
    "top_p": NUMBER,
    "user": STRING,
    "include": STRINGS,
    "metadata": OBJECT,
    "prompt_cache_key": STRING,
    "background": BOOLEAN,
}

COMPLETIONS_FIELDS: Mapping[str, Kind] = {
    "prompt": Kind("a string or an array", (str, list)),
    "max_tokens": INTEGER,
    "temperature": NUMBER,
    "top_p": NUMBER,
    "n": INTEGER,
    "stream": BOOLEAN,
    "stream_options": object_of(include_usage=BOOLEAN),
    "logprobs": INTEGER,
    "echo": BOOLEAN,
    "stop": Kind("a string or an array of strings", (str, list), items=STRING),
    "presence_penalty": NUMBER,
    "frequency_penalty": NUMBER,
    "best_of": INTEGER,
    "logit_bias": OBJECT,
    "user": STRING,
    "suffix": STRING,
    "seed": INTEGER,
}


def _not_empty(body: dict[str, Any]) -> None:
    """Anthropic refuses an empty ``messages`` (an empty ``input`` or ``prompt`` is valid, as
    OpenAI's specification says: the provider answers it)."""
    if body["messages"] == []:
        raise InvalidRequest("'messages' must not be empty", param="messages", code="invalid_value")


def messages_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of an Anthropic Messages request, or ``InvalidRequest``."""
    model, body = checked_request(raw, MESSAGES_FIELDS, "max_tokens", "messages")
    _not_empty(body)
    return model, body


def count_tokens_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of an Anthropic ``count_tokens`` request: a Messages request without
    ``max_tokens``."""
    model, body = checked_request(raw, MESSAGES_FIELDS, "messages")
    _not_empty(body)
    return model, body


def responses_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of an OpenAI Responses request, or ``InvalidRequest``.

    Raceway keeps no conversation state: a request must carry its whole input."""
    model, body = checked_request(raw, RESPONSES_FIELDS, "input")
    if body.get("previous_response_id") is not None:
        raise InvalidRequest(
            "'previous_response_id' is not supported: Raceway stores no responses, so send the "
            "whole conversation in 'input' (with 'store': false)",
            param="previous_response_id",
            code="unsupported_parameter",
        )
    if body.get("store") is True:
        raise InvalidRequest(
            "'store': true is not supported: Raceway stores no responses (send 'store': false, "
            "and the whole conversation in 'input')",
            param="store",
            code="unsupported_parameter",
        )
    if body.get("background"):
        raise InvalidRequest(
            "'background' responses are not supported: Raceway stores no responses",
            param="background",
            code="unsupported_parameter",
        )
    return model, body


def completions_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of a legacy Completions request, or ``InvalidRequest``."""
    model, body = checked_request(raw, COMPLETIONS_FIELDS, "prompt")
    check_stream_options(body)
    return model, body
