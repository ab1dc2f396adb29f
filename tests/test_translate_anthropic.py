"""Translation between Anthropic Messages and chat (router/dialects/translate/anthropic/).

Well-formedness is proven with the official SDKs: ``anthropic.types.Message`` and the anthropic
stream accumulator for Messages output, ``ChatCompletion`` and the openai stream state for chat
output; an accumulated stream must equal the non-streaming translation of the same answer.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from router.dialects.translate.anthropic import (
    ChatEventsToMessages,
    MessagesEventsToChat,
    chat_answer_to_messages,
    chat_request_to_messages,
    messages_answer_to_chat,
    messages_request_to_chat,
)
from router.errors import InvalidRequest, UpstreamError
from router.wire.sse import DONE_EVENT, data_event, named_event, read_event

ANTHROPIC_EVENT: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)

PNG = "iVBORw0KGgo="

# --- fixtures: whole answers and the streams that tell them -------------------------------------


def anthropic_answer() -> dict[str, Any]:
    """A Messages answer with every block kind this translator carries, and cache usage."""
    return {
        "id": "msg_01abc",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "Let me think. Weather needs a tool.", "signature": "sig-1"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "I will check the weather in both cities."},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris", "days": 3}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Oslo", "units": "C"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 100,
            "output_tokens": 42,
            "cache_read_input_tokens": 1000,
            "cache_creation_input_tokens": 200,
        },
    }


def pieces(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def anthropic_stream(answer: dict[str, Any]) -> list[bytes]:
    """``answer`` as Anthropic's SSE grammar: text, thinking and tool input in several pieces,
    output usage cumulative on message_delta."""
    usage = answer["usage"]
    start_usage = {**usage, "output_tokens": 1}
    events = [
        named_event(
            "message_start",
            {
                "type": "message_start",
                "message": {**answer, "content": [], "stop_reason": None, "usage": start_usage},
            },
        ),
        named_event("ping", {"type": "ping"}),
    ]
    for i, block in enumerate(answer["content"]):
        kind = block["type"]
        deltas: list[dict[str, Any]] = []
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces(block["text"])]
        elif kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            start = {**block, "input": {}}
            arguments = orjson.dumps(block["input"]).decode()
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces(arguments, 5)]
        else:
            start = block
        events.append(
            named_event(
                "content_block_start", {"type": "content_block_start", "index": i, "content_block": start}
            )
        )
        for delta in deltas:
            events.append(
                named_event(
                    "content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}
                )
            )
        events.append(named_event("content_block_stop", {"type": "content_block_stop", "index": i}))
    events.append(
        named_event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": answer["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage["output_tokens"]},
            },
        )
    )
    events.append(named_event("message_stop", {"type": "message_stop"}))
    return events


def chat_answer() -> dict[str, Any]:
    """A chat answer with reasoning and its signature, text, two tool calls, and cache usage."""
    return {
        "id": "chatcmpl-xyz",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4.1",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Checking the weather for you now.",
                    "refusal": None,
                    "reasoning_content": "The user wants weather. Two cities.",
                    "thinking_blocks": [
                        {
                            "type": "thinking",
                            "thinking": "The user wants weather. Two cities.",
                            "signature": "sig-9",
                        }
                    ],
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Paris","days":3}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
                        },
                    ],
                },
                "finish_reason": "tool_calls",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 1300,
            "completion_tokens": 42,
            "total_tokens": 1342,
            "prompt_tokens_details": {"cached_tokens": 1000},
            "cache_creation_input_tokens": 200,
        },
    }


def chat_stream(answer: dict[str, Any]) -> list[bytes]:
    """``answer`` as chat chunks the way OpenAI-style upstreams send them: role, reasoning
    pieces, the signature, content pieces, tool calls with arguments in pieces, the finish
    chunk, then the usage chunk and [DONE]."""
    message = answer["choices"][0]["message"]
    head = {
        "id": answer["id"],
        "object": "chat.completion.chunk",
        "created": answer["created"],
        "model": answer["model"],
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning_content": p}) for p in pieces(message.get("reasoning_content") or "")]
    for block in message.get("thinking_blocks") or []:
        events.append(chunk({"thinking_blocks": [{**block, "thinking": ""}]}))
    events += [chunk({"content": p}) for p in pieces(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        first = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [first]}))
        for p in pieces(call["function"]["arguments"], 4):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]}))
    events.append(chunk({}, answer["choices"][0]["finish_reason"]))
    events.append(data_event({**head, "choices": [], "usage": answer["usage"]}))
    events.append(DONE_EVENT)
    return events


def feed(translator: MessagesEventsToChat | ChatEventsToMessages, events: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for event in events:
        out += translator.feed(event)
    return out


def accumulate_messages(events: list[bytes]) -> Message:
    """The Messages events as the anthropic SDK accumulates them (each parsed as the SDK's type)."""
    snapshot = None
    for event in events:
        name, data = read_event(event)
        parsed = ANTHROPIC_EVENT.validate_python(data)
        assert parsed.type == name
        snapshot = accumulate_event(event=parsed, current_snapshot=snapshot)
    assert snapshot is not None
    return Message.model_validate(snapshot.to_dict())


def accumulate_chat(events: list[bytes]) -> ChatCompletion:
    """The chat chunks as the openai SDK's stream state accumulates them; ends with [DONE]."""
    assert events[-1] == DONE_EVENT
    state: ChatCompletionStreamState[None] = ChatCompletionStreamState()
    for event in events[:-1]:
        _, data = read_event(event)
        state.handle_chunk(ChatCompletionChunk.model_validate(data))
    return ChatCompletion.model_validate(state.get_final_completion().model_dump())


def message_content(message: Message) -> list[dict[str, Any]]:
    return [block.model_dump(exclude_none=True) for block in message.content]


# --- Messages request -> chat -------------------------------------------------------------------


def test_system_string_or_blocks_becomes_the_first_system_message_without_cache_hints() -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Answer in French."},
        ],
        "messages": [{"role": "user", "content": "hi"}],
    }
    chat = messages_request_to_chat(body)
    assert chat["messages"] == [
        {"role": "system", "content": "You are terse.\n\nAnswer in French."},
        {"role": "user", "content": "hi"},
    ]
    assert chat["model"] == "m" and chat["max_tokens"] == 10
    assert messages_request_to_chat({**body, "system": "Be kind."})["messages"][0] == {
        "role": "system",
        "content": "Be kind.",
    }


def test_images_become_image_url_parts_from_base64_and_url_sources() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "image", "source": {"type": "url", "url": "https://example.com/a.jpg"}},
                    {"type": "text", "text": "What differs?", "cache_control": {"type": "ephemeral"}},
                ],
            }
        ]
    }
    assert messages_request_to_chat(body)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
                {"type": "text", "text": "What differs?"},
            ],
        }
    ]


def test_tool_use_becomes_tool_calls_and_results_follow_as_tool_messages_before_the_turns_text() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "t2", "name": "weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t2",
                        "content": [{"type": "text", "text": "4"}, {"type": "text", "text": "C"}],
                    },
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ]
    }
    messages = messages_request_to_chat(body)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Paris"}'},
            },
            {"id": "t2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "t1", "content": "18C"},
        {"role": "tool", "tool_call_id": "t2", "content": "4C"},
        {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
    ]


def test_a_failed_tool_result_is_prefixed_with_error_and_its_images_follow_in_a_user_message() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "screenshot failed halfway"},
                            {
                                "type": "image",
                                "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                            },
                        ],
                    }
                ],
            }
        ]
    }
    assert messages_request_to_chat(body)["messages"] == [
        {"role": "tool", "tool_call_id": "t1", "content": "Error: screenshot failed halfway"},
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}],
        },
    ]


def test_thinking_in_history_keeps_its_signature_as_thinking_blocks() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "opaque"},
                    {"type": "text", "text": "Hello."},
                ],
            },
        ]
    }
    assert messages_request_to_chat(body)["messages"][1] == {
        "role": "assistant",
        "content": "Hello.",
        "reasoning_content": "Hmm.",
        "thinking_blocks": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
            {"type": "redacted_thinking", "data": "opaque"},
        ],
    }


def test_documents_approximate_text_and_carry_pdfs_as_file_parts_and_refuse_urls() -> None:
    text_doc = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "the text"},
    }
    pdf = {
        "type": "document",
        "title": "a.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
    }
    body = {"messages": [{"role": "user", "content": [text_doc, pdf]}]}
    assert messages_request_to_chat(body)["messages"][0]["content"] == [
        {"type": "text", "text": "the text"},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
    ]
    url_doc = {"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}}
    with pytest.raises(InvalidRequest) as refused:
        messages_request_to_chat({"messages": [{"role": "user", "content": [url_doc]}]})
    assert refused.value.param == "messages[0].content[0].source"


def test_an_unknown_block_type_is_refused_naming_it() -> None:
    with pytest.raises(InvalidRequest) as refused:
        messages_request_to_chat({"messages": [{"role": "user", "content": [{"type": "hologram"}]}]})
    assert refused.value.param == "messages[0].content[0]"


def test_server_tool_blocks_in_history_are_dropped() -> None:
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [
                    {"type": "server_tool_use", "id": "s1", "name": "web_search", "input": {"query": "x"}},
                    {"type": "web_search_tool_result", "tool_use_id": "s1", "content": []},
                    {"type": "text", "text": "Found it."},
                ],
            }
        ]
    }
    assert messages_request_to_chat(body)["messages"] == [{"role": "assistant", "content": "Found it."}]


# The result blocks of Anthropic's server tools, with the object ``content`` the SDK's types give them.
SERVER_TOOL_RESULTS: list[dict[str, Any]] = [
    {
        "type": "code_execution_tool_result",
        "tool_use_id": "s1",
        "content": {
            "type": "code_execution_result",
            "stdout": "4",
            "stderr": "",
            "return_code": 0,
            "content": [],
        },
    },
    {
        "type": "bash_code_execution_tool_result",
        "tool_use_id": "s1",
        "content": {"type": "bash_code_execution_tool_result_error", "error_code": "unavailable"},
    },
    {
        "type": "text_editor_code_execution_tool_result",
        "tool_use_id": "s1",
        "content": {
            "type": "text_editor_code_execution_view_result",
            "content": "x = 1",
            "file_type": "text",
        },
    },
    {
        "type": "web_fetch_tool_result",
        "tool_use_id": "s1",
        "content": {"type": "web_fetch_tool_result_error", "error_code": "url_not_accessible"},
    },
    {
        "type": "tool_search_tool_result",
        "tool_use_id": "s1",
        "content": {"type": "tool_search_tool_search_result", "tool_references": []},
    },
]


@pytest.mark.parametrize("result", SERVER_TOOL_RESULTS, ids=[r["type"] for r in SERVER_TOOL_RESULTS])
def test_server_tool_results_whatever_their_content_are_dropped(result: dict[str, Any]) -> None:
    use = {"type": "server_tool_use", "id": "s1", "name": "code_execution", "input": {"code": "2+2"}}
    body = {
        "messages": [
            {"role": "user", "content": "compute"},
            {"role": "assistant", "content": [use, result, {"type": "text", "text": "It is 4."}]},
        ]
    }
    assert messages_request_to_chat(body)["messages"] == [
        {"role": "user", "content": "compute"},
        {"role": "assistant", "content": "It is 4."},
    ]


def test_a_system_message_among_the_messages_is_a_chat_system_message_in_place() -> None:
    body = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello."},
            {
                "role": "system",
                "content": [
                    {"type": "text", "text": "From now on,", "cache_control": {"type": "ephemeral"}},
                    {"type": "text", "text": "answer in French."},
                ],
            },
            {"role": "user", "content": "and now?"},
        ],
    }
    assert messages_request_to_chat(body)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "system", "content": "From now on,\n\nanswer in French."},
        {"role": "user", "content": "and now?"},
    ]
    assert messages_request_to_chat({"messages": [{"role": "system", "content": "Rule."}]})["messages"] == [
        {"role": "system", "content": "Rule."}
    ]


def test_a_system_message_holding_more_than_text_is_refused_naming_the_block() -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
    body = {"messages": [{"role": "system", "content": [{"type": "text", "text": "See:"}, image]}]}
    with pytest.raises(InvalidRequest) as refused:
        messages_request_to_chat(body)
    assert refused.value.param == "messages[0].content[1].type"


SEARCH_RESULT = {
    "type": "search_result",
    "source": "https://example.com/tides",
    "title": "Tides",
    "content": [{"type": "text", "text": "High tide at 6."}, {"type": "text", "text": " Low at noon."}],
    "citations": {"enabled": True},
}


def test_a_search_result_is_read_as_text_alone_or_in_a_tool_result() -> None:
    as_text = "Tides\nhttps://example.com/tides\n\nHigh tide at 6. Low at noon."
    body = {"messages": [{"role": "user", "content": [SEARCH_RESULT, {"type": "text", "text": "When?"}]}]}
    assert messages_request_to_chat(body)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": as_text}, {"type": "text", "text": "When?"}]}
    ]
    result = {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [{"type": "text", "text": "Found:"}, SEARCH_RESULT],
    }
    body = {
        "messages": [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "search", "input": {}}],
            },
            {"role": "user", "content": [result]},
        ]
    }
    assert messages_request_to_chat(body)["messages"][1] == {
        "role": "tool",
        "tool_call_id": "t1",
        "content": "Found:\n\n" + as_text,
    }


def test_sampling_stop_and_user_cross_and_top_k_and_hints_are_dropped() -> None:
    body = {
        "model": "claude",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "hi"}],
        "stop_sequences": ["END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "context_management": {"edits": []},
        "service_tier": "auto",
        "container": "c1",
        "mcp_servers": [{"type": "url", "url": "https://mcp", "name": "x"}],
    }
    assert messages_request_to_chat(body) == {
        "model": "claude",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 300,
        "stop": ["END"],
        "temperature": 0.3,
        "top_p": 0.9,
        "user": "u-1",
    }


def test_custom_tools_become_functions_and_server_tools_are_dropped() -> None:
    body = {
        "messages": [],
        "tools": [
            {
                "name": "weather",
                "description": "Weather.",
                "input_schema": {"type": "object", "properties": {}},
            },
            {"type": "custom", "name": "clock", "input_schema": {"type": "object"}},
            {"type": "web_search_20250305", "name": "web_search"},
            {"type": "bash_20250124", "name": "bash"},
            {"type": "text_editor_20250429", "name": "str_replace_based_edit_tool"},
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
    }
    chat = messages_request_to_chat(body)
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": {"type": "object", "properties": {}},
                "description": "Weather.",
            },
        },
        {"type": "function", "function": {"name": "clock", "parameters": {"type": "object"}}},
    ]
    assert chat["tool_choice"] == "auto"
    assert chat["parallel_tool_calls"] is False


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "weather"}, {"type": "function", "function": {"name": "weather"}}),
        ({"type": "tool", "name": "web_search"}, "auto"),
    ],
)
def test_tool_choice_maps_and_a_choice_forcing_a_dropped_server_tool_falls_back_to_auto(
    choice: dict[str, Any], expected: Any
) -> None:
    body = {
        "messages": [],
        "tools": [
            {"name": "weather", "input_schema": {}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": choice,
    }
    chat = messages_request_to_chat(body)
    assert chat["tool_choice"] == expected
    assert "parallel_tool_calls" not in chat


def test_only_server_tools_leave_no_tools_and_no_choice() -> None:
    body = {
        "messages": [],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "tool_choice": {"type": "any"},
    }
    chat = messages_request_to_chat(body)
    assert "tools" not in chat and "tool_choice" not in chat


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "low"),
        ({"type": "enabled", "budget_tokens": 2048}, "low"),
        ({"type": "enabled", "budget_tokens": 2049}, "medium"),
        ({"type": "enabled", "budget_tokens": 16384}, "medium"),
        ({"type": "enabled", "budget_tokens": 16385}, "high"),
        ({"type": "adaptive"}, "medium"),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking_budget_becomes_reasoning_effort(thinking: dict[str, Any], effort: str | None) -> None:
    chat = messages_request_to_chat({"messages": [], "thinking": thinking})
    assert chat.get("reasoning_effort") == effort


def test_output_config_effort_and_schema_cross_as_reasoning_effort_and_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "messages": [],
        "output_config": {"effort": "max", "format": {"type": "json_schema", "schema": schema}},
    }
    chat = messages_request_to_chat(body)
    assert chat["reasoning_effort"] == "high"
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }


def test_streaming_asks_the_chat_upstream_for_usage() -> None:
    chat = messages_request_to_chat({"messages": [], "stream": True})
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}
    assert "stream_options" not in messages_request_to_chat({"messages": [], "stream": False})


def test_odd_values_do_not_crash() -> None:
    body = {
        "messages": [None, {"role": "user", "content": [None, "x"]}],
        "system": 5,
        "tools": "no",
        "thinking": 3,
    }
    with pytest.raises(InvalidRequest):
        messages_request_to_chat(body)
    assert messages_request_to_chat({"messages": "x", "tool_choice": 4, "metadata": []})["messages"] == []


# --- chat request -> Messages -------------------------------------------------------------------

HI = [{"role": "user", "content": "hi"}]  # the least a request to Anthropic holds


def test_system_and_developer_messages_gather_into_system() -> None:
    body = {
        "model": "claude",
        "messages": [
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Late rule."},
        ],
    }
    request = chat_request_to_messages(body)
    assert request["system"] == "Be terse.\n\nUse French.\n\nLate rule."
    assert request["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert request["model"] == "claude"


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": ""}],  # an empty completions prompt, or Responses input
        [{"role": "system", "content": "Rules only."}],
        [{"role": "user", "content": [{"type": "text", "text": ""}]}, {"role": "assistant", "content": ""}],
    ],
)
def test_a_request_with_no_message_anthropic_would_take_is_refused(messages: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages({"messages": messages})
    assert refused.value.param == "messages" and "nothing to send" in refused.value.message


def test_max_tokens_defaults_to_4096_and_max_completion_tokens_wins() -> None:
    assert chat_request_to_messages({"messages": HI})["max_tokens"] == 4096
    assert chat_request_to_messages({"messages": HI, "max_tokens": 50})["max_tokens"] == 50
    assert (
        chat_request_to_messages({"messages": HI, "max_tokens": 50, "max_completion_tokens": 70})[
            "max_tokens"
        ]
        == 70
    )


def test_consecutive_same_role_messages_merge_and_tool_results_come_first() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "user", "content": "In Paris."},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "18C"},
            {"role": "user", "content": "Thanks, and Oslo?"},
        ]
    }
    assert chat_request_to_messages(body)["messages"] == [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Weather?"}, {"type": "text", "text": "In Paris."}],
        },
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "c1", "name": "weather", "input": {"city": "Paris"}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "18C"},
                {"type": "text", "text": "Thanks, and Oslo?"},
            ],
        },
    ]


def test_unparseable_tool_arguments_are_refused_naming_the_field() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "x"},
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}
                ],
            },
        ]
    }
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages(body)
    assert refused.value.param == "messages[1].tool_calls[0].function.arguments"


def test_thinking_blocks_come_first_in_the_assistant_turn_and_bare_reasoning_is_dropped() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "Hello.",
                "reasoning_content": "Hmm.",
                "thinking_blocks": [
                    {"type": "thinking", "thinking": "Hmm.", "signature": "s"},
                    {"type": "redacted_thinking", "data": "d"},
                ],
            },
            {"role": "user", "content": "again"},
            {"role": "assistant", "content": "Hi.", "reasoning_content": "unsigned"},
        ]
    }
    turns = chat_request_to_messages(body)["messages"]
    assert turns[1]["content"] == [
        {"type": "thinking", "thinking": "Hmm.", "signature": "s"},
        {"type": "redacted_thinking", "data": "d"},
        {"type": "text", "text": "Hello."},
    ]
    assert turns[3]["content"] == [{"type": "text", "text": "Hi."}]


def test_image_urls_become_base64_or_url_sources_and_other_schemes_are_refused() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/a.png", "detail": "high"},
                    },
                ],
            }
        ]
    }
    assert chat_request_to_messages(body)["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
    ]
    body["messages"][0]["content"] = [{"type": "image_url", "image_url": {"url": "ftp://x"}}]
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages(body)
    assert refused.value.param == "messages[0].content[0].image_url.url"


def test_stop_tools_choice_parallel_and_user_cross() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "stop": "END",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "description": "W.",
                    "parameters": {"type": "object"},
                    "strict": True,
                },
            },
            {"type": "function", "function": {"name": "clock"}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "parallel_tool_calls": False,
        "user": "u-7",
        "temperature": 1.7,
        "top_p": 0.5,
        "seed": 3,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.1,
        "logit_bias": {"1": 2},
        "store": False,
        "prompt_cache_key": "k",
    }
    assert chat_request_to_messages(body) == {
        "model": None,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "max_tokens": 4096,
        "stop_sequences": ["END"],
        "temperature": 1.0,
        "top_p": 0.5,
        "tools": [
            {"name": "weather", "input_schema": {"type": "object"}, "description": "W."},
            {"name": "clock", "input_schema": {"type": "object", "properties": {}}},
        ],
        "tool_choice": {"type": "tool", "name": "weather", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u-7"},
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"}), (None, None)],
)
def test_chat_tool_choice_maps(choice: Any, expected: Any) -> None:
    body = {
        "messages": HI,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": choice,
        "stop": ["a", "b"],
    }
    request = chat_request_to_messages(body)
    assert request.get("tool_choice") == expected
    assert request["stop_sequences"] == ["a", "b"]


@pytest.mark.parametrize(("effort", "budget"), [("low", 1024), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort_becomes_a_thinking_budget_below_max_tokens(effort: str, budget: int) -> None:
    request = chat_request_to_messages(
        {"messages": HI, "reasoning_effort": effort, "max_tokens": 1000, "temperature": 0.2}
    )
    assert request["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert request["max_tokens"] == budget + 1000
    assert "temperature" not in request  # Anthropic refuses a temperature with thinking
    roomy = chat_request_to_messages({"messages": HI, "reasoning_effort": effort, "max_tokens": 30000})
    assert roomy["max_tokens"] == 30000


def test_minimal_reasoning_effort_means_no_thinking() -> None:
    assert "thinking" not in chat_request_to_messages({"messages": HI, "reasoning_effort": "minimal"})


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 2), ("logprobs", True), ("top_logprobs", 3), ("modalities", ["text", "audio"])],
)
def test_what_anthropic_cannot_give_back_is_refused(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages({"messages": HI, field: value})
    assert refused.value.status == 400


def test_n_of_one_and_logprobs_false_are_fine() -> None:
    request = chat_request_to_messages({"messages": HI, "n": 1, "logprobs": False})
    assert "n" not in request and "logprobs" not in request


def test_json_schema_becomes_structured_output_and_json_object_is_refused() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "messages": HI,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    assert chat_request_to_messages(body)["output_config"] == {
        "format": {"type": "json_schema", "schema": schema}
    }
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages({"messages": HI, "response_format": {"type": "json_object"}})
    assert refused.value.param == "response_format"
    assert "output_config" not in chat_request_to_messages(
        {"messages": HI, "response_format": {"type": "text"}}
    )


def test_a_pdf_file_part_becomes_a_document_and_an_uploaded_file_id_is_refused() -> None:
    part = {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}}
    request = chat_request_to_messages({"messages": [{"role": "user", "content": [part]}]})
    assert request["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
            "title": "a.pdf",
        }
    ]
    with pytest.raises(InvalidRequest):
        chat_request_to_messages(
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]}]}
        )


@pytest.mark.parametrize(
    "part",
    [
        {"type": "file", "file": {"file_data": "data:text/plain;base64,aGk="}},
        {"type": "file", "file": {"file_data": "data:video/mp4;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "data:image/heic;base64,AAAA"}},
    ],
)
def test_media_anthropic_cannot_take_inline_is_refused_naming_the_part(part: dict[str, Any]) -> None:
    """Anthropic's base64 sources take PDF documents and JPEG, PNG, GIF or WebP images only."""
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages({"messages": [{"role": "user", "content": [part]}]})
    assert refused.value.param is not None and refused.value.param.startswith("messages[0].content[0]")


def test_non_function_tools_are_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages({"messages": HI, "tools": [{"type": "custom", "custom": {"name": "x"}}]})
    assert refused.value.param == "tools[0].type"


def test_messages_request_round_trips_through_chat() -> None:
    body = {
        "model": "claude",
        "max_tokens": 500,
        "system": "Be terse.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Tool.", "signature": "sig"},
                    {"type": "text", "text": "Checking."},
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "t1", "content": "18C"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "text", "text": "Thanks."},
                ],
            },
        ],
        "stop_sequences": ["END"],
        "tools": [{"name": "weather", "description": "W.", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "metadata": {"user_id": "u"},
        "stream": True,
    }
    back = chat_request_to_messages(messages_request_to_chat(body))
    assert back == {**body, "tool_choice": {"type": "any", "disable_parallel_tool_use": True}}


# --- answers ------------------------------------------------------------------------------------


def test_messages_answer_becomes_a_valid_chat_completion_with_cache_usage() -> None:
    chat = messages_answer_to_chat(anthropic_answer())
    completion = ChatCompletion.model_validate(chat)
    assert completion.id == "chatcmpl-msg_01abc"
    assert completion.model == "claude-sonnet-4-5"
    message = chat["choices"][0]["message"]
    assert message["content"] == "I will check the weather in both cities."
    assert message["reasoning_content"] == "Let me think. Weather needs a tool."
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Let me think. Weather needs a tool.", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    assert [call["function"]["arguments"] for call in message["tool_calls"]] == [
        '{"city":"Paris","days":3}',
        '{"city":"Oslo","units":"C"}',
    ]
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    assert chat["usage"] == {
        "prompt_tokens": 1300,
        "completion_tokens": 42,
        "total_tokens": 1342,
        "prompt_tokens_details": {"cached_tokens": 1000},
        "cache_creation_input_tokens": 200,
    }


def test_an_answer_without_text_has_null_content() -> None:
    answer = {**anthropic_answer(), "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}
    assert messages_answer_to_chat(answer)["choices"][0]["message"]["content"] is None


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reason_becomes_finish_reason(stop_reason: str, finish_reason: str) -> None:
    chat = messages_answer_to_chat({**anthropic_answer(), "stop_reason": stop_reason})
    assert chat["choices"][0]["finish_reason"] == finish_reason


def test_chat_answer_becomes_a_valid_message_with_blocks_in_anthropic_order() -> None:
    message = Message.model_validate(chat_answer_to_messages(chat_answer()))
    assert message.id == "msg_xyz"
    assert message.model == "gpt-4.1"
    assert message_content(message) == [
        {"type": "thinking", "thinking": "The user wants weather. Two cities.", "signature": "sig-9"},
        {"type": "text", "text": "Checking the weather for you now."},
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris", "days": 3}},
        {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Oslo"}},
    ]
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    assert message.usage.model_dump(exclude_none=True) == {
        "input_tokens": 100,
        "output_tokens": 42,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }


@pytest.mark.parametrize(
    ("finish_reason", "stop_reason"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reason_becomes_stop_reason(finish_reason: str | None, stop_reason: str) -> None:
    answer = chat_answer()
    answer["choices"][0]["finish_reason"] = finish_reason
    assert chat_answer_to_messages(answer)["stop_reason"] == stop_reason


def test_unsigned_reasoning_becomes_a_thinking_block_with_an_empty_signature() -> None:
    answer = chat_answer()
    message = answer["choices"][0]["message"]
    del message["thinking_blocks"], message["tool_calls"]
    content = Message.model_validate(chat_answer_to_messages(answer)).content
    assert content[0].model_dump() == {
        "type": "thinking",
        "thinking": "The user wants weather. Two cities.",
        "signature": "",
    }


def test_an_upstream_tool_call_that_is_not_json_is_an_upstream_error() -> None:
    answer = chat_answer()
    answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = "{nope"
    with pytest.raises(UpstreamError):
        chat_answer_to_messages(answer)


def test_answers_round_trip() -> None:
    answer = anthropic_answer()
    assert chat_answer_to_messages(messages_answer_to_chat(answer)) == answer
    chat = chat_answer()
    back = messages_answer_to_chat(chat_answer_to_messages(chat))
    assert back["id"] == "chatcmpl-msg_xyz"
    assert back["choices"] == chat["choices"]
    assert back["usage"] == chat["usage"]


# --- Messages stream -> chat chunks -------------------------------------------------------------


def test_messages_stream_accumulates_to_the_translated_answer() -> None:
    answer = anthropic_answer()
    out = feed(MessagesEventsToChat(), anthropic_stream(answer))
    streamed = accumulate_chat(out)
    whole = ChatCompletion.model_validate(messages_answer_to_chat(answer))
    assert streamed.id == whole.id and streamed.model == whole.model
    assert streamed.usage == whole.usage
    assert streamed.choices[0].finish_reason == whole.choices[0].finish_reason
    got, want = streamed.choices[0].message, whole.choices[0].message
    assert got.content == want.content
    assert [(c.id, c.function.name, c.function.arguments) for c in got.tool_calls or []] == [
        (c.id, c.function.name, c.function.arguments) for c in want.tool_calls or []
    ]
    assert got.model_extra is not None and want.model_extra is not None
    assert got.model_extra["reasoning_content"] == want.model_extra["reasoning_content"]
    # Streamed signatures carry an index (the thinking text is checked end to end in
    # tests/conformance).
    assert [
        {k: v for k, v in b.items() if k not in ("thinking", "index")}
        for b in got.model_extra["thinking_blocks"]
    ] == [{k: v for k, v in b.items() if k != "thinking"} for b in want.model_extra["thinking_blocks"]]


def test_messages_stream_starts_with_the_role_and_ends_with_finish_usage_and_done() -> None:
    out = feed(MessagesEventsToChat(), anthropic_stream(anthropic_answer()))
    chunks = [read_event(event)[1] for event in out[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 1300
    assert out[-1] == DONE_EVENT


def test_tool_call_deltas_are_indexed_among_tool_calls_and_arguments_arrive_in_pieces() -> None:
    out = feed(MessagesEventsToChat(), anthropic_stream(anthropic_answer()))
    calls = [
        c
        for e in out[:-1]
        for choice in read_event(e)[1]["choices"]
        for c in choice["delta"].get("tool_calls", [])
    ]
    assert [c["index"] for c in calls if "id" in c] == [0, 1]
    assert (
        "".join(c["function"]["arguments"] for c in calls if c["index"] == 1) == '{"city":"Oslo","units":"C"}'
    )
    assert len([c for c in calls if c["index"] == 0]) > 3


def test_output_usage_is_the_last_cumulative_count_not_a_sum() -> None:
    translator = MessagesEventsToChat()
    events = anthropic_stream(anthropic_answer())
    cumulative = named_event(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 20}},
    )
    out = feed(translator, [*events[:-2], cumulative, *events[-2:]])
    assert read_event(out[-2])[1]["usage"]["completion_tokens"] == 42


def test_a_messages_error_midway_becomes_a_chat_error_and_nothing_follows() -> None:
    translator = MessagesEventsToChat()
    events = anthropic_stream(anthropic_answer())
    error = named_event(
        "error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    out = feed(translator, events[:5])
    assert translator.feed(error) == [
        data_event(
            {"error": {"message": "Overloaded", "type": "overloaded_error", "code": None, "param": None}}
        )
    ]
    assert feed(translator, events[5:]) == []
    assert out  # what came before the error stands


# --- chat chunks -> Messages stream -------------------------------------------------------------


def test_chat_stream_accumulates_with_the_anthropic_sdk_to_the_translated_answer() -> None:
    answer = chat_answer()
    out = feed(ChatEventsToMessages(), chat_stream(answer))
    streamed = accumulate_messages(out)
    whole = Message.model_validate(chat_answer_to_messages(answer))
    assert streamed == whole


def test_chat_stream_grammar_opens_one_block_at_a_time_and_ends_with_message_delta_and_stop() -> None:
    out = feed(ChatEventsToMessages(), chat_stream(chat_answer()))
    names = [read_event(e)[0] for e in out]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    open_block: int | None = None
    for event in out:
        name, data = read_event(event)
        if name == "content_block_start":
            assert open_block is None
            open_block = data["index"]
        elif name == "content_block_delta":
            assert data["index"] == open_block
        elif name == "content_block_stop":
            assert data["index"] == open_block
            open_block = None
    assert open_block is None
    assert read_event(out[-2])[1]["usage"] == {
        "input_tokens": 100,
        "output_tokens": 42,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": 200,
    }


def test_reasoning_never_lands_in_a_text_block() -> None:
    """Some upstreams interleave reasoning and text pieces; each piece goes in a block of its kind."""
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [
        chunk({"role": "assistant", "reasoning_content": "think 1"}),
        chunk({"content": "text 1"}),
        chunk({"reasoning_content": "think 2"}),
        chunk({"content": "text 2"}),
        chunk({}, "stop"),
        DONE_EVENT,
    ]
    out = feed(ChatEventsToMessages(), events)
    message = accumulate_messages(out)
    assert message_content(message) == [
        {"type": "thinking", "thinking": "think 1", "signature": ""},
        {"type": "text", "text": "text 1"},
        {"type": "thinking", "thinking": "think 2", "signature": ""},
        {"type": "text", "text": "text 2"},
    ]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 0  # no usage chunk came


def test_message_delta_waits_for_done_so_the_usage_chunk_after_finish_counts() -> None:
    translator = ChatEventsToMessages()
    events = chat_stream(chat_answer())
    finish, usage, done = events[-3:]
    feed(translator, events[:-3])
    assert [read_event(e)[0] for e in translator.feed(finish)] == ["content_block_stop"]
    assert translator.feed(usage) == []
    assert [read_event(e)[0] for e in translator.feed(done)] == ["message_delta", "message_stop"]


def test_redacted_thinking_is_a_whole_block() -> None:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events = [
        data_event(
            {
                **head,
                "choices": [
                    {
                        "index": 0,
                        "delta": {"thinking_blocks": [{"type": "redacted_thinking", "data": "opaque"}]},
                        "finish_reason": None,
                    }
                ],
            }
        ),
        data_event({**head, "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}),
        DONE_EVENT,
    ]
    message = accumulate_messages(feed(ChatEventsToMessages(), events))
    assert message_content(message) == [
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "text", "text": "Hi"},
    ]


def test_a_chat_error_midway_becomes_an_anthropic_error_and_nothing_follows() -> None:
    translator = ChatEventsToMessages()
    events = chat_stream(chat_answer())
    feed(translator, events[:4])
    error = data_event(
        {"error": {"message": "Rate limited", "type": "rate_limit_error", "code": "429", "param": None}}
    )
    out = translator.feed(error)
    assert out == [
        named_event(
            "error", {"type": "error", "error": {"type": "rate_limit_error", "message": "Rate limited"}}
        )
    ]
    assert feed(translator, events[4:]) == []


def test_an_empty_chat_stream_still_makes_a_well_formed_message() -> None:
    message = accumulate_messages(feed(ChatEventsToMessages(), [DONE_EVENT]))
    assert message.content == [] and message.stop_reason == "end_turn"


def test_streams_round_trip_messages_to_chat_to_messages() -> None:
    answer = anthropic_answer()
    chat_events = feed(MessagesEventsToChat(), anthropic_stream(answer))
    message = accumulate_messages(feed(ChatEventsToMessages(), chat_events))
    assert message == Message.model_validate(answer)


def test_thinking_tokens_cross_as_reasoning_tokens_both_ways() -> None:
    answer = anthropic_answer()
    answer["usage"]["output_tokens_details"] = {"thinking_tokens": 30}
    chat = messages_answer_to_chat(answer)
    assert chat["usage"]["completion_tokens_details"] == {"reasoning_tokens": 30}
    assert Message.model_validate(chat_answer_to_messages(chat)).usage.output_tokens_details is not None
    assert chat_answer_to_messages(chat)["usage"]["output_tokens_details"] == {"thinking_tokens": 30}


def test_a_messages_stream_stopping_without_a_stop_reason_still_finishes() -> None:
    events = [e for e in anthropic_stream(anthropic_answer()) if read_event(e)[0] != "message_delta"]
    streamed = accumulate_chat(feed(MessagesEventsToChat(), events))
    assert streamed.choices[0].finish_reason == "stop"


def test_empty_chat_messages_leave_no_empty_turn() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "two"},
        ]
    }
    assert chat_request_to_messages(body)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]}
    ]


def test_an_allowed_tools_choice_is_refused() -> None:
    body = {
        "messages": HI,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": {"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": []}},
    }
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_messages(body)
    assert refused.value.param == "tool_choice"


def test_tool_calls_without_index_are_told_apart_by_id() -> None:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [
        chunk(
            {"tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x":'}}]}
        ),
        chunk({"tool_calls": [{"function": {"arguments": "1}"}}]}),
        chunk(
            {"tool_calls": [{"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]}
        ),
        chunk({}, "tool_calls"),
        DONE_EVENT,
    ]
    message = accumulate_messages(feed(ChatEventsToMessages(), events))
    assert message_content(message) == [
        {"type": "tool_use", "id": "a", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "b", "name": "g", "input": {}},
    ]
    assert message.stop_reason == "tool_use"


def test_a_tool_use_started_with_its_whole_input_keeps_it() -> None:
    answer = {
        **anthropic_answer(),
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"a": 1}}],
    }
    events = anthropic_stream(answer)
    # A proxy that sends the whole input at the start and no deltas.
    events = [
        named_event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": answer["content"][0]},
        )
        if read_event(e)[0] == "content_block_start"
        else e
        for e in events
        if read_event(e)[0] != "content_block_delta"
    ]
    streamed = accumulate_chat(feed(MessagesEventsToChat(), events))
    assert streamed.choices[0].message.tool_calls is not None
    assert streamed.choices[0].message.tool_calls[0].function.arguments == '{"a":1}'


def test_reasoning_effort_gives_way_to_a_forced_tool() -> None:
    body = {
        "messages": HI,
        "reasoning_effort": "high",
        "temperature": 0.5,
        "tools": [{"type": "function", "function": {"name": "f"}}],
        "tool_choice": "required",
    }
    request = chat_request_to_messages(body)
    assert "thinking" not in request
    assert request["temperature"] == 0.5


def test_reasoning_effort_gives_way_to_a_tool_turn_without_its_thinking() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    history = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c", "content": "done"},
    ]
    assert "thinking" not in chat_request_to_messages({"messages": history, "reasoning_effort": "low"})
    history[1]["thinking_blocks"] = [{"type": "thinking", "thinking": "t", "signature": "s"}]
    assert "thinking" in chat_request_to_messages({"messages": history, "reasoning_effort": "low"})


def test_thinking_text_given_in_thinking_blocks_counts_once() -> None:
    head = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def chunk(delta: dict[str, Any]) -> bytes:
        return data_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})

    events = [
        # litellm repeats each reasoning piece in thinking_blocks
        chunk(
            {
                "reasoning_content": "a",
                "thinking_blocks": [{"type": "thinking", "thinking": "a", "signature": ""}],
            }
        ),
        chunk(
            {
                "reasoning_content": "b",
                "thinking_blocks": [{"type": "thinking", "thinking": "b", "signature": ""}],
            }
        ),
        chunk({"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "s1"}]}),
        # another upstream gives a whole block at once
        chunk({"thinking_blocks": [{"type": "thinking", "thinking": "whole", "signature": "s2"}]}),
        DONE_EVENT,
    ]
    message = accumulate_messages(feed(ChatEventsToMessages(), events))
    assert message_content(message) == [
        {"type": "thinking", "thinking": "ab", "signature": "s1"},
        {"type": "thinking", "thinking": "whole", "signature": "s2"},
    ]


def test_comments_and_pings_are_dropped_both_ways() -> None:
    assert ChatEventsToMessages().feed(b": keep-alive\n\n") == []
    assert MessagesEventsToChat().feed(named_event("ping", {"type": "ping"})) == []


def test_answers_with_odd_values_still_translate_to_valid_answers() -> None:
    Message.model_validate({**chat_answer_to_messages({"choices": "x", "usage": None}), "model": "m"})
    ChatCompletion.model_validate(
        {**messages_answer_to_chat({"content": [None, 3], "usage": []}), "model": "m"}
    )
