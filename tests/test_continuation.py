"""router.dialects.continuation: the request that asks for the rest of a partial answer."""

from __future__ import annotations

import pytest

from router.config.model import Continues
from router.dialects.continuation import continued, skipped, unsendable

QUESTION = {"role": "user", "content": "count"}


def test_a_prefill_is_the_partial_text_as_the_final_assistant_message_unstripped() -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [QUESTION]}
    assert continued(body, Continues.PREFILL, "one two ") == {
        "model": "m",
        "max_tokens": 10,
        "messages": [QUESTION, {"role": "assistant", "content": "one two "}],
    }
    assert body["messages"] == [QUESTION]  # the request itself is left as it was


def test_a_prefix_is_vllms_continue_final_message_or_the_messages_prefix_flag() -> None:
    body = {"model": "m", "messages": [QUESTION]}
    vllm = continued(body, Continues.PREFIX, "one")
    assert vllm["continue_final_message"] is True and vllm["add_generation_prompt"] is False
    assert vllm["messages"][-1] == {"role": "assistant", "content": "one"}
    flagged = continued(body, Continues.PREFIX, "one", flag_message=True)
    assert "continue_final_message" not in flagged
    assert flagged["messages"][-1] == {"role": "assistant", "content": "one", "prefix": True}


def test_the_clients_own_prefill_is_continued_not_repeated() -> None:
    text = {"messages": [QUESTION, {"role": "assistant", "content": "{"}]}
    assert continued(text, Continues.PREFILL, '"a"')["messages"][-1] == {
        "role": "assistant",
        "content": '{"a"',
    }
    blocks = {"messages": [QUESTION, {"role": "assistant", "content": [{"type": "text", "text": "{"}]}]}
    assert continued(blocks, Continues.PREFILL, '"a"')["messages"][-1]["content"] == [
        {"type": "text", "text": '{"a"'}
    ]


def test_a_deployment_that_cannot_continue_is_never_asked() -> None:
    with pytest.raises(ValueError):
        continued({"messages": [QUESTION]}, Continues.NONE, "one")


def test_only_a_prefills_trailing_whitespace_is_unsendable() -> None:
    assert unsendable("one two\n\n", Continues.PREFILL) == "\n\n"
    assert unsendable("one two", Continues.PREFILL) == ""
    assert unsendable("one two\n", Continues.PREFIX) == ""  # vLLM takes it as it is


def test_what_was_not_sent_is_skipped_where_the_continuation_repeats_it_and_no_further() -> None:
    assert skipped("\n\n", "\n\nThree") == ("", "Three")
    assert skipped("\n\n", "\n") == ("\n", "")  # a delta of its own: still skipping
    assert skipped("\n\n", "\nX") == ("", "X")  # departs: stop skipping, keep the rest
    assert skipped(" ", "three") == ("", "three")  # the model went on otherwise: nothing dropped
