"""A legacy ``text_completion`` and its stream form convert into each other without losing anything,
and a stream that cannot be assembled is dropped, never raised."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from openai.types import Completion

from router.answers.assembling import MAX_CHOICES
from router.answers.completions import CompletionAssembler, replay_completion
from router.dialects.translate.completions_chat import ChatEventsToCompletions
from router.wire.sse import DONE_EVENT, event_json
from tests.oracles import DIALECTS, violations

ANSWER: dict[str, Any] = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1700000000,
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_1",
    "choices": [
        {
            "text": "Hello there",
            "index": 0,
            "logprobs": {
                "tokens": ["Hello", " there"],
                "token_logprobs": [-0.1, -0.2],
                "top_logprobs": [{"Hello": -0.1}, {" there": -0.2}],
                "text_offset": [0, 5],
            },
            "finish_reason": "stop",
        },
        {"text": "Hi", "index": 1, "logprobs": None, "finish_reason": "length"},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
}


def assemble(events: list[bytes]) -> dict[str, Any]:
    assembler = CompletionAssembler(max_bytes=1 << 20)
    for event in events:
        assembler.feed(event)
    answer = assembler.answer()
    assert answer is not None
    parsed: dict[str, Any] = orjson.loads(answer)
    return parsed


def test_a_replayed_completion_is_a_proper_stream() -> None:
    events = replay_completion(orjson.dumps(ANSWER), include_usage=True)
    assert events[-1] == DONE_EVENT
    payloads = [event_json(event) for event in events[:-1]]
    stream = DIALECTS["completions"]
    assert [line for data in payloads for line in violations(stream.shape_of_event(data), data)] == []
    chunks = [Completion.construct(**data) for data in payloads]  # as the openai SDK reads a stream
    assert {chunk.object for chunk in chunks} == {"text_completion"}
    assert (
        "".join(c.choices[0].text for c in chunks if c.choices and c.choices[0].index == 0) == "Hello there"
    )
    assert [c.choices[0].finish_reason for c in chunks if c.choices] == [None, "stop", None, "length"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8


def test_usage_only_when_asked() -> None:
    events = replay_completion(orjson.dumps(ANSWER), include_usage=False)
    assert not any(b'"usage"' in event for event in events)


def test_replay_then_assembly_gives_the_answer_back() -> None:
    assert assemble(replay_completion(orjson.dumps(ANSWER), include_usage=True)) == ANSWER


def test_a_translated_chat_stream_assembles_to_the_completion_its_pieces_make() -> None:
    """What the gateway streams to a completions client (chat's chunks, translated), in pieces."""

    def chat_chunk(delta: dict[str, Any], finish: str | None = None, logprobs: Any = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": logprobs}
        payload = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        return b"data: " + orjson.dumps({**payload, "choices": [choice]}) + b"\n\n"

    def token(text: str, logprob: float) -> dict[str, Any]:
        return {"content": [{"token": text, "logprob": logprob, "bytes": None, "top_logprobs": []}]}

    usage = {"prompt_tokens": 2, "completion_tokens": 2, "total_tokens": 4}
    chat = [
        chat_chunk({"role": "assistant", "content": ""}),
        chat_chunk({"content": "one"}, logprobs=token("one", -1.0)),
        chat_chunk({"content": " two"}, logprobs=token(" two", -2.0)),
        chat_chunk({}, "stop"),
        b"data: "
        + orjson.dumps({"id": "chatcmpl-7", "created": 1, "model": "m", "choices": [], "usage": usage})
        + b"\n\n",
        DONE_EVENT,
    ]
    translator = ChatEventsToCompletions()
    answer = assemble([out for event in chat for out in translator.feed(event)])
    assert answer == {
        "id": "cmpl-7",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "text": "one two",
                "index": 0,
                "logprobs": {
                    "tokens": ["one", " two"],
                    "token_logprobs": [-1.0, -2.0],
                    "top_logprobs": [{}, {}],
                    "text_offset": [0, 3],
                },
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
    }


def choice_chunk(index: Any, text: str = "x") -> bytes:
    choice = {"text": text, "index": index, "logprobs": None, "finish_reason": None}
    return (
        b"data: " + orjson.dumps({"id": "cmpl-1", "object": "text_completion", "choices": [choice]}) + b"\n\n"
    )


UNASSEMBLABLE = {
    "negative index": [choice_chunk(-1)],
    "index not an integer": [choice_chunk("0")],
    "too many choices": [choice_chunk(index) for index in range(MAX_CHOICES + 1)],
    "past its byte bound": [choice_chunk(0, "x" * 2048)],
}


@pytest.mark.parametrize("events", UNASSEMBLABLE.values(), ids=UNASSEMBLABLE.keys())
def test_a_stream_that_cannot_be_assembled_is_dropped_with_one_warning(
    events: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    assembler = CompletionAssembler(max_bytes=1024)
    with caplog.at_level(logging.WARNING, logger="raceway.answers"):
        for event in [choice_chunk(0), *events, choice_chunk(0), DONE_EVENT]:
            assembler.feed(event)
    assert assembler.dropped and assembler.answer() is None
    assert len(caplog.records) == 1 and "not kept" in caplog.records[0].getMessage()


def test_a_stream_without_choices_assembles_to_nothing() -> None:
    assembler = CompletionAssembler(max_bytes=1024)
    for event in (b": keep-alive\n\n", b'data: {"choices": []}\n\n', DONE_EVENT):
        assembler.feed(event)
    assert not assembler.dropped and assembler.answer() is None
