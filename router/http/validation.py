"""Chat Completions and embeddings request bodies: every documented field's ``Kind``, and the
parsers that check a body against them (the machinery is ``router.http.kinds``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import InvalidRequest
from router.http.kinds import (
    BOOLEAN,
    INTEGER,
    MAX_DEPTH,
    NUMBER,
    OBJECT,
    STRING,
    STRINGS,
    EmbeddingsInput,
    Kind,
    array_of,
    check_stream_options,
    checked_request,
    object_of,
)

__all__ = ["CHAT_FIELDS", "EMBEDDINGS_FIELDS", "MAX_DEPTH", "chat_request", "embeddings_request"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# Required fields are OpenAI's: every OpenAI-compatible upstream refuses a body without them,
# and litellm's adapters fail on one in ways that look like a connection error.
_FUNCTION = Kind(
    "an object",
    (dict,),
    {"name": STRING, "description": STRING, "parameters": OBJECT, "strict": BOOLEAN},
    required=("name",),
)
_CALLED_FUNCTION = Kind(
    "an object", (dict,), {"name": STRING, "arguments": STRING}, required=("name", "arguments")
)
_CONTENT_PART = Kind(
    "an object",
    (dict,),
    {
        "type": STRING,
        "text": STRING,
        "refusal": STRING,
        "image_url": Kind("an object", (dict,), {"url": STRING, "detail": STRING}, required=("url",)),
        "input_audio": Kind(
            "an object", (dict,), {"data": STRING, "format": STRING}, required=("data", "format")
        ),
        "file": object_of(file_data=STRING, file_id=STRING, filename=STRING),
    },
    required=("type",),
    required_when={
        "text": ("text",),
        "refusal": ("refusal",),
        "image_url": ("image_url",),
        "input_audio": ("input_audio",),
        "file": ("file",),
    },
)
_TOOL_CALL = Kind(
    "an object",
    (dict,),
    {"id": STRING, "type": STRING, "function": _CALLED_FUNCTION},
    required=("id", "type"),
    required_when={"function": ("function",)},
)
_MESSAGE = Kind(
    "an object",
    (dict,),
    {
        "role": Kind(f"one of {', '.join(sorted(_ROLES))}", (str,), choices=_ROLES),
        "content": Kind("a string or an array of content parts", (str, list), items=_CONTENT_PART),
        "name": STRING,
        "tool_call_id": STRING,
        "refusal": STRING,
        "tool_calls": array_of(_TOOL_CALL),
        "function_call": _CALLED_FUNCTION,
        "audio": OBJECT,
    },
    required=("role",),
    tag="role",
    required_when={
        "system": ("content",),
        "developer": ("content",),
        "user": ("content",),
        "tool": ("content", "tool_call_id"),
        "function": ("name",),
    },
)
_TOOL = Kind(
    "an object",
    (dict,),
    {"type": STRING, "function": _FUNCTION},
    required=("type",),
    required_when={"function": ("function",)},
)
_TOOL_CHOICE = Kind(
    "a string or an object",
    (str, dict),
    {"type": STRING, "function": Kind("an object", (dict,), {"name": STRING}, required=("name",))},
    required=("type",),
    required_when={"function": ("function",)},
)
_RESPONSE_FORMAT = Kind(
    "an object",
    (dict,),
    {
        "type": STRING,
        "json_schema": Kind(
            "an object",
            (dict,),
            {"name": STRING, "description": STRING, "schema": OBJECT, "strict": BOOLEAN},
            required=("name",),
        ),
    },
    required=("type",),
    required_when={"json_schema": ("json_schema",)},
)

# OpenAI's Chat Completions request body: every documented field's kind. Raceway reads some of
# them (messages, stream, stream_options, user, temperature, max_tokens); providers read the
# rest (litellm's adapters index into tools and tool calls), so all are checked here, once.
CHAT_FIELDS: Mapping[str, Kind] = {
    "messages": Kind("a non-empty array of messages", (list,), items=_MESSAGE),
    "audio": OBJECT,
    "frequency_penalty": NUMBER,
    "function_call": Kind("a string or an object", (str, dict), {"name": STRING}, required=("name",)),
    "functions": array_of(_FUNCTION),
    "logit_bias": OBJECT,
    "logprobs": BOOLEAN,
    "max_completion_tokens": INTEGER,
    "max_tokens": INTEGER,
    "metadata": OBJECT,
    "modalities": STRINGS,
    "n": INTEGER,
    "parallel_tool_calls": BOOLEAN,
    "prediction": OBJECT,
    "presence_penalty": NUMBER,
    "prompt_cache_key": STRING,
    "reasoning_effort": STRING,
    "response_format": _RESPONSE_FORMAT,
    "safety_identifier": STRING,
    "seed": INTEGER,
    "service_tier": STRING,
    "stop": Kind("a string or an array of strings", (str, list), items=STRING),
    "store": BOOLEAN,
    "stream": BOOLEAN,
    "stream_options": object_of(include_usage=BOOLEAN),
    "temperature": NUMBER,
    "tool_choice": _TOOL_CHOICE,
    "tools": array_of(_TOOL),
    "top_logprobs": INTEGER,
    "top_p": NUMBER,
    "user": STRING,
    "verbosity": STRING,
    "web_search_options": OBJECT,
}
EMBEDDINGS_FIELDS: Mapping[str, Kind] = {
    "input": EmbeddingsInput(
        "a non-empty string, an array of strings, or an array of token arrays", (str, list)
    ),
    "dimensions": INTEGER,
    "encoding_format": STRING,
    "user": STRING,
}


def chat_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of a chat completion request, or ``InvalidRequest``."""
    model, body = checked_request(raw, CHAT_FIELDS, "messages")
    if body["messages"] == []:
        raise InvalidRequest("'messages' must be a non-empty array", param="messages", code="invalid_type")
    check_stream_options(body)
    return model, body


def embeddings_request(raw: bytes) -> tuple[str, dict[str, Any]]:
    """(model, body) of an embeddings request, or ``InvalidRequest``."""
    return checked_request(raw, EMBEDDINGS_FIELDS, "input")
