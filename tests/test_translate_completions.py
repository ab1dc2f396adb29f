"""Legacy Completions -> chat translation (router/dialects/translate/completions_chat.py).

Well-formedness is proved with the openai SDK's ``Completion`` type.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.types import Completion

from router.dialects.translate.anthropic import chat_request_to_messages
from router.dialects.translate.completions_chat import (
    ChatEventsToCompletions,
    chat_answer_to_completions,
    completions_request_to_chat,
)
from router.errors import InvalidRequest
from router.wire.sse import DONE_EVENT, data_event, read_event

LOGPROBS = {
    "content": [
        {
            "token": "Hel",
            "logprob": -0.1,
            "bytes": [72, 101, 108],
            "top_logprobs": [
                {"token": "Hel", "logprob": -0.1, "bytes": None},
                {"token": "Hi", "logprob": -2.5, "bytes": None},
            ],
        },
        {
            "token": "lo",
            "logprob": -0.2,
            "bytes": [108, 111],
            "top_logprobs": [{"token": "lo", "logprob": -0.2, "bytes": None}],
        },
    ]
}

USAGE = {
    "prompt_tokens": 5,
    "completion_tokens": 2,
    "total_tokens": 7,
    "prompt_tokens_details": {"cached_tokens": 0},
}


def chat_answer(content: str = "Hello", finish: str = "stop", logprobs: Any = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-42",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "m",
        "system_fingerprint": "fp",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
                "logprobs": logprobs,
            }
        ],
        "usage": USAGE,
    }


def chat_chunks(deltas: list[dict[str, Any]], finish: str = "stop") -> list[bytes]:
    head = {"id": "chatcmpl-42", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": "m"}
    chunks = [
        data_event({**head, "choices": [{"index": 0, **delta, "finish_reason": None}]}) for delta in deltas
    ]
    chunks.append(data_event({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]}))
    chunks.append(data_event({**head, "choices": [], "usage": USAGE}))
    return [*chunks, DONE_EVENT]


def run(events: list[bytes]) -> list[bytes]:
    translator = ChatEventsToCompletions()
    out: list[bytes] = []
    for event in events:
        out += translator.feed(event)
    return out


def validate_chunk(chunk: dict[str, Any]) -> Completion:
    """A streamed chunk parsed as the SDK's Completion. Mid-stream chunks carry
    ``finish_reason: null`` as OpenAI's own do; the SDK's type (used unvalidated for streams)
    does not allow it, so it is filled for the check only."""
    choices = [{**choice, "finish_reason": choice["finish_reason"] or "stop"} for choice in chunk["choices"]]
    return Completion.model_validate({**chunk, "choices": choices})


# --- requests ----------------------------------------------------------------------------------


def test_a_prompt_becomes_one_user_message_with_the_legacy_default_max_tokens() -> None:
    assert completions_request_to_chat({"model": "m", "prompt": "Say hi"}) == {
        "model": "m",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_tokens": 16,
    }


def test_a_list_of_one_prompt_is_that_prompt() -> None:
    chat = completions_request_to_chat({"model": "m", "prompt": ["Say hi"], "max_tokens": 100})
    assert chat["messages"] == [{"role": "user", "content": "Say hi"}]
    assert chat["max_tokens"] == 100


@pytest.mark.parametrize("prompt", ["", [""]])
def test_an_empty_prompt_is_an_empty_user_message(prompt: Any) -> None:
    """OpenAI's specification allows it; only Anthropic, past chat, cannot take an empty turn."""
    chat = completions_request_to_chat({"model": "m", "prompt": prompt})
    assert chat["messages"] == [{"role": "user", "content": ""}]
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages(chat)
    assert refused.value.param == "messages" and "nothing to send" in refused.value.message


def test_sampling_fields_cross_and_logprobs_becomes_top_logprobs() -> None:
    body = {
        "model": "m",
        "prompt": "p",
        "max_tokens": 8,
        "temperature": 0.3,
        "top_p": 0.8,
        "n": 2,
        "stop": ["\n"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "seed": 7,
        "user": "u",
        "logit_bias": {"50256": -100},
        "logprobs": 3,
        "stream": True,
        "stream_options": {"include_usage": False},
        "best_of": 1,
        "echo": False,
        "suffix": None,
    }
    assert completions_request_to_chat(body) == {
        "model": "m",
        "messages": [{"role": "user", "content": "p"}],
        "max_tokens": 8,
        "temperature": 0.3,
        "top_p": 0.8,
        "n": 2,
        "stop": ["\n"],
        "presence_penalty": 0.1,
        "frequency_penalty": 0.2,
        "seed": 7,
        "user": "u",
        "logit_bias": {"50256": -100},
        "logprobs": True,
        "top_logprobs": 3,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt", ["a", "b"]),
        ("prompt", [1, 2, 3]),
        ("prompt", [[1, 2]]),
        ("prompt", None),
        ("suffix", "end"),
        ("echo", True),
        ("best_of", 3),
    ],
)
def test_what_chat_cannot_express_is_refused(field: str, value: Any) -> None:
    body = {"model": "m", "prompt": "p", field: value}
    with pytest.raises(InvalidRequest) as refused:
        completions_request_to_chat(body)
    assert refused.value.param == field


# --- answers -----------------------------------------------------------------------------------


def test_a_chat_answer_becomes_a_valid_text_completion() -> None:
    completion = chat_answer_to_completions(chat_answer())
    Completion.model_validate(completion)
    assert completion == {
        "id": "cmpl-42",
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": "m",
        "system_fingerprint": "fp",
        "choices": [{"text": "Hello", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        "usage": USAGE,
    }


def test_chat_logprobs_take_the_legacy_shape() -> None:
    completion = chat_answer_to_completions(chat_answer(logprobs=LOGPROBS))
    Completion.model_validate(completion)
    assert completion["choices"][0]["logprobs"] == {
        "tokens": ["Hel", "lo"],
        "token_logprobs": [-0.1, -0.2],
        "top_logprobs": [{"Hel": -0.1, "Hi": -2.5}, {"lo": -0.2}],
        "text_offset": [0, 3],
    }


@pytest.mark.parametrize(
    ("chat", "legacy"), [("length", "length"), ("content_filter", "content_filter"), ("tool_calls", "stop")]
)
def test_finish_reasons_map_to_the_legacy_set(chat: str, legacy: str) -> None:
    completion = chat_answer_to_completions(chat_answer(finish=chat))
    Completion.model_validate(completion)
    assert completion["choices"][0]["finish_reason"] == legacy


def test_an_odd_chat_answer_still_makes_a_valid_completion() -> None:
    Completion.model_validate(chat_answer_to_completions({}))
    Completion.model_validate(
        chat_answer_to_completions({"id": 3, "choices": [None, {"message": {"content": None}}]})
    )


# --- streams -----------------------------------------------------------------------------------


def test_a_chat_stream_becomes_text_completion_chunks_ending_with_usage_and_done() -> None:
    events = chat_chunks(
        [
            {"delta": {"role": "assistant", "content": ""}},
            {"delta": {"reasoning_content": "hm"}},
            {"delta": {"content": "Hel"}},
            {"delta": {"content": "lo"}},
        ]
    )
    out = run(events)
    assert out[-1] == DONE_EVENT
    chunks = [read_event(event)[1] for event in out[:-1]]
    for chunk in chunks:
        validate_chunk(chunk)
        assert chunk["object"] == "text_completion" and chunk["id"] == "cmpl-42"
    assert [c["choices"] for c in chunks] == [
        [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "lo", "index": 0, "logprobs": None, "finish_reason": None}],
        [{"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}],
        [],
    ]
    assert chunks[-1]["usage"] == USAGE


def test_the_streamed_text_equals_the_whole_translation() -> None:
    answer = chat_answer(content="Hello, world", finish="length")
    deltas = [{"delta": {"content": piece}} for piece in ("Hel", "lo, ", "world")]
    chunks = [read_event(event)[1] for event in run(chat_chunks(deltas, finish="length"))[:-1]]
    texts = "".join(choice["text"] for chunk in chunks for choice in chunk["choices"])
    whole = Completion.model_validate(chat_answer_to_completions(answer))
    assert texts == whole.choices[0].text
    assert [c["finish_reason"] for chunk in chunks for c in chunk["choices"] if c["finish_reason"]] == [
        "length"
    ]
    assert Completion.model_validate(chunks[-1]).usage == whole.usage


def test_streamed_logprobs_continue_their_text_offsets() -> None:
    first = {"content": LOGPROBS["content"][:1]}
    second = {"content": LOGPROBS["content"][1:]}
    deltas = [
        {"delta": {"content": "Hel"}, "logprobs": first},
        {"delta": {"content": "lo"}, "logprobs": second},
    ]
    chunks = [read_event(event)[1] for event in run(chat_chunks(deltas))[:-1]]
    assert [c["choices"][0]["logprobs"]["text_offset"] for c in chunks[:2]] == [[0], [3]]
    validate_chunk(chunks[0])


def test_an_error_event_passes_and_ends_the_stream() -> None:
    translator = ChatEventsToCompletions()
    events = chat_chunks([{"delta": {"content": "Hel"}}])
    out = translator.feed(events[0])
    error = {"error": {"message": "overloaded", "type": "upstream_error", "code": "502", "param": None}}
    out += translator.feed(data_event(error))
    assert read_event(out[-1])[1] == error
    assert [translator.feed(event) for event in events[1:]] == [[], [], []]


def test_comments_are_dropped() -> None:
    assert ChatEventsToCompletions().feed(b": ping\n\n") == []


def test_the_translated_request_is_what_the_sdk_would_send() -> None:
    from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
    from pydantic import TypeAdapter

    body = {
        "model": "m",
        "prompt": "p",
        "logprobs": 2,
        "stream": True,
        "stop": "x",
        "n": 2,
        "logit_bias": {"1": 2},
    }
    TypeAdapter(CompletionCreateParamsStreaming).validate_python(completions_request_to_chat(body))


def test_odd_stream_events_do_not_crash() -> None:
    events = [
        data_event([1]),
        data_event(
            {"choices": [None, {"index": "x", "delta": {"content": 3}, "finish_reason": "tool_calls"}]}
        ),
        data_event(
            {"choices": "x", "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}}
        ),
        DONE_EVENT,
    ]
    out = run(events)
    assert out[-1] == DONE_EVENT
    for event in out[:-1]:
        validate_chunk(read_event(event)[1])
