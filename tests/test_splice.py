"""router.dialects.splice: a continuation's events as the rest of the client's stream."""

from __future__ import annotations

from typing import Any

from router.dialects.splice import ChatSplicer, MessagesSplicer, splicer_for
from router.dialects.splice_gemini import GeminiSplicer
from router.dialects.splice_responses import ResponsesSplicer
from router.wire.dialect import Dialect
from router.wire.sse import DONE_EVENT, data_event, named_event, read_event


def chunk(delta: dict[str, Any], *, id: str = "a", finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return data_event({"id": id, "created": 1, "model": "m-a", "choices": [choice], **extra})


def payloads(events: list[bytes]) -> list[Any]:
    return [read_event(event)[1] for event in events]


def test_every_dialect_but_legacy_completions_has_a_splicer_so_far() -> None:
    assert isinstance(splicer_for(Dialect.CHAT), ChatSplicer)
    assert isinstance(splicer_for(Dialect.MESSAGES), MessagesSplicer)
    assert isinstance(splicer_for(Dialect.RESPONSES), ResponsesSplicer)
    assert isinstance(splicer_for(Dialect.GEMINI), GeminiSplicer)
    assert splicer_for(Dialect.COMPLETIONS) is None


def test_a_chat_continuation_keeps_the_first_calls_identity_and_drops_its_opening() -> None:
    splicer = ChatSplicer()
    for event in (chunk({"role": "assistant", "content": ""}), chunk({"content": "one"})):
        splicer.note(event)
    assert splicer.text == "one" and splicer.refusal() is None
    splicer.begin()
    assert splicer.splice(chunk({"role": "assistant", "content": ""}, id="b")) == []
    (spliced,) = payloads(splicer.splice(chunk({"role": "assistant", "content": " two"}, id="b")))
    assert spliced["id"] == "a" and spliced["choices"][0]["delta"] == {"content": " two"}
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    (tail,) = payloads(splicer.splice(data_event({"id": "b", "choices": [], "usage": usage})))
    assert tail["usage"] == usage and tail["id"] == "a"  # the cut call reported none
    assert splicer.splice(DONE_EVENT) == [DONE_EVENT]


def test_a_chat_usage_adds_what_the_broken_call_reported() -> None:
    splicer = ChatSplicer()
    splicer.note(
        chunk({"content": "one"}, usage={"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6})
    )
    splicer.begin()
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    (tail,) = payloads(splicer.splice(data_event({"id": "b", "choices": [], "usage": usage})))
    assert tail["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}


def test_a_chat_answer_with_a_tool_call_thinking_or_an_end_is_not_continued() -> None:
    tool = {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}
    for delta, finish, why in [
        (tool, None, "a tool call"),
        ({"reasoning_content": "hmm"}, None, "thinking"),
        ({"content": "done"}, "stop", "ended"),
    ]:
        splicer = ChatSplicer()
        splicer.note(chunk(delta, finish=finish))
        refusal = splicer.refusal()
        assert refusal is not None and why in refusal


def messages_start(id: str, input_tokens: int) -> bytes:
    usage = {"input_tokens": input_tokens, "output_tokens": 1}
    message = {"id": id, "type": "message", "role": "assistant", "content": [], "usage": usage}
    return named_event("message_start", {"type": "message_start", "message": message})


def block_start(index: int, kind: str = "text") -> bytes:
    block = (
        {"type": "text", "text": ""}
        if kind == "text"
        else {"type": kind, "id": "t", "name": "f", "input": {}}
    )
    return named_event(
        "content_block_start", {"type": "content_block_start", "index": index, "content_block": block}
    )


def text_delta(index: int, text: str) -> bytes:
    delta = {"type": "text_delta", "text": text}
    return named_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def test_a_messages_continuation_goes_on_in_the_open_text_block_with_both_calls_usage() -> None:
    splicer = MessagesSplicer()
    for event in (messages_start("msg_a", 5), block_start(0), text_delta(0, "one")):
        splicer.note(event)
    splicer.begin()
    assert splicer.splice(messages_start("msg_b", 8)) == []
    assert splicer.splice(named_event("ping", {"type": "ping"})) == []
    assert splicer.splice(block_start(0)) == []  # the client's block 0 is still open
    (delta,) = payloads(splicer.splice(text_delta(0, " two")))
    assert delta["index"] == 0 and delta["delta"]["text"] == " two"
    end = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 3}}
    (summed,) = payloads(splicer.splice(named_event("message_delta", end)))
    assert summed["usage"] == {"input_tokens": 13, "output_tokens": 4}


def test_a_messages_continuation_after_a_closed_block_numbers_its_blocks_after_the_clients() -> None:
    splicer = MessagesSplicer()
    for event in (messages_start("msg_a", 5), block_start(0), text_delta(0, "one")):
        splicer.note(event)
    splicer.note(named_event("content_block_stop", {"type": "content_block_stop", "index": 0}))
    splicer.begin()
    (start,) = payloads(splicer.splice(block_start(0)))
    assert start["index"] == 1
    assert payloads(splicer.splice(text_delta(0, " two")))[0]["index"] == 1


def test_a_messages_continuation_that_opens_a_tool_call_closes_the_clients_text_block_first() -> None:
    splicer = MessagesSplicer()
    for event in (messages_start("msg_a", 5), block_start(0), text_delta(0, "one")):
        splicer.note(event)
    splicer.begin()
    stop, start = payloads(splicer.splice(block_start(0, "tool_use")))
    assert stop == {"type": "content_block_stop", "index": 0}
    assert start["index"] == 1 and start["content_block"]["type"] == "tool_use"


def test_a_messages_answer_with_a_tool_use_or_thinking_block_is_not_continued() -> None:
    for kind in ("tool_use", "thinking"):
        splicer = MessagesSplicer()
        splicer.note(messages_start("msg_a", 5))
        splicer.note(block_start(0, kind))
        assert splicer.refusal() is not None


def gemini_chunk(text: str | None, *, id: str, finish: str | None = None, usage: Any = None) -> bytes:
    candidate: dict[str, Any] = {"index": 0}
    if text is not None:
        candidate["content"] = {"role": "model", "parts": [{"text": text}]}
    if finish is not None:
        candidate["finishReason"] = finish
    chunk: dict[str, Any] = {"candidates": [candidate], "responseId": id, "modelVersion": "m-" + id}
    if usage is not None:
        chunk["usageMetadata"] = usage
    return data_event(chunk)


def test_a_gemini_continuation_keeps_the_response_id_and_adds_the_usage_reported_before() -> None:
    splicer = GeminiSplicer()
    splicer.note(gemini_chunk("one", id="a", usage={"promptTokenCount": 5, "totalTokenCount": 5}))
    assert splicer.text == "one" and splicer.refusal() is None
    splicer.begin()
    (spliced,) = payloads(splicer.splice(gemini_chunk(" two", id="b")))
    assert spliced["responseId"] == "a" and spliced["modelVersion"] == "m-a"
    usage = {"promptTokenCount": 7, "candidatesTokenCount": 2, "totalTokenCount": 9}
    (end,) = payloads(splicer.splice(gemini_chunk(None, id="b", finish="STOP", usage=usage)))
    assert end["usageMetadata"] == {"promptTokenCount": 12, "candidatesTokenCount": 2, "totalTokenCount": 14}


def test_a_gemini_answer_with_a_function_call_is_not_continued() -> None:
    splicer = GeminiSplicer()
    call = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}}]}}]}
    splicer.note(data_event(call))
    assert splicer.refusal() == "the answer holds a tool call"
