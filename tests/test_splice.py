"""router.dialects.splice: a continuation's events as the rest of the client's stream."""

from __future__ import annotations

from typing import Any

from router.dialects.continuation import Partial, ToolCall
from router.dialects.splice import MessagesSplicer, splicer_for
from router.dialects.splice_chat import ChatSplicer, CompletionsSplicer
from router.dialects.splice_gemini import GeminiSplicer
from router.dialects.splice_responses import ResponsesSplicer
from router.wire.dialect import Dialect
from router.wire.sse import DONE_EVENT, data_event, named_event, read_event


def chunk(delta: dict[str, Any], *, id: str = "a", finish: str | None = None, **extra: Any) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return data_event({"id": id, "created": 1, "model": "m-a", "choices": [choice], **extra})


def payloads(events: list[bytes]) -> list[Any]:
    return [read_event(event)[1] for event in events]


def test_every_client_dialect_has_a_splicer() -> None:
    assert isinstance(splicer_for(Dialect.CHAT), ChatSplicer)
    assert isinstance(splicer_for(Dialect.MESSAGES), MessagesSplicer)
    assert isinstance(splicer_for(Dialect.RESPONSES), ResponsesSplicer)
    assert isinstance(splicer_for(Dialect.GEMINI), GeminiSplicer)
    assert isinstance(splicer_for(Dialect.COMPLETIONS), CompletionsSplicer)


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


def test_a_chat_answer_with_a_cut_tool_call_thinking_or_an_end_is_not_continued() -> None:
    tool = {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{"}}]}
    for delta, finish, why in [
        (tool, None, "a tool call cut in its arguments"),
        ({"reasoning_content": "hmm"}, None, "thinking"),
        ({"content": "done"}, "stop", "ended"),
    ]:
        splicer = ChatSplicer()
        splicer.note(chunk(delta, finish=finish))
        refusal = splicer.refusal()
        assert refusal is not None and why in refusal


def tool_piece(index: int, arguments: str, *, id: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {"index": index, "function": {"arguments": arguments}}
    if id is not None:
        call |= {"id": id, "type": "function"}
        call["function"]["name"] = "f"
    return {"tool_calls": [call]}


def test_a_chat_answer_whose_tool_calls_came_whole_continues_after_them_numbered_after_them() -> None:
    splicer = ChatSplicer()
    for delta in (
        {"content": "Let me look."},
        tool_piece(0, "", id="call_a"),
        tool_piece(0, '{"city": '),
        tool_piece(0, '"Paris"}'),
    ):
        splicer.note(chunk(delta))
    assert splicer.refusal() is None
    assert splicer.partial() == Partial("Let me look.", (ToolCall("call_a", "f", '{"city": "Paris"}'),))
    splicer.begin()
    (spliced,) = payloads(splicer.splice(chunk(tool_piece(0, "", id="call_b"), id="b")))
    assert spliced["choices"][0]["delta"]["tool_calls"][0]["index"] == 1  # a call of its own, never merged
    assert spliced["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_b"


def test_completions_text_is_continued_under_the_first_calls_id_with_its_offsets() -> None:
    def text(piece: str, *, id: str, offset: int | None = None, finish: str | None = None) -> bytes:
        logprobs = None if offset is None else {"tokens": [piece], "text_offset": [offset]}
        choice = {"text": piece, "index": 0, "logprobs": logprobs, "finish_reason": finish}
        return data_event(
            {"id": id, "object": "text_completion", "created": 1, "model": "m", "choices": [choice]}
        )

    splicer = CompletionsSplicer()
    splicer.note(text("one two", id="cmpl-a", offset=0))
    assert splicer.refusal() is None and splicer.partial() == Partial("one two")
    splicer.begin()
    (spliced,) = payloads(splicer.splice(text(" three", id="cmpl-b", offset=0)))
    assert spliced["id"] == "cmpl-a" and spliced["choices"][0]["text"] == " three"
    assert spliced["choices"][0]["logprobs"]["text_offset"] == [len("one two")]
    assert splicer.splice(text("", id="cmpl-b")) == []  # nothing to say
    (end,) = payloads(splicer.splice(text("", id="cmpl-b", finish="stop")))
    assert end["choices"][0]["finish_reason"] == "stop"


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


def input_delta(index: int, piece: str) -> bytes:
    delta = {"type": "input_json_delta", "partial_json": piece}
    return named_event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def test_a_messages_answer_in_a_thinking_block_or_a_tool_use_input_cut_midway_is_not_continued() -> None:
    thinking = MessagesSplicer()
    thinking.note(messages_start("msg_a", 5))
    thinking.note(block_start(0, "thinking"))
    assert thinking.refusal() == "the answer holds thinking"
    cut = MessagesSplicer()
    for event in (messages_start("msg_a", 5), block_start(0, "tool_use"), input_delta(0, '{"city": "Pa')):
        cut.note(event)
    assert cut.refusal() == "the answer holds a tool call cut in its arguments"


def test_a_messages_tool_use_received_whole_is_closed_and_the_continuations_blocks_follow_it() -> None:
    splicer = MessagesSplicer()
    for event in (
        messages_start("msg_a", 5),
        block_start(0),
        text_delta(0, "Looking."),
        named_event("content_block_stop", {"type": "content_block_stop", "index": 0}),
        block_start(1, "tool_use"),
        input_delta(1, '{"city": '),
        input_delta(1, '"Paris"}'),
    ):
        splicer.note(event)
    assert splicer.refusal() is None  # its content_block_stop never came, but its input is whole
    assert splicer.partial() == Partial("Looking.", (ToolCall("t", "f", '{"city": "Paris"}'),))
    splicer.begin()
    stop, *_ = payloads(splicer.splice(messages_start("msg_b", 8)))
    assert stop == {"type": "content_block_stop", "index": 1}
    (start,) = payloads(splicer.splice(block_start(0, "tool_use")))
    assert start["index"] == 2


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


def gemini_call(name: str, args: dict[str, Any], **extra: Any) -> bytes:
    part = {"functionCall": {"name": name, "args": args, **extra}}
    return data_event({"candidates": [{"content": {"role": "model", "parts": [part]}, "index": 0}]})


def test_a_gemini_answer_is_continued_after_its_function_calls_and_not_inside_one() -> None:
    splicer = GeminiSplicer()
    splicer.note(gemini_chunk("Looking.", id="a"))
    splicer.note(gemini_call("f", {"city": "Paris"}, id="c1"))
    splicer.note(gemini_call("g", {}))
    assert splicer.refusal() is None
    calls = (ToolCall("c1", "f", '{"city":"Paris"}'), ToolCall("call_1", "g", "{}"))  # named by position
    assert splicer.partial() == Partial("Looking.", calls)
    text_after = GeminiSplicer()
    text_after.note(gemini_call("f", {}))
    text_after.note(gemini_chunk("and then", id="a"))
    assert text_after.refusal() == "the answer holds text after a tool call"
    streamed = GeminiSplicer()
    streamed.note(gemini_call("f", {}, willContinue=True))
    assert streamed.refusal() == "the answer holds a function call streamed in pieces"


def responses_event(kind: str, sequence: int, **fields: Any) -> bytes:
    return named_event(kind, {"type": kind, "sequence_number": sequence, **fields})


def responses_call(item_id: str, index: int, arguments: str, first: int) -> list[bytes]:
    item = {
        "type": "function_call",
        "id": item_id,
        "call_id": f"call_{item_id}",
        "name": "f",
        "arguments": "",
    }
    where = {"item_id": item_id, "output_index": index}
    return [
        responses_event("response.output_item.added", first, output_index=index, item=item),
        responses_event("response.function_call_arguments.delta", first + 1, **where, delta=arguments),
    ]


def test_a_responses_continuation_after_a_whole_call_closes_it_and_opens_its_text_item_after_it() -> None:
    splicer = ResponsesSplicer()
    response = {"id": "resp_a", "created_at": 1, "model": "m-a", "output": []}
    splicer.note(responses_event("response.created", 0, response=response))
    for event in responses_call("fc_a", 0, '{"x": 1}', 1):
        splicer.note(event)
    assert splicer.refusal() is None
    assert splicer.partial() == Partial("", (ToolCall("call_fc_a", "f", '{"x": 1}'),))
    splicer.begin()
    assert splicer.splice(responses_event("response.created", 0, response={"id": "resp_b"})) == []
    message = {"type": "message", "id": "msg_b", "status": "in_progress", "role": "assistant", "content": []}
    opened = splicer.splice(responses_event("response.output_item.added", 2, output_index=0, item=message))
    for event in opened:
        splicer.note(event)  # as the stream's owner notes what it relays
    spliced = payloads(opened)
    assert [(event["type"], event["sequence_number"], event.get("output_index")) for event in spliced] == [
        ("response.function_call_arguments.done", 3, 0),
        ("response.output_item.done", 4, 0),
        ("response.output_item.added", 5, 1),  # the continuation's text: an item of its own, after the call
    ]
    assert spliced[1]["item"]["arguments"] == '{"x": 1}' and spliced[2]["item"]["id"] == "msg_b"
    done = {**message, "status": "completed", "content": [{"type": "output_text", "text": "done"}]}
    for event in splicer.splice(responses_event("response.output_item.done", 3, output_index=0, item=done)):
        splicer.note(event)
    (completed,) = payloads(
        splicer.splice(responses_event("response.completed", 4, response={"id": "resp_b", "output": [done]}))
    )
    assert completed["response"]["id"] == "resp_a"
    assert [item["id"] for item in completed["response"]["output"]] == ["fc_a", "msg_b"]


def test_a_responses_continuation_that_begins_with_a_call_closes_the_clients_message_first() -> None:
    splicer = ResponsesSplicer()
    message = {"type": "message", "id": "msg_a", "status": "in_progress", "role": "assistant", "content": []}
    where = {"item_id": "msg_a", "output_index": 0, "content_index": 0}
    for event in (
        responses_event("response.output_item.added", 0, output_index=0, item=message),
        responses_event("response.content_part.added", 1, **where, part={"type": "output_text", "text": ""}),
        responses_event("response.output_text.delta", 2, **where, delta="Looking."),
    ):
        splicer.note(event)
    splicer.begin()
    spliced = payloads(splicer.splice(responses_call("fc_b", 0, "{}", 0)[0]))
    assert [(event["type"], event.get("output_index")) for event in spliced] == [
        ("response.output_text.done", 0),
        ("response.content_part.done", 0),
        ("response.output_item.done", 0),
        ("response.output_item.added", 1),
    ]
    assert spliced[2]["item"]["content"][0]["text"] == "Looking."
    assert [event["sequence_number"] for event in spliced] == [3, 4, 5, 6]


def test_a_responses_call_the_client_saw_closed_is_not_closed_again() -> None:
    splicer = ResponsesSplicer()
    events = responses_call("fc_a", 0, "{}", 0)
    item = {"type": "function_call", "id": "fc_a", "call_id": "call_fc_a", "name": "f", "arguments": "{}"}
    events.append(responses_event("response.output_item.done", 2, output_index=0, item=item))
    for event in events:
        splicer.note(event)
    splicer.begin()
    call = responses_call("fc_b", 0, "{}", 0)[0]
    assert [(event["type"], event["output_index"]) for event in payloads(splicer.splice(call))] == [
        ("response.output_item.added", 1)
    ]


def test_a_responses_answer_cut_inside_a_calls_arguments_or_with_text_after_a_call_is_not_continued() -> None:
    cut = ResponsesSplicer()
    for event in responses_call("fc_a", 0, '{"x": ', 0):
        cut.note(event)
    assert cut.refusal() == "the answer holds a tool call cut in its arguments"
    after = ResponsesSplicer()
    message = {"type": "message", "id": "msg_a", "role": "assistant", "content": []}
    for event in (
        *responses_call("fc_a", 0, "{}", 0),
        responses_event("response.output_item.added", 2, output_index=1, item=message),
    ):
        after.note(event)
    assert after.refusal() == "the answer holds text after a tool call"
