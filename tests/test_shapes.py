"""The types an upstream answer must have to be translated (router/dialects/shapes/).

Whatever a conforming upstream sends passes: the scripted upstream's answers and streams on
every wire, what the translators themselves make, and answers with the fields real providers
add; a wrong type where a translator reads is named, with its path.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from router.dialects.bridge import translate_answer
from router.dialects.shapes import answer_fault, event_fault
from router.wire.dialect import Dialect
from router.wire.sse import read_event
from tests.upstream_wires import Answer, ChatWire, GeminiWire, MessagesWire, ResponsesWire, Wire

WIRES: dict[Dialect, Wire] = {
    Dialect.CHAT: ChatWire(),
    Dialect.MESSAGES: MessagesWire(),
    Dialect.RESPONSES: ResponsesWire(),
    Dialect.GEMINI: GeminiWire(),
}
ANSWERS = [
    Answer(model="m", reply="the answer is 42", cache_read=7, cache_write=3, number=1),
    Answer(
        model="m", reply="", tool_calls=(("get_time", "{}"), ("get_weather", '{"city": "Paris"}')), number=2
    ),
    Answer(model="m", reply="done", reasoning="step by step", number=3),
    Answer(model="m", reply="one two", stop_sequence="THREE", number=4),
]


@pytest.mark.parametrize("wire", list(WIRES), ids=lambda wire: wire.value)
@pytest.mark.parametrize("answer", ANSWERS, ids=["text", "tools", "reasoning", "stop-sequence"])
def test_what_a_conforming_upstream_sends_passes(wire: Dialect, answer: Answer) -> None:
    body = {"stream": True, "stream_options": {"include_usage": True}}
    assert answer_fault(wire, WIRES[wire].answer(answer, body)) is None
    stream = WIRES[wire].stream(answer, body)
    events = [*stream.head, *(event for chunk in stream.chunks for event in chunk), *stream.tail, *stream.end]
    for number, event in enumerate(events):
        payload = read_event(WIRES[wire].encode(event, number))[1]
        assert event_fault(wire, payload) is None, event


@pytest.mark.parametrize("source", list(WIRES), ids=lambda wire: wire.value)
def test_what_the_translators_make_passes_in_its_own_dialect(source: Dialect) -> None:
    for answer in ANSWERS:
        document = WIRES[source].answer(answer, {})
        for target in WIRES:
            translated = translate_answer(orjson.loads(orjson.dumps(document)), source, target)
            assert answer_fault(target, translated) is None, (source, target)


def test_the_fields_real_providers_add_pass() -> None:
    chat = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "system_fingerprint": "fp",
        "service_tier": "default",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "annotations": [],
                    "audio": None,
                    "function_call": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                    ],
                },
                "logprobs": None,
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 9,
            "completion_tokens": 3,
            "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
    }
    assert answer_fault(Dialect.CHAT, chat) is None
    magistral = {
        **chat,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": [{"type": "text", "text": "x"}]}}
        ],
    }
    assert answer_fault(Dialect.CHAT, magistral) is None
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": "x", "citations": None},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 1,
            "cache_creation": {"ephemeral_5m_input_tokens": 0},
            "service_tier": "standard",
        },
    }
    assert answer_fault(Dialect.MESSAGES, message) is None
    assert answer_fault(Dialect.MESSAGES, {**message, "content": []}) is None  # Anthropic's empty end_turn
    response = {
        "id": "resp_1",
        "object": "response",
        "created_at": 1.5,
        "status": "completed",
        "model": "gpt-5",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        "usage": None,
    }
    assert answer_fault(Dialect.RESPONSES, response) is None
    usage_chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [], "usage": {"prompt_tokens": 1}}
    assert event_fault(Dialect.CHAT, usage_chunk) is None
    piece = {
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "id": "", "function": {"name": "", "arguments": "}"}}]},
            }
        ]
    }
    assert event_fault(Dialect.CHAT, piece) is None
    assert event_fault(Dialect.CHAT, {"error": {"message": "later"}}) is None  # a failure, read elsewhere
    assert event_fault(Dialect.MESSAGES, None) is None  # a keep-alive, [DONE]


def chat_message(**message: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}]}


FAULTS = [
    (Dialect.CHAT, {"choices": []}, "choices holds no choice"),
    (Dialect.CHAT, {"choices": ["x"]}, "choices[0] must be an object"),
    (
        Dialect.CHAT,
        chat_message(content=[]),
        "choices[0].message.content must be a string, null or a list of typed parts",
    ),
    (
        Dialect.CHAT,
        chat_message(content=None, tool_calls=[{"id": None, "function": {"name": "f", "arguments": "{}"}}]),
        "choices[0].message.tool_calls[0].id must be a non-empty string",
    ),
    (
        Dialect.CHAT,
        chat_message(content=None, tool_calls=[{"id": "c", "function": {"name": "f", "arguments": {}}}]),
        "choices[0].message.tool_calls[0].function.arguments must be a string",
    ),
    (
        Dialect.CHAT,
        {**chat_message(content="x"), "usage": {"prompt_tokens": "5"}},
        "usage.prompt_tokens must be a whole number or null",
    ),
    (Dialect.MESSAGES, {"id": "msg_1", "content": [{"type": "text"}]}, "content[0].text is missing"),
    (Dialect.MESSAGES, {"id": "msg_1", "content": [{"text": "x"}]}, "content[0].type is missing"),
    (
        Dialect.MESSAGES,
        {"id": "msg_1", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": []}]},
        "content[0].input must be an object",
    ),
    (Dialect.MESSAGES, {"id": None, "content": []}, "id must be a non-empty string"),
    (
        Dialect.RESPONSES,
        {"id": "r", "output": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": None}]},
        "output[0].arguments must be a string",
    ),
    (
        Dialect.RESPONSES,
        {"id": "r", "output": [{"type": "message", "content": [{"type": "refusal", "refusal": 1}]}]},
        "output[0].content[0].refusal must be a string",
    ),
    (
        Dialect.RESPONSES,
        {"id": "r", "output": [{"type": "reasoning", "summary": [{"type": "summary_text"}]}]},
        "output[0].summary[0].text is missing",
    ),
    (
        Dialect.GEMINI,
        {"candidates": [{"content": {"parts": [{"functionCall": {"name": None, "args": {}}}]}}]},
        "candidates[0].content.parts[0].functionCall.name must be a non-empty string",
    ),
    (
        Dialect.GEMINI,
        {"candidates": [{"content": {"parts": [{"text": 42}]}}]},
        "candidates[0].content.parts[0].text must be a string or null",
    ),
    (
        Dialect.GEMINI,
        {"candidates": [], "usage_metadata": {"prompt_token_count": "7"}},
        "usageMetadata.prompt_token_count must be a whole number or null",
    ),
]


@pytest.mark.parametrize(("wire", "answer", "fault"), FAULTS)
def test_a_wrong_type_where_a_translator_reads_is_named(wire: Dialect, answer: Any, fault: str) -> None:
    assert answer_fault(wire, answer) == fault


EVENT_FAULTS = [
    (
        Dialect.CHAT,
        {"choices": [{"index": 0, "delta": {"content": ["x"]}}]},
        "choices[0].delta.content must be a string or null",
    ),
    (
        Dialect.CHAT,
        {"choices": [{"index": -1, "delta": {}}]},
        "choices[0].index must be a whole number from 0 or null",
    ),
    (
        Dialect.CHAT,
        {"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]},
        "choices[0].delta.tool_calls[0].index must be a whole number from 0 or null",
    ),
    (
        Dialect.MESSAGES,
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": None}},
        "delta.text must be a string",
    ),
    (
        Dialect.MESSAGES,
        {"type": "content_block_start", "index": None, "content_block": {"type": "text", "text": ""}},
        "index must be a whole number from 0",
    ),
    (
        Dialect.MESSAGES,
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"output_tokens": 1.5}}},
        "message.usage.output_tokens must be a whole number or null",
    ),
    (Dialect.RESPONSES, {"type": "response.output_text.delta", "delta": None}, "delta must be a string"),
    (
        Dialect.RESPONSES,
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "function_call", "call_id": "c", "name": None},
        },
        "item.name must be a non-empty string",
    ),
    (
        Dialect.RESPONSES,
        {"type": "response.completed", "response": {"id": "r", "usage": {"input_tokens": True}}},
        "response.usage.input_tokens must be a whole number or null",
    ),
    (Dialect.RESPONSES, ["not", "an", "event"], "the JSON must be an object"),
]


@pytest.mark.parametrize(("wire", "event", "fault"), EVENT_FAULTS)
def test_a_wrong_type_in_a_stream_event_is_named(wire: Dialect, event: Any, fault: str) -> None:
    assert event_fault(wire, event) == fault
