"""A translated request is fitted to what its target model accepts: output tokens clamped,
reasoning sent only to models that take it, identifiers cut to the target dialect's limit."""

from __future__ import annotations

import copy

from router.dialects.translate.anthropic import messages_request_to_chat
from router.dialects.translate.targets import (
    ANY_TARGET,
    TargetLimits,
    fit_chat_request,
    fit_gemini_request,
    fit_identifier,
    fit_messages_request,
    fit_responses_request,
)
from router.dispatch.preparation import Conversation
from router.wire.dialect import Dialect

# What Claude Code sends (CLIENTS.md): its budget, its max_tokens, a long user id, signed thinking.
CLAUDE_CODE = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 32000,
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "metadata": {
        "user_id": '{"device_id":"' + "d" * 64 + '","account_uuid":"","session_id":"' + "s" * 36 + '"}'
    },
    "messages": [
        {"role": "user", "content": "list the files"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "I should call ls", "signature": "sig-1"},
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.py"}]},
    ],
    "stream": True,
}
SMALL_CHAT_MODEL = TargetLimits(max_output_tokens=16384, reasoning=False)


def test_claude_code_through_a_chat_model_gets_what_the_model_accepts() -> None:
    chat = messages_request_to_chat(CLAUDE_CODE)
    assert chat["max_tokens"] == 32000 and chat["reasoning_effort"] == "high"  # the plain translation
    fitted = fit_chat_request(chat, SMALL_CHAT_MODEL)
    assert fitted["max_tokens"] == 16384
    assert "reasoning_effort" not in fitted
    assistant = fitted["messages"][1]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "toolu_1"
    assert "thinking_blocks" not in assistant and "reasoning_content" not in assistant
    assert chat["messages"][1]["thinking_blocks"], "the translation itself is left as it was"


def test_a_reasoning_model_keeps_its_reasoning_and_only_the_limit_is_clamped() -> None:
    chat = messages_request_to_chat(CLAUDE_CODE)
    fitted = fit_chat_request(chat, TargetLimits(max_output_tokens=100_000, reasoning=True))
    assert fitted["max_tokens"] == 32000 and fitted["reasoning_effort"] == "high"
    assert fitted["messages"][1]["thinking_blocks"]


def test_a_long_user_id_becomes_a_stable_hash_that_openai_accepts() -> None:
    user = messages_request_to_chat(CLAUDE_CODE)["user"]
    assert len(user) == 64 and user == messages_request_to_chat(copy.deepcopy(CLAUDE_CODE))["user"]
    other = copy.deepcopy(CLAUDE_CODE)
    other["metadata"]["user_id"] += "x"
    assert messages_request_to_chat(other)["user"] != user
    assert fit_identifier("short-id", 64) == "short-id"


def test_a_message_left_with_only_reasoning_is_dropped() -> None:
    chat = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": None, "reasoning_content": "hmm", "thinking_blocks": [{}]},
            {"role": "user", "content": "well?"},
        ],
        "max_completion_tokens": 50_000,
    }
    fitted = fit_chat_request(chat, SMALL_CHAT_MODEL)
    assert [m["role"] for m in fitted["messages"]] == ["user", "user"]
    assert fitted["max_completion_tokens"] == 16384


def test_a_thinking_budget_that_no_longer_fits_is_halved_or_dropped() -> None:
    messages = {"model": "m", "max_tokens": 28672, "thinking": {"type": "enabled", "budget_tokens": 24576}}
    fitted = fit_messages_request(messages, TargetLimits(max_output_tokens=8192))
    assert fitted["max_tokens"] == 8192 and fitted["thinking"]["budget_tokens"] == 4096
    tiny = fit_messages_request(messages, TargetLimits(max_output_tokens=2000))
    assert tiny["max_tokens"] == 2000 and "thinking" not in tiny  # half is under Anthropic's 1,024


def test_a_messages_model_without_reasoning_gets_no_thinking_and_alternating_turns() -> None:
    messages = {
        "model": "m",
        "max_tokens": 1000,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}]},
            {"role": "assistant", "content": [{"type": "redacted_thinking", "data": "x"}]},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "s"},
                    {"type": "text", "text": "c"},
                ],
            },
        ],
    }
    fitted = fit_messages_request(messages, TargetLimits(reasoning=False))
    assert "thinking" not in fitted
    assert fitted["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}]},
    ]


def test_a_responses_model_without_reasoning_gets_no_reasoning() -> None:
    request = {
        "model": "m",
        "input": [{"type": "reasoning", "summary": []}, {"type": "message", "role": "user", "content": "hi"}],
        "reasoning": {"effort": "high"},
        "include": ["reasoning.encrypted_content"],
        "max_output_tokens": 40_000,
    }
    fitted = fit_responses_request(request, TargetLimits(max_output_tokens=4096, reasoning=False))
    assert fitted == {
        "model": "m",
        "input": [{"type": "message", "role": "user", "content": "hi"}],
        "max_output_tokens": 4096,
    }


def test_nothing_known_leaves_the_translation_as_it_is() -> None:
    chat = messages_request_to_chat(CLAUDE_CODE)
    assert fit_chat_request(chat, ANY_TARGET) is chat


def test_a_conversation_fits_each_target_and_never_the_clients_own_dialect() -> None:
    conversation = Conversation(Dialect.MESSAGES, CLAUDE_CODE)
    assert conversation.body_for(Dialect.MESSAGES, SMALL_CHAT_MODEL) is CLAUDE_CODE  # passed through
    small = conversation.body_for(Dialect.CHAT, SMALL_CHAT_MODEL)
    plain = conversation.body_for(Dialect.CHAT)
    assert small["max_tokens"] == 16384 and plain["max_tokens"] == 32000
    assert conversation.body_for(Dialect.CHAT, SMALL_CHAT_MODEL) is small  # fitted once per target


def test_a_gemini_request_is_clamped_and_loses_thinking_for_a_model_without_reasoning() -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"maxOutputTokens": 32000, "thinkingConfig": {"thinkingBudget": 2048}},
    }
    fitted = fit_gemini_request(body, TargetLimits(max_output_tokens=8192, reasoning=False))
    assert fitted["generationConfig"] == {"maxOutputTokens": 8192}
    assert body["generationConfig"]["maxOutputTokens"] == 32000  # the translation's copy is untouched
