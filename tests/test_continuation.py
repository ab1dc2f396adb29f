"""router.dialects.continuation: the request that asks for the rest of a partial answer."""

from __future__ import annotations

import pytest

from router.config.model import Continues
from router.dialects.continuation import Partial, ToolCall, continued, skipped, unsendable, whole_object

QUESTION = {"role": "user", "content": "count"}


def test_a_prefill_is_the_partial_text_as_the_final_assistant_message_unstripped() -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [QUESTION]}
    assert continued(body, Continues.PREFILL, Partial("one two ")) == {
        "model": "m",
        "max_tokens": 10,
        "messages": [QUESTION, {"role": "assistant", "content": "one two "}],
    }
    assert body["messages"] == [QUESTION]  # the request itself is left as it was


def test_a_prefix_is_vllms_continue_final_message_or_the_messages_prefix_flag() -> None:
    body = {"model": "m", "messages": [QUESTION]}
    vllm = continued(body, Continues.PREFIX, Partial("one"))
    assert vllm["continue_final_message"] is True and vllm["add_generation_prompt"] is False
    assert vllm["messages"][-1] == {"role": "assistant", "content": "one"}
    flagged = continued(body, Continues.PREFIX, Partial("one"), flag_message=True)
    assert "continue_final_message" not in flagged
    assert flagged["messages"][-1] == {"role": "assistant", "content": "one", "prefix": True}


def test_the_clients_own_prefill_is_continued_not_repeated() -> None:
    text = {"messages": [QUESTION, {"role": "assistant", "content": "{"}]}
    assert continued(text, Continues.PREFILL, Partial('"a"'))["messages"][-1] == {
        "role": "assistant",
        "content": '{"a"',
    }
    blocks = {"messages": [QUESTION, {"role": "assistant", "content": [{"type": "text", "text": "{"}]}]}
    assert continued(blocks, Continues.PREFILL, Partial('"a"'))["messages"][-1]["content"] == [
        {"type": "text", "text": '{"a"'}
    ]


def test_a_deployment_that_cannot_continue_is_never_asked() -> None:
    with pytest.raises(ValueError):
        continued({"messages": [QUESTION]}, Continues.NONE, Partial("one"))


def test_only_a_prefills_trailing_whitespace_is_unsendable() -> None:
    assert unsendable(Partial("one two\n\n"), Continues.PREFILL) == "\n\n"
    assert unsendable(Partial("one two"), Continues.PREFILL) == ""
    assert unsendable(Partial("one two\n"), Continues.PREFIX) == ""  # vLLM takes it as it is


def test_what_was_not_sent_is_skipped_where_the_continuation_repeats_it_and_no_further() -> None:
    assert skipped("\n\n", "\n\nThree") == ("", "Three")
    assert skipped("\n\n", "\n") == ("\n", "")  # a delta of its own: still skipping
    assert skipped("\n\n", "\nX") == ("", "X")  # departs: stop skipping, keep the rest
    assert skipped(" ", "three") == ("", "three")  # the model went on otherwise: nothing dropped


CALL = ToolCall("toolu_1", "get_weather", '{"city": "Paris"}')


def test_a_prefill_after_whole_tool_calls_holds_them_as_tool_use_blocks_after_the_text() -> None:
    body = {"messages": [QUESTION]}
    assert continued(body, Continues.PREFILL, Partial("Looking.", (CALL,)))["messages"][-1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        ],
    }
    # Its text is not the prefill's end: its trailing whitespace goes as it is.
    assert unsendable(Partial("Looking.\n", (CALL,)), Continues.PREFILL) == ""


def test_a_chat_prefix_after_whole_tool_calls_holds_them_as_the_messages_tool_calls() -> None:
    message = continued({"messages": [QUESTION]}, Continues.PREFIX, Partial("", (CALL,)))["messages"][-1]
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": CALL.arguments},
            }
        ],
    }
    with pytest.raises(ValueError):  # DeepSeek's and Mistral's prefix continues text only
        continued({"messages": [QUESTION]}, Continues.PREFIX, Partial("", (CALL,)), flag_message=True)


def test_a_tool_calls_arguments_are_whole_once_they_are_one_json_object() -> None:
    assert whole_object('{"city": "Paris"}') and whole_object("{}")
    assert not whole_object('{"city": "Pa') and not whole_object("") and not whole_object("[1]")
