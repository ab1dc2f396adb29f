"""The oracles themselves: they refuse what the providers refuse, accept what they send, and
their errata hold (``tests/oracles.py``); the fake upstreams' every answer and event is valid."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest

from tests.oracles import DIALECTS, REQUESTS, Shape, request_shape, violations
from tests.upstream_wires import (
    Answer,
    ChatWire,
    GeminiCountWire,
    GeminiWire,
    MessagesWire,
    ResponsesWire,
    Wire,
)

CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "hi", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ],
}
MESSAGE: dict[str, Any] = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 1, "output_tokens": 1},
}


def without(document: dict[str, Any], *path: Any) -> dict[str, Any]:
    """A deep copy of ``document`` with the field at ``path`` removed."""
    copied = copy.deepcopy(document)
    target: Any = copied
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return copied


def test_a_valid_chat_answer_passes_and_each_required_field_is_missed() -> None:
    assert violations(Shape.CHAT_ANSWER, CHAT_ANSWER) == []
    assert violations(Shape.CHAT_ANSWER, without(CHAT_ANSWER, "choices", 0, "message", "refusal")) == [
        "CreateChatCompletionResponse at choices/0/message: 'refusal' is a required property"
    ]
    assert violations(Shape.CHAT_ANSWER, without(CHAT_ANSWER, "choices", 0, "logprobs")) == [
        "CreateChatCompletionResponse at choices/0: 'logprobs' is a required property"
    ]


def test_an_anthropic_message_is_held_to_the_sdks_types_without_extras() -> None:
    assert violations(Shape.MESSAGE, MESSAGE) == []
    assert violations(Shape.MESSAGE, {**MESSAGE, "stop_reason": "finished"}) != []
    extra = {**MESSAGE, "content": [{"type": "text", "text": "hi", "logprobs": None}]}
    assert violations(Shape.MESSAGE, extra) == [
        "anthropic:Message at content/0: Additional properties are not allowed ('logprobs' was unexpected)"
    ]
    tool = {**MESSAGE, "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"any": 1}}]}
    assert violations(Shape.MESSAGE, tool) == []  # a tool's input is free-form


def test_anthropic_stream_events_include_ping_and_error() -> None:
    assert violations(Shape.MESSAGE_EVENT, {"type": "ping"}) == []
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert violations(Shape.MESSAGE_EVENT, error) == []
    assert violations(Shape.MESSAGE_EVENT, {"type": "pong"}) != []


def test_requests_are_held_to_the_request_schemas() -> None:
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert violations(Shape.CHAT_REQUEST, chat) == []
    assert violations(Shape.CHAT_REQUEST, {**chat, "n": 2.0}) == []  # JSON: 2.0 is an integer
    assert violations(Shape.CHAT_REQUEST, {**chat, "temperature": "hot"}) != []
    messages = {"model": "claude-x", "max_tokens": 10, "messages": chat["messages"]}
    assert violations(Shape.MESSAGES_REQUEST, messages) == []
    assert violations(Shape.MESSAGES_REQUEST, {**messages, "n": 1}) == [
        "anthropic:MessageCreateParams at (root): Additional properties are not allowed ('n' was unexpected)"
    ]
    assert violations(Shape.MESSAGES_REQUEST, without(messages, "max_tokens")) != []


GEMINI_ANSWER: dict[str, Any] = {
    "candidates": [
        {"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP", "index": 0}
    ],
    "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 1, "totalTokenCount": 6},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "r1",
}
GEMINI_REQUEST: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_a_gemini_answer_is_held_to_google_genais_types_on_the_wire() -> None:
    assert violations(Shape.GEMINI_ANSWER, GEMINI_ANSWER) == []
    assert violations(Shape.GEMINI_ANSWER, {**GEMINI_ANSWER, "finish_reason": "STOP"}) == [
        "gemini:GenerateContentResponse at (root): Additional properties are not allowed "
        "('finish_reason' was unexpected)"
    ]
    candidate = {**GEMINI_ANSWER["candidates"][0], "finishReason": "DONE"}
    assert violations(Shape.GEMINI_ANSWER, {**GEMINI_ANSWER, "candidates": [candidate]}) != []
    # The SDK's own fields are not the API's, and the API writes no nulls.
    assert violations(Shape.GEMINI_ANSWER, {**GEMINI_ANSWER, "sdkHttpResponse": {"headers": {}}}) != []
    assert violations(Shape.GEMINI_ANSWER, {**GEMINI_ANSWER, "modelVersion": None}) == [
        "gemini:GenerateContentResponse at modelVersion: None is not of type 'string'"
    ]
    tokens = {"totalTokens": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]}
    assert violations(Shape.GEMINI_TOKEN_COUNT, tokens) == []  # the API sends details the SDK drops


def test_google_errors_are_rpc_statuses() -> None:
    retry = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}
    error = {
        "error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED", "details": [retry]}
    }
    assert violations(Shape.GEMINI_ERROR, error) == []
    assert violations(Shape.GEMINI_ERROR, {"error": {**error["error"], "status": "TOO_MANY"}}) != []
    assert violations(Shape.GEMINI_ERROR, {"error": {"code": 429, "message": "x"}}) == [
        "gemini:Status at error: 'status' is a required property"
    ]


def test_gemini_requests_are_held_to_the_sdks_types_and_the_apis_rules() -> None:
    assert violations(Shape.GEMINI_REQUEST, GEMINI_REQUEST) == []
    assert violations(Shape.GEMINI_REQUEST, {**GEMINI_REQUEST, "model": "m"}) != []  # in the path
    assert violations(Shape.GEMINI_REQUEST, {"contents": []}) == [
        "gemini:GenerateContentRequest at contents: [] should be non-empty"
    ]
    # Proto names are accepted as well as JSON names (google-genai sends some), nulls are unset.
    declared = {"function_declarations": [{"name": "f", "parameters_json_schema": {"type": "object"}}]}
    config = {"topK": 64.0, "temperature": None}
    assert (
        violations(Shape.GEMINI_REQUEST, {**GEMINI_REQUEST, "tools": [declared], "generationConfig": config})
        == []
    )
    # "Required." in the SDK's docstrings is required; bytes are base64; a call names its function.
    blob = {"role": "user", "parts": [{"inlineData": {"data": "aGk="}}]}
    assert (
        "gemini:GenerateContentRequest at contents/0/parts/0/inlineData: 'mimeType' is a required property"
        in violations(Shape.GEMINI_REQUEST, {"contents": [blob]})
    )
    blob = {"role": "user", "parts": [{"inline_data": {"data": "not base64!", "mime_type": "image/png"}}]}
    assert violations(Shape.GEMINI_REQUEST, {"contents": [blob]}) != []
    call = {"role": "model", "parts": [{"functionCall": {"args": {}}}]}
    assert violations(Shape.GEMINI_REQUEST, {"contents": [call]}) != []
    # A content has parts; a part has exactly one of its data fields (text, inlineData...).
    assert violations(Shape.GEMINI_REQUEST, {"contents": [{"role": "user"}]}) != []
    for parts in ([{"thought": True}], [{"text": "a", "fileData": {"fileUri": "u", "mimeType": "m"}}]):
        assert violations(Shape.GEMINI_REQUEST, {"contents": [{"role": "user", "parts": parts}]}) != []
    whole = {"generateContentRequest": {**GEMINI_REQUEST, "model": "models/m"}}
    assert violations(Shape.GEMINI_COUNT_REQUEST, whole) == []
    assert violations(Shape.GEMINI_COUNT_REQUEST, {"generateContentRequest": GEMINI_REQUEST}) != []


def test_the_errata_accept_what_openai_really_sends() -> None:
    """Each entry of ``ERRATA``: what the document refuses and the service sends."""
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
    }
    assert violations(Shape.CHAT_CHUNK, chunk) == []  # `nullable: true`
    opened = ResponsesWire().stream(Answer("m", "hi"), {}).head[0]
    assert isinstance(opened, dict) and opened["response"]["usage"] is None
    assert violations(Shape.RESPONSE_EVENT, {**opened, "sequence_number": 0}) == []
    embedding = {"object": "embedding", "index": 0, "embedding": "AAAAAA=="}
    listed = {
        "object": "list",
        "data": [embedding],
        "model": "e",
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    }
    assert violations(Shape.EMBEDDINGS, listed) == []
    piece = {
        "id": "cmpl",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "text": "x", "logprobs": None, "finish_reason": None}],
    }
    assert violations(Shape.COMPLETION_CHUNK, piece) == []
    assert violations(Shape.COMPLETION, piece) != []  # a whole completion has its finish reason


ANSWERS = [
    Answer("m", "hello there"),
    Answer("m", "", tool_calls=(("f", '{"a": 1}'), ("g", "{}"))),
    Answer("m", "done", reasoning="step by step", cache_read=7, cache_write=3),
]
WIRES: dict[str, Wire] = {
    "chat": ChatWire(),
    "messages": MessagesWire(),
    "responses": ResponsesWire(),
    "gemini": GeminiWire(),
}
FAILURE = {"error": {"message": "boom", "type": "server_error", "param": None, "code": "server_error"}}


@pytest.mark.parametrize(("wire", "answer"), list(itertools.product(sorted(WIRES), ANSWERS)))
def test_the_fake_upstreams_answers_and_events_are_valid(wire: str, answer: Answer) -> None:
    """The same check ``tests/test_schema_conformance.py`` makes of what the fake sent, here
    for every wire and answer shape, logprobs and failures included, without a server."""
    writer, dialect = WIRES[wire], DIALECTS[wire]
    body = {"logprobs": True, "top_logprobs": 2, "stream_options": {"include_usage": True}}
    found = violations(dialect.answer, writer.answer(answer, body))
    stream = writer.stream(answer, body)
    events = [*stream.head, *(e for chunk in stream.chunks for e in chunk), *stream.tail, *stream.end]
    events += writer.failure(answer, FAILURE) + writer.failure(answer, None)
    for number, event in enumerate(e for e in events if isinstance(e, dict)):
        data = {**event, "sequence_number": number} if writer.numbered else event
        found += violations(dialect.shape_of_event(data), data)
    found += violations(dialect.error, writer.refusal(429, None))
    assert found == []


def test_the_fake_gemini_count_is_valid() -> None:
    assert violations(Shape.GEMINI_TOKEN_COUNT, GeminiCountWire().answer(Answer("m", ""), {})) == []


def test_every_upstream_path_has_a_request_schema() -> None:
    assert sorted(REQUESTS) == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/messages",
        "/v1/messages/count_tokens",
        "/v1/responses",
    ]
    assert request_shape("/v1beta/models/up-gemini:streamGenerateContent") == Shape.GEMINI_REQUEST
    assert request_shape("/v1/models/gemini-2.5-pro:generateContent") == Shape.GEMINI_REQUEST
    assert request_shape("/v1beta/models/up-gemini:countTokens") == Shape.GEMINI_COUNT_REQUEST
