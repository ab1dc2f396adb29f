"""What Raceway reads of each dialect's answers and streams: answers, content, the last event,
usage, and errors in the client's own shape."""

from __future__ import annotations

import orjson
import pytest

from router.errors import ModelNotFound, UpstreamError, UpstreamRateLimited
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS, StreamFailure
from router.wire.sse import DONE_EVENT, data_event, named_event, read_event
from router.wire.usage import Usage

MESSAGES = FORMATS[Dialect.MESSAGES]
RESPONSES = FORMATS[Dialect.RESPONSES]
CHAT = FORMATS[Dialect.CHAT]
COMPLETIONS = FORMATS[Dialect.COMPLETIONS]
GEMINI = FORMATS[Dialect.GEMINI]


def anthropic(name: str, **payload: object) -> bytes:
    return named_event(name, {"type": name, **payload})


def test_each_dialect_knows_its_answers() -> None:
    assert CHAT.holds_answer({"choices": []}) and not CHAT.holds_answer({"content": []})
    assert MESSAGES.holds_answer({"content": [], "type": "message"}) and not MESSAGES.holds_answer("<html>")
    assert RESPONSES.holds_answer({"output": []}) and not RESPONSES.holds_answer({"choices": []})


def test_a_messages_stream_commits_on_content_not_on_its_opening() -> None:
    opening = [
        anthropic("message_start", message={"usage": {"input_tokens": 5}}),
        anthropic("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        anthropic("content_block_start", index=0, content_block={"type": "thinking", "thinking": ""}),
        anthropic("ping"),
    ]
    assert not any(MESSAGES.has_content(event) for event in opening)
    tool = anthropic(
        "content_block_start", index=1, content_block={"type": "tool_use", "id": "t", "name": "f"}
    )
    delta = anthropic("content_block_delta", index=0, delta={"type": "text_delta", "text": "hi"})
    assert MESSAGES.has_content(tool) and MESSAGES.has_content(delta)
    assert MESSAGES.is_final(anthropic("message_stop")) and not MESSAGES.is_final(delta)


def test_a_responses_stream_commits_on_a_delta_and_ends_with_its_last_event() -> None:
    created = named_event("response.created", {"type": "response.created", "sequence_number": 0})
    delta = named_event("response.output_text.delta", {"type": "response.output_text.delta", "delta": "x"})
    assert not RESPONSES.has_content(created) and RESPONSES.has_content(delta)
    for end in ("response.completed", "response.incomplete", "response.failed"):
        assert RESPONSES.is_final(named_event(end, {"type": end, "response": {}}))
    assert not RESPONSES.is_final(delta)


def test_stream_usage_in_every_dialect() -> None:
    start = anthropic("message_start", message={"usage": {"input_tokens": 5, "cache_read_input_tokens": 10}})
    so_far = MESSAGES.event_usage(start, None)
    assert MESSAGES.event_usage(anthropic("message_delta", usage={"output_tokens": 9}), so_far) == Usage(
        15, 9, cache_read=10
    )
    completed = named_event(
        "response.completed",
        {"type": "response.completed", "response": {"usage": {"input_tokens": 4, "output_tokens": 2}}},
    )
    assert RESPONSES.event_usage(completed, None) == Usage(4, 2)
    chunk = b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}}\n\n'
    assert CHAT.event_usage(chunk, None) == Usage(3, 1) and CHAT.is_usage_only(chunk)
    assert CHAT.is_final(DONE_EVENT) and COMPLETIONS.is_final(DONE_EVENT)


def test_errors_take_the_clients_shape() -> None:
    missing = ModelNotFound("the model 'x' does not exist", param="model")
    assert orjson.loads(MESSAGES.error_body(missing)) == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "the model 'x' does not exist"},
    }
    assert orjson.loads(CHAT.error_body(missing))["error"]["code"] == "model_not_found"
    limited = UpstreamRateLimited("slow down")
    name, payload = read_event(MESSAGES.error_event(limited, 7))
    assert (name, payload["error"]["type"]) == ("error", "rate_limit_error")
    error, failed = [
        read_event(event + b"\n\n") for event in RESPONSES.error_event(limited, 7).split(b"\n\n")[:2]
    ]
    assert error[0] == "error" and error[1]["sequence_number"] == 7 and error[1]["message"] == "slow down"
    assert failed[0] == "response.failed" and failed[1]["sequence_number"] == 8


def test_a_failed_responses_stream_ends_as_openai_ends_one() -> None:
    """``error`` (flat as documented, nested as the service sends it: the openai SDK raises on
    that), then ``response.failed`` with the response the stream opened with, failed."""
    opened = {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress", "model": "m"}
    opening = (
        b"event: response.created\ndata: "
        + orjson.dumps({"type": "response.created", "sequence_number": 0, "response": opened})
        + b"\n\n"
    )
    ending = RESPONSES.error_event(
        UpstreamError("the upstream fell over", code="upstream_stream_error"), 5, opening
    )
    events = [event + b"\n\n" for event in ending.split(b"\n\n") if event]
    (error_name, error), (failed_name, failed) = [read_event(event) for event in events]
    detail = {"code": "upstream_stream_error", "message": "the upstream fell over", "param": None}
    assert (error_name, error) == (
        "error",
        {"type": "error", **detail, "error": {"type": "upstream_error", **detail}, "sequence_number": 5},
    )
    assert failed_name == "response.failed" and failed["sequence_number"] == 6
    assert failed["response"] == {
        **opened,
        "status": "failed",
        "completed_at": None,
        "error": {"code": "server_error", "message": "the upstream fell over"},
    }
    limited = RESPONSES.error_event(UpstreamRateLimited("slow down"), 0)
    failed_alone = read_event(limited.split(b"\n\n")[1] + b"\n\n")[1]["response"]
    assert failed_alone["status"] == "failed" and failed_alone["error"]["code"] == "rate_limit_exceeded"


# Each wire's error event, as its upstream ends a stream that fails midway.
FAILURES = {
    Dialect.CHAT: data_event({"error": {"message": "overloaded", "type": "server_error"}}),
    Dialect.COMPLETIONS: data_event({"error": {"message": "overloaded", "type": "server_error"}}),
    Dialect.MESSAGES: anthropic("error", error={"type": "overloaded_error", "message": "overloaded"}),
    Dialect.RESPONSES: named_event(
        "error", {"type": "error", "code": "server_error", "message": "overloaded", "sequence_number": 3}
    ),
    Dialect.GEMINI: data_event({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}),
}
# Content of each wire that speaks of errors without being one.
CONTENT = {
    Dialect.CHAT: [
        data_event({"choices": [{"index": 0, "delta": {"content": '"error": no'}}]}),
        data_event({"choices": [{"index": 0, "delta": {"content": "hi"}}], "error": None}),
        DONE_EVENT,
    ],
    Dialect.COMPLETIONS: [data_event({"choices": [{"index": 0, "text": '"error"'}]}), DONE_EVENT],
    Dialect.MESSAGES: [
        anthropic("content_block_delta", index=0, delta={"type": "text_delta", "text": '"error"'}),
        anthropic("message_stop"),
    ],
    Dialect.RESPONSES: [
        named_event("response.output_text.delta", {"type": "response.output_text.delta", "delta": '"error"'}),
        named_event(
            "response.completed",
            {"type": "response.completed", "response": {"status": "completed", "error": None}},
        ),
    ],
    Dialect.GEMINI: [
        data_event({"candidates": [{"content": {"role": "model", "parts": [{"text": '"error"'}]}}]}),
    ],
}


@pytest.mark.parametrize("wire", list(Dialect))
def test_each_format_recognises_its_own_error_event(wire: Dialect) -> None:
    assert FORMATS[wire].failure_in(FAILURES[wire]) == StreamFailure("overloaded")


@pytest.mark.parametrize("wire", list(Dialect))
def test_content_that_speaks_of_errors_is_no_failure(wire: Dialect) -> None:
    assert [FORMATS[wire].failure_in(event) for event in CONTENT[wire]] == [None] * len(CONTENT[wire])


@pytest.mark.parametrize("wire", list(Dialect))
def test_the_error_event_raceway_ends_a_stream_with_is_a_failure_of_its_format(wire: Dialect) -> None:
    ending = FORMATS[wire].error_event(UpstreamError("the upstream fell over"), 0)
    first = ending.split(b"\n\n")[0] + b"\n\n"  # Responses: ``error``, then ``response.failed``
    failure = FORMATS[wire].failure_in(first)
    assert failure is not None and failure.message is not None and "fell over" in failure.message


def test_a_failed_response_says_why_and_one_without_an_error_is_only_the_end() -> None:
    def failed(error: object) -> bytes:
        response = {"status": "failed", "error": error}
        return named_event("response.failed", {"type": "response.failed", "response": response})

    assert RESPONSES.failure_in(failed({"code": "server_error", "message": "gave up"})) == StreamFailure(
        "gave up"
    )
    assert RESPONSES.failure_in(failed(None)) is None


def test_an_error_without_a_message_is_still_a_failure() -> None:
    assert CHAT.failure_in(data_event({"error": "broken"})) == StreamFailure(None)
    assert MESSAGES.failure_in(anthropic("error")) == StreamFailure(None)


@pytest.mark.parametrize("text", ["", None])
def test_a_completions_chunk_without_text_is_not_content(text: str | None) -> None:
    chunk = (
        b"data: " + orjson.dumps({"choices": [{"index": 0, "text": text, "finish_reason": None}]}) + b"\n\n"
    )
    assert not COMPLETIONS.has_content(chunk)
    done = b'data: {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}]}\n\n'
    assert COMPLETIONS.has_content(done)


def test_each_dialect_reads_the_finish_reason_of_a_stream() -> None:
    finish = b'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]}\n\n'
    running = b'data: {"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": null}]}\n\n'
    assert CHAT.finish_reasons(finish) == ["length"] and CHAT.finish_reasons(running) == []
    delta = anthropic("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 3})
    assert MESSAGES.finish_reasons(delta) == ["tool_use"]
    assert MESSAGES.finish_reasons(anthropic("ping")) == []
    incomplete = named_event(
        "response.incomplete",
        {
            "type": "response.incomplete",
            "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
        },
    )
    completed = named_event(
        "response.completed", {"type": "response.completed", "response": {"status": "completed"}}
    )
    assert RESPONSES.finish_reasons(incomplete) == ["max_output_tokens"]
    assert RESPONSES.finish_reasons(completed) == ["completed"]
