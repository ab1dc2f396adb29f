"""A complete answer and its stream form convert into each other without losing anything."""

from __future__ import annotations

import logging
import tracemalloc
from typing import Any

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk, ParsedChatCompletion

from router.answers.assembling import MAX_CHOICES
from router.answers.replay import MAX_TOOL_CALLS, StreamAssembler, replay
from router.wire.sse import DONE_EVENT, event_json, has_content, is_done

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
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}  # the role first, as upstreams send it
    assert has_content(chunks[1])
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


def event_of(*choices: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps({"object": "chat.completion.chunk", "choices": list(choices)}) + b"\n\n"


def tool_chunk(*indices: Any) -> bytes:
    calls = [{"index": index, "function": {"arguments": "x"}} for index in indices]
    return event_of({"index": 0, "delta": {"tool_calls": calls}})


HELLO = event_of({"index": 0, "delta": {"role": "assistant", "content": "Hello"}})
UNASSEMBLABLE = {
    "huge tool call index": [HELLO, tool_chunk(1_000_000_000)],
    "a tool call index that skips": [HELLO, tool_chunk(0, 2)],
    "negative tool call index": [HELLO, tool_chunk(-1)],
    "float tool call index": [HELLO, tool_chunk(0.0)],
    "string tool call index": [HELLO, tool_chunk("0")],
    "boolean tool call index": [HELLO, tool_chunk(False)],
    "too many tool calls": [HELLO, tool_chunk(*range(MAX_TOOL_CALLS + 1))],
    "unhashable choice index": [HELLO, event_of({"index": [0], "delta": {"content": "x"}})],
    "negative choice index": [HELLO, event_of({"index": -1, "delta": {"content": "x"}})],
    "too many choices": [
        event_of(*({"index": i, "delta": {"content": "x"}} for i in range(MAX_CHOICES + 1)))
    ],
    # a field a text first, then pieces: merging them fails inside the assembler
    "a function call that changes shape": [
        event_of({"index": 0, "delta": {"function_call": "f"}}),
        event_of({"index": 0, "delta": {"function_call": {"name": "f"}}}),
    ],
    "tool calls that are not a list": [HELLO, event_of({"index": 0, "delta": {"tool_calls": 5}})],
}


@pytest.mark.parametrize("events", UNASSEMBLABLE.values(), ids=UNASSEMBLABLE.keys())
def test_a_stream_that_cannot_be_assembled_is_dropped_with_one_warning_and_never_raises(
    events: list[bytes], caplog: pytest.LogCaptureFixture
) -> None:
    assembler = StreamAssembler()
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="raceway.answers"):
            for event in [*events, *events, HELLO, DONE_EVENT]:
                assembler.feed(event)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Bounded work: nothing grows with what an event claims (a list padded up to a tool call
    # index of a billion would take gigabytes); what is fed here takes under 130 KB.
    assert peak < 1024 * 1024
    assert assembler.dropped and assembler.answer() is None
    assert [record.levelname for record in caplog.records] == ["WARNING"]


def test_a_tool_call_without_an_index_is_the_next_one_and_the_largest_allowed_count_assembles() -> None:
    calls = [{"index": i, "id": f"call_{i}", "function": {"name": "f", "arguments": "{}"}} for i in range(4)]
    events = [event_of({"index": 0, "delta": {"tool_calls": [call]}}) for call in calls]
    events.append(
        event_of({"index": 0, "delta": {"tool_calls": [{"id": "call_4", "function": {"name": "g"}}]}})
    )
    events.append(tool_chunk(*range(MAX_TOOL_CALLS)))
    (choice,) = assemble(events)["choices"]
    assert len(choice["message"]["tool_calls"]) == MAX_TOOL_CALLS
    assert choice["message"]["tool_calls"][4]["id"] == "call_4"


def test_a_stream_past_its_byte_bound_is_not_assembled() -> None:
    events = [HELLO] * 10 + [DONE_EVENT]
    assembler = StreamAssembler(max_bytes=len(HELLO) * 10 + len(DONE_EVENT))
    for event in events:
        assembler.feed(event)
    assert not assembler.dropped and assembler.answer() is not None
    smaller = StreamAssembler(max_bytes=len(HELLO) * 10 - 1)
    for event in events:
        smaller.feed(event)
    assert smaller.dropped and smaller.answer() is None


def token(text: str, logprob: float) -> dict[str, Any]:
    """One token's logprob entry, with its alternatives, as OpenAI sends it."""
    alternative = {"token": text.upper(), "logprob": logprob - 1.5, "bytes": list(text.upper().encode())}
    return {
        "token": text,
        "logprob": logprob,
        "bytes": list(text.encode()),
        "top_logprobs": [{"token": text, "logprob": logprob, "bytes": list(text.encode())}, alternative],
    }


USAGE_WITH_DETAILS: dict[str, Any] = {
    "prompt_tokens": 19,
    "completion_tokens": 10,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
# n=2, logprobs requested: one choice answers (content logprobs), the other refuses (refusal logprobs).
FULL_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-full",
    "object": "chat.completion",
    "created": 1700000002,
    "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_full",
    "service_tier": "default",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi there", "refusal": None},
            "logprobs": {"content": [token("Hi", -0.01), token(" there", -0.2)], "refusal": None},
            "finish_reason": "stop",
        },
        {
            "index": 1,
            "message": {"role": "assistant", "content": None, "refusal": "I can't"},
            "logprobs": {"content": None, "refusal": [token("I", -0.3), token(" can't", -0.4)]},
            "finish_reason": "stop",
        },
    ],
    "usage": USAGE_WITH_DETAILS,
}
PARALLEL_TOOLS_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-tools",
    "object": "chat.completion",
    "created": 1700000003,
    "model": "gpt-4o-2024-08-06",
    "system_fingerprint": "fp_tools",
    "service_tier": "default",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "refusal": None,
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}},
                    {"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": USAGE_WITH_DETAILS,
}


def chunk(answer: dict[str, Any], choices: list[dict[str, Any]], **extra: Any) -> bytes:
    """A chunk of ``answer``'s upstream stream, with the envelope OpenAI repeats in every one."""
    envelope = ("id", "created", "model", "service_tier", "system_fingerprint")
    payload = {
        **{name: answer[name] for name in envelope},
        "object": "chat.completion.chunk",
        "choices": choices,
        "usage": None,
        "obfuscation": "x1y2",
        **extra,
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def piece(
    index: int, delta: dict[str, Any], logprobs: Any = None, finish: str | None = None
) -> dict[str, Any]:
    return {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}


# FULL_ANSWER as OpenAI streams it: token by token, the two choices interleaved, usage last.
FULL_STREAM = [
    chunk(FULL_ANSWER, [piece(0, {"role": "assistant", "content": "", "refusal": None})]),
    chunk(FULL_ANSWER, [piece(1, {"role": "assistant", "content": None, "refusal": ""})]),
    chunk(FULL_ANSWER, [piece(0, {"content": "Hi"}, {"content": [token("Hi", -0.01)], "refusal": None})]),
    chunk(FULL_ANSWER, [piece(1, {"refusal": "I"}, {"content": None, "refusal": [token("I", -0.3)]})]),
    chunk(
        FULL_ANSWER, [piece(0, {"content": " there"}, {"content": [token(" there", -0.2)], "refusal": None})]
    ),
    chunk(
        FULL_ANSWER, [piece(1, {"refusal": " can't"}, {"content": None, "refusal": [token(" can't", -0.4)]})]
    ),
    chunk(FULL_ANSWER, [piece(0, {}, finish="stop")]),
    chunk(FULL_ANSWER, [piece(1, {}, finish="stop")]),
    chunk(FULL_ANSWER, [], usage=USAGE_WITH_DETAILS),
    DONE_EVENT,
]
# Two tool calls at once (parallel_tool_calls), their arguments arriving in pieces.
PARALLEL_TOOLS_STREAM = [
    chunk(PARALLEL_TOOLS_ANSWER, [piece(0, {"role": "assistant", "content": None, "refusal": None})]),
    chunk(
        PARALLEL_TOOLS_ANSWER,
        [
            piece(
                0,
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                },
            )
        ],
    ),
    chunk(
        PARALLEL_TOOLS_ANSWER, [piece(0, {"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]})]
    ),
    chunk(
        PARALLEL_TOOLS_ANSWER, [piece(0, {"tool_calls": [{"index": 0, "function": {"arguments": " 1}"}}]})]
    ),
    chunk(
        PARALLEL_TOOLS_ANSWER,
        [
            piece(
                0,
                {
                    "tool_calls": [
                        {
                            "index": 1,
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "g", "arguments": ""},
                        }
                    ]
                },
            )
        ],
    ),
    chunk(PARALLEL_TOOLS_ANSWER, [piece(0, {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]})]),
    chunk(PARALLEL_TOOLS_ANSWER, [piece(0, {}, finish="tool_calls")]),
    chunk(PARALLEL_TOOLS_ANSWER, [], usage=USAGE_WITH_DETAILS),
    DONE_EVENT,
]


def sdk_completion(events: list[bytes]) -> dict[str, Any]:
    """What the openai SDK makes of a stream: its own accumulation of the chunks it parses."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for event in events:
        if not is_done(event):
            state.handle_chunk(ChatCompletionChunk.model_validate(event_json(event)))
    dumped: dict[str, Any] = state.get_final_completion().model_dump(exclude_none=True)
    dumped.pop("obfuscation", None)  # the SDK keeps the first chunk's padding
    for choice in dumped["choices"]:
        for call in choice["message"].get("tool_calls", ()):
            del call["index"]  # and the stream's position of each tool call
    return dumped


def sdk_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """What the openai SDK makes of a JSON answer, in the shape of its stream accumulation."""
    dumped: dict[str, Any] = ParsedChatCompletion[None].model_validate(answer).model_dump(exclude_none=True)
    return dumped


@pytest.mark.parametrize(
    "answer", [FULL_ANSWER, PARALLEL_TOOLS_ANSWER], ids=["logprobs-n2", "parallel-tools"]
)
def test_every_field_of_an_answer_survives_the_round_trip_through_a_stream(answer: dict[str, Any]) -> None:
    events = replay(orjson.dumps(answer), include_usage=True)
    assert assemble(events) == answer
    assert sdk_completion(events) == sdk_answer(answer)


@pytest.mark.parametrize(
    ("stream", "answer"),
    [(FULL_STREAM, FULL_ANSWER), (PARALLEL_TOOLS_STREAM, PARALLEL_TOOLS_ANSWER)],
    ids=["logprobs-n2", "parallel-tools"],
)
def test_every_field_of_a_stream_survives_the_round_trip_through_an_answer(
    stream: list[bytes], answer: dict[str, Any]
) -> None:
    assembled = assemble(stream)
    assert assembled == answer
    replayed = replay(orjson.dumps(assembled), include_usage=True)
    assert sdk_completion(replayed) == sdk_completion(stream)


def test_provider_extras_travel_both_ways() -> None:
    answer = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "deepseek-reasoner",
        "kv_transfer_params": None,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "42",
                    "reasoning_content": "Six times seven.",
                    "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x.test"}}],
                },
                "finish_reason": "stop",
                "stop_reason": None,
            }
        ],
    }
    assert assemble(replay(orjson.dumps(answer), include_usage=False)) == answer
