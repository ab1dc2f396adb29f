"""A Messages answer and its Messages stream convert into each other exactly (router/answers/messages.py)."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from router.answers.messages import MAX_BLOCKS, MessageAssembler, replay_message
from router.wire.sse import named_event, read_event

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)

# Everything a Messages answer may hold that chat cannot carry: a stop sequence, server tool
# blocks and their results, citations, redacted thinking, a tool called without input.
ANSWER: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [
        {"type": "thinking", "thinking": "Search first.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "tides"}},
        {
            "type": "web_search_tool_result",
            "tool_use_id": "srvtoolu_1",
            "content": [
                {
                    "type": "web_search_result",
                    "url": "https://tides.test",
                    "title": "Tides",
                    "encrypted_content": "e",
                    "page_age": None,
                }
            ],
        },
        {
            "type": "text",
            "text": "High tide is at noon.",
            "citations": [
                {
                    "type": "web_search_result_location",
                    "url": "https://tides.test",
                    "title": "Tides",
                    "encrypted_index": "i",
                    "cited_text": "noon",
                }
            ],
        },
        {"type": "tool_use", "id": "toolu_1", "name": "ping", "input": {}},
        {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Brest", "days": [1, 2]}},
        {"type": "text", "text": "Counting one two", "citations": None},
    ],
    "stop_reason": "stop_sequence",
    "stop_sequence": "THREE",
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 3,
        "cache_read_input_tokens": 700,
        "output_tokens": 45,
        "server_tool_use": {"web_search_requests": 1, "web_fetch_requests": 0},
        "service_tier": "standard",
    },
}


def sdk_message(events: list[bytes]) -> dict[str, Any]:
    """What the anthropic SDK's own accumulator makes of the events (each must parse; its
    stream skips pings), without its nulls."""
    snapshot = None
    for event in events:
        name, payload = read_event(event)
        assert name == payload["type"]
        if name == "ping":
            continue
        snapshot = accumulate_event(event=STREAM_EVENT.validate_python(payload), current_snapshot=snapshot)
    assert snapshot is not None
    dumped: dict[str, Any] = Message.model_validate(snapshot.to_dict()).to_dict(exclude_none=True)
    return dumped


def assembled(events: list[bytes], **bounds: Any) -> bytes | None:
    assembler = MessageAssembler(**bounds)
    for event in events:
        assembler.feed(event)
    return assembler.answer()


def test_a_replayed_answer_accumulates_back_to_itself_in_the_sdk_and_in_the_assembler() -> None:
    events = replay_message(orjson.dumps(ANSWER))
    assert [read_event(event)[0] for event in (events[0], events[-2], events[-1])] == [
        "message_start",
        "message_delta",
        "message_stop",
    ]
    assert sdk_message(events) == Message.model_validate(ANSWER).to_dict(exclude_none=True)
    answer = assembled(events)
    assert answer is not None and orjson.loads(answer) == ANSWER


def test_a_tool_called_without_input_streams_one_empty_piece_as_anthropic_does() -> None:
    events = replay_message(orjson.dumps(ANSWER))
    deltas = [read_event(event)[1] for event in events if read_event(event)[0] == "content_block_delta"]
    assert {
        "type": "content_block_delta",
        "index": 5,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    } in deltas


def anthropic_stream() -> list[bytes]:
    """Anthropic's own grammar, in small pieces, with pings and a usage that grows."""

    def ev(kind: str, **fields: Any) -> bytes:
        return named_event(kind, {"type": kind, **fields})

    start = {**ANSWER, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**ANSWER["usage"], "output_tokens": 1}
    text = ANSWER["content"][7]
    return [
        ev("message_start", message=start),
        ev("ping"),
        ev(
            "content_block_start",
            index=0,
            content_block={"type": "tool_use", "id": "t", "name": "f", "input": {}},
        ),
        ev("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": ""}),
        ev("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": '{"a": '}),
        ev("content_block_delta", index=0, delta={"type": "input_json_delta", "partial_json": "[1]}"}),
        ev("content_block_stop", index=0),
        ev("content_block_start", index=1, content_block={**text, "text": ""}),
        ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "Counting "}),
        ev("content_block_delta", index=1, delta={"type": "text_delta", "text": "one two"}),
        ev("content_block_stop", index=1),
        ev(
            "message_delta",
            delta={"stop_reason": "stop_sequence", "stop_sequence": "THREE"},
            usage={"output_tokens": 45},
        ),
        ev("message_stop"),
    ]


def test_an_anthropic_stream_assembles_to_what_the_sdk_accumulates() -> None:
    events = anthropic_stream()
    answer = assembled(events)
    assert answer is not None
    whole = orjson.loads(answer)
    assert Message.model_validate(whole).to_dict(exclude_none=True) == sdk_message(events)
    assert whole["content"][0]["input"] == {"a": [1]} and whole["usage"] == ANSWER["usage"]
    assert (whole["stop_reason"], whole["stop_sequence"]) == ("stop_sequence", "THREE")


def test_a_stream_that_did_not_end_is_not_an_answer() -> None:
    assert assembled(anthropic_stream()[:-1]) is None


MALFORMED = {
    "a block out of order": named_event(
        "content_block_start", {"type": "content_block_start", "index": 5, "content_block": {"type": "text"}}
    ),
    "a delta of no block": named_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 9, "delta": {"type": "text_delta", "text": "x"}},
    ),
    "a delta without its fields": named_event(
        "content_block_delta",
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta"}},
    ),
    "a second message_start": anthropic_stream()[0],
}


@pytest.mark.parametrize("event", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_stream_is_dropped_with_one_warning_and_never_raises(
    event: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    events = anthropic_stream()
    with caplog.at_level(logging.WARNING, logger="raceway.answers"):
        assert assembled([*events[:3], event, *events[3:]]) is None
    assert len(caplog.records) == 1 and "not kept" in caplog.records[0].getMessage()


def test_a_tool_input_that_is_not_an_object_is_dropped() -> None:
    events = [e.replace(b'"partial_json":"[1]}"', b'"partial_json":"[1]"') for e in anthropic_stream()]
    events = [e.replace(b'"partial_json":"{\\"a\\": "', b'"partial_json":""') for e in events]
    assert assembled(events) is None


def test_the_assembly_is_bounded_in_bytes_and_blocks() -> None:
    events = anthropic_stream()
    size = sum(len(event) for event in events)
    assert assembled(events, max_bytes=size) is not None
    assert assembled(events, max_bytes=size - 1) is None
    many = {**ANSWER, "content": [{"type": "text", "text": "x"}] * (MAX_BLOCKS + 1)}
    assert assembled(replay_message(orjson.dumps(many))) is None
    enough = {**ANSWER, "content": [{"type": "text", "text": "x"}] * MAX_BLOCKS}
    assert assembled(replay_message(orjson.dumps(enough))) is not None
