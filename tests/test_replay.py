"""A complete answer and its stream form convert into each other without losing anything."""

from __future__ import annotations

from typing import Any

import orjson

from router.answers.replay import StreamAssembler, replay
from router.sse import DONE_EVENT, event_json, has_content

TEXT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_1",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello there"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "length"},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}
TOOL_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-2",
    "object": "chat.completion",
    "created": 1700000001,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}


def assemble(events: list[bytes]) -> dict[str, Any]:
    assembler = StreamAssembler()
    for event in events:
        assembler.feed(event)
    answer = assembler.answer()
    assert answer is not None
    parsed: dict[str, Any] = orjson.loads(answer)
    return parsed


def test_a_replayed_answer_is_a_proper_stream() -> None:
    events = replay(orjson.dumps(TEXT_ANSWER), include_usage=True)
    assert events[-1] == DONE_EVENT
    chunks = [event_json(event) for event in events[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" and chunk["id"] == "chatcmpl-1" for chunk in chunks)
    assert has_content(chunks[0])
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 8


def test_usage_only_when_asked() -> None:
    events = replay(orjson.dumps(TEXT_ANSWER), include_usage=False)
    assert not any(b'"usage"' in event for event in events)


def test_replay_then_assembly_gives_the_answer_back() -> None:
    assert assemble(replay(orjson.dumps(TEXT_ANSWER), include_usage=True)) == TEXT_ANSWER
    assert assemble(replay(orjson.dumps(TOOL_ANSWER), include_usage=False)) == TOOL_ANSWER


def test_assembly_of_a_stream_in_small_pieces() -> None:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        payload = {
            "id": "c",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    events = [
        b": keep-alive\n\n",
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": ""},
                    }
                ]
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"q":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "x"}'}}]}),
        chunk({}, finish="tool_calls"),
        DONE_EVENT,
    ]
    (choice,) = assemble(events)["choices"]
    assert choice["message"]["content"] == "Hello"
    assert choice["message"]["tool_calls"] == [
        {"id": "call_9", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ]
    assert choice["finish_reason"] == "tool_calls"


def test_a_stream_without_choices_assembles_to_nothing() -> None:
    assembler = StreamAssembler()
    assembler.feed(DONE_EVENT)
    assert assembler.answer() is None
