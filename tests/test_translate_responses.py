"""OpenAI Responses <-> chat translation (router/dialects/translate/responses/).

Well-formedness is proved with the openai SDK's own types and stream accumulators.
"""

from __future__ import annotations

import copy
from typing import Any

import openai
import orjson
import pytest
from openai.lib.streaming.chat._completions import ChatCompletionStreamState
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from router.dialects.translate.responses import (
    ChatEventsToResponses,
    ResponsesEventsToChat,
    chat_answer_to_responses,
    chat_request_to_responses,
    responses_answer_to_chat,
    responses_request_to_chat,
)
from router.errors import InvalidRequest, UpstreamError
from router.wire.sse import DONE_EVENT, data_event, named_event, read_event

STREAM_EVENT: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


# --- helpers ----------------------------------------------------------------------------------


def chat_answer(**message: Any) -> dict[str, Any]:
    """A chat.completion with the given message fields and a usage with cache and reasoning."""
    finish = message.pop("finish_reason", "tool_calls" if message.get("tool_calls") else "stop")
    return {
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, **message},
                "finish_reason": finish,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "prompt_tokens_details": {"cached_tokens": 100},
            "completion_tokens_details": {"reasoning_tokens": 12},
            "cache_creation_input_tokens": 7,
        },
    }


def chat_chunks(answer: dict[str, Any], piece: int = 3) -> list[bytes]:
    """The chat stream of an answer: role, reasoning, text and call arguments in small pieces,
    the finish chunk, the usage chunk, [DONE]."""
    head = {"id": answer["id"], "object": "chat.completion.chunk", "created": answer["created"]}
    head["model"] = answer["model"]
    choice = answer["choices"][0]
    message = choice["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    out = [chunk({"role": "assistant", "content": ""})]
    for field in ("reasoning_content", "content", "refusal"):
        text = message.get(field) or ""
        out += [chunk({field: text[i : i + piece]}) for i in range(0, len(text), piece)]
    for index, call in enumerate(message.get("tool_calls") or []):
        first = {"index": index, "id": call["id"], "type": "function"}
        out.append(
            chunk(
                {"tool_calls": [{**first, "function": {"name": call["function"]["name"], "arguments": ""}}]}
            )
        )
        args = call["function"]["arguments"]
        for i in range(0, len(args), piece):
            out.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": args[i : i + piece]}}]})
            )
    out.append(chunk({}, choice["finish_reason"]))
    out.append(data_event({**head, "choices": [], "usage": answer["usage"]}))
    return [*out, DONE_EVENT]


def run(translator: Any, events: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for event in events:
        out += translator.feed(event)
    return out


def responses_events(out: list[bytes]) -> list[dict[str, Any]]:
    """The payloads of translated Responses events, each checked: its name matches its type and
    it parses as the SDK's ResponseStreamEvent."""
    payloads = []
    for event in out:
        name, data = read_event(event)
        assert name == data["type"]
        STREAM_EVENT.validate_python(data)
        payloads.append(data)
    return payloads


def accumulate_responses(payloads: list[dict[str, Any]]) -> Response:
    """The final Response as the SDK's own stream state builds it."""
    state: ResponseStreamState[Any] = ResponseStreamState(input_tools=openai.omit, text_format=openai.omit)
    final: Response | None = None
    for payload in payloads:
        for event in state.handle_event(STREAM_EVENT.validate_python(payload)):
            if event.type in ("response.completed", "response.incomplete"):
                final = event.response
    assert final is not None
    return final


def accumulate_chat(out: list[bytes]) -> ChatCompletion:
    """The final chat completion as the SDK's own stream state builds it; checks the stream ends
    with a usage chunk then [DONE]."""
    assert out[-1] == DONE_EVENT
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    chunks = [read_event(event)[1] for event in out[:-1]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    try:
        return state.get_final_completion()
    except openai.LengthFinishReasonError as cut:  # the SDK refuses to parse a cut answer
        return cut.completion


def calls_of(completion: ChatCompletion) -> list[tuple[str, str, str]]:
    """A chat completion's tool calls as (id, name, arguments)."""
    calls = completion.choices[0].message.tool_calls or []
    return [(c.id, c.function.name, c.function.arguments) for c in calls if c.type == "function"]


def essentials(response: Response) -> dict[str, Any]:
    """What must agree between a streamed and a whole Response."""
    return {
        "id": response.id,
        "status": response.status,
        "incomplete_details": response.incomplete_details,
        "output": [item.model_dump(exclude_none=True) for item in response.output],
        "output_text": response.output_text,
        "usage": response.usage,
    }


# --- requests: Responses -> chat ----------------------------------------------------------------


def test_instructions_become_the_first_system_message_and_a_string_input_one_user_message() -> None:
    chat = responses_request_to_chat({"model": "m", "instructions": "Be brief.", "input": "hi"})
    assert chat == {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    }


def test_an_empty_input_is_an_empty_user_message_or_none() -> None:
    """Both are valid in OpenAI's specification: ``""`` says nothing, ``[]`` holds no item."""
    assert responses_request_to_chat({"model": "m", "input": ""})["messages"] == [
        {"role": "user", "content": ""}
    ]
    chat = responses_request_to_chat({"model": "m", "instructions": "Be brief.", "input": []})
    assert chat["messages"] == [{"role": "system", "content": "Be brief."}]


@pytest.mark.parametrize("input_", [[], [{"type": "web_search_call", "id": "ws_1", "status": "completed"}]])
def test_a_request_that_leaves_chat_no_message_is_refused(input_: list[Any]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        responses_request_to_chat({"model": "m", "input": input_})
    assert refused.value.param == "input" and "nothing to send" in refused.value.message


def test_a_codex_request_translates_with_its_hints_dropped() -> None:
    body = {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
        ],
        "tools": [
            {
                "type": "function",
                "name": "shell",
                "description": "run",
                "parameters": {"type": "object"},
                "strict": False,
            },
            {"type": "local_shell"},
            {"type": "web_search"},
            {"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "k",
        "client_metadata": {"x": "y"},
        "stream": True,
    }
    assert responses_request_to_chat(body) == {
        "model": "gpt-5-codex",
        "messages": [
            {"role": "system", "content": "You are Codex."},
            {"role": "system", "content": "sandbox"},
            {"role": "user", "content": "list files"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "shell",
                    "description": "run",
                    "parameters": {"type": "object"},
                    "strict": False,
                },
            }
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning_effort": "medium",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_consecutive_function_calls_join_the_assistant_message_before_them() -> None:
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "go"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "On it."}],
                },
                {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "b", "arguments": '{"x":1}'},
                {"type": "function_call_output", "call_id": "c1", "output": "one"},
                {
                    "type": "function_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "two"}],
                },
                {"type": "function_call", "call_id": "c3", "name": "a", "arguments": "{}"},
            ],
        }
    )
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": "On it.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "b", "arguments": '{"x":1}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c3", "type": "function", "function": {"name": "a", "arguments": "{}"}}],
        },
    ]


def test_reasoning_items_attach_to_the_next_assistant_message_or_are_dropped() -> None:
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "q"},
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "summary": [
                        {"type": "summary_text", "text": "think"},
                        {"type": "summary_text", "text": "more"},
                    ],
                    "encrypted_content": "opaque",
                },
                {"type": "function_call", "call_id": "c1", "name": "a", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": "r"},
                {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "again"}]},
                {"role": "assistant", "content": "done"},
                {"type": "reasoning", "id": "rs_3", "summary": [{"type": "summary_text", "text": "lost"}]},
                {"role": "user", "content": "next"},
            ],
        }
    )
    assistants = [m for m in chat["messages"] if m["role"] == "assistant"]
    assert assistants[0]["reasoning_content"] == "think\n\nmore"
    assert assistants[1] == {"role": "assistant", "content": "done", "reasoning_content": "again"}
    assert "lost" not in orjson.dumps(chat).decode()


def test_images_by_url_cross_and_files_are_refused() -> None:
    image = {"type": "input_image", "image_url": "https://x/cat.png", "detail": "low"}
    chat = responses_request_to_chat(
        {"model": "m", "input": [{"role": "user", "content": [{"type": "input_text", "text": "see"}, image]}]}
    )
    assert chat["messages"][0]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
    ]
    with pytest.raises(InvalidRequest) as by_id:
        responses_request_to_chat(
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]}
        )
    assert by_id.value.param == "input[0].content[0].file_id"
    with pytest.raises(InvalidRequest) as file:
        responses_request_to_chat(
            {"model": "m", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}
        )
    assert file.value.param == "input[0].content[0]"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("previous_response_id", "resp_1"),
        ("background", True),
        ("conversation", "conv_1"),
        ("prompt", {"id": "p"}),
    ],
)
def test_state_kept_by_openai_is_refused(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        responses_request_to_chat({"model": "m", "input": "hi", field: value})
    assert refused.value.param == field


def test_previous_response_id_refusal_says_to_send_the_full_input() -> None:
    with pytest.raises(InvalidRequest, match="stateless"):
        responses_request_to_chat({"model": "m", "input": "hi", "previous_response_id": "resp_1"})


def test_item_references_are_refused_and_built_in_tool_items_dropped() -> None:
    with pytest.raises(InvalidRequest) as refused:
        responses_request_to_chat({"model": "m", "input": ["x"]})
    assert refused.value.param == "input[0]"
    with pytest.raises(InvalidRequest) as ref:
        responses_request_to_chat({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]})
    assert ref.value.param == "input[0]"
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": [
                {"role": "user", "content": "q"},
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "local_shell_call", "id": "ls", "call_id": "c", "action": {}, "status": "completed"},
                {"type": "local_shell_call_output", "id": "c", "output": "x"},
                {"type": "something_new"},
            ],
        }
    )
    assert chat["messages"] == [{"role": "user", "content": "q"}]


def test_text_format_becomes_response_format() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": "q",
            "text": {"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}},
        }
    )
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "A", "schema": schema, "strict": True},
    }
    chat = responses_request_to_chat(
        {"model": "m", "input": "q", "text": {"format": {"type": "json_object"}}}
    )
    assert chat["response_format"] == {"type": "json_object"}
    chat = responses_request_to_chat(
        {"model": "m", "input": "q", "text": {"format": {"type": "text"}, "verbosity": "low"}}
    )
    assert "response_format" not in chat


@pytest.mark.parametrize(
    ("effort", "expected"),
    [
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
        ("none", None),
    ],
)
def test_reasoning_effort_maps_to_the_portable_levels(effort: str, expected: str | None) -> None:
    chat = responses_request_to_chat({"model": "m", "input": "q", "reasoning": {"effort": effort}})
    assert chat.get("reasoning_effort") == expected


def test_sampling_limits_and_user_cross() -> None:
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": "q",
            "max_output_tokens": 99,
            "temperature": 0.2,
            "top_p": 0.9,
            "safety_identifier": "u1",
            "user": "old",
            "metadata": {"a": "b"},
            "truncation": "auto",
            "service_tier": "flex",
            "store": True,
        }
    )
    assert chat == {
        "model": "m",
        "messages": [{"role": "user", "content": "q"}],
        "max_tokens": 99,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u1",
    }


def test_tool_choice_naming_a_function_nests_and_one_naming_a_dropped_tool_falls_back() -> None:
    tools = [{"type": "function", "name": "f", "parameters": {}}, {"type": "web_search"}]
    chat = responses_request_to_chat(
        {"model": "m", "input": "q", "tools": tools, "tool_choice": {"type": "function", "name": "f"}}
    )
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    chat = responses_request_to_chat(
        {"model": "m", "input": "q", "tools": tools, "tool_choice": {"type": "web_search"}}
    )
    assert "tool_choice" not in chat
    only_builtin = responses_request_to_chat(
        {
            "model": "m",
            "input": "q",
            "tools": [{"type": "web_search"}],
            "tool_choice": "required",
            "parallel_tool_calls": True,
        }
    )
    assert "tools" not in only_builtin and "tool_choice" not in only_builtin
    assert "parallel_tool_calls" not in only_builtin


def test_odd_values_are_refused_or_ignored_without_crashing() -> None:
    with pytest.raises(InvalidRequest):
        responses_request_to_chat({"model": "m", "input": 5})
    with pytest.raises(InvalidRequest):
        responses_request_to_chat(
            {"model": "m", "input": [{"type": "message", "role": "tool", "content": "x"}]}
        )
    chat = responses_request_to_chat(
        {
            "model": "m",
            "input": [{"type": "message", "role": "user", "content": None}],
            "tools": "x",
            "reasoning": 3,
            "text": [],
        }
    )
    assert chat["messages"] == [{"role": "user", "content": ""}]


# --- requests: chat -> Responses ----------------------------------------------------------------


def test_a_chat_request_becomes_input_items_with_store_false() -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
                ],
            },
            {
                "role": "assistant",
                "content": "calling",
                "reasoning_content": "hidden",
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "developer", "content": "dev"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "f", "description": "d", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": True,
        "max_completion_tokens": 50,
        "temperature": 0.5,
        "reasoning_effort": "high",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "A", "schema": {"type": "object"}},
        },
        "user": "u",
        "store": True,
        "seed": 4,
        "presence_penalty": 0.1,
        "metadata": {"a": "b"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert chat_request_to_responses(body) == {
        "model": "m",
        "store": False,
        "input": [
            {"type": "message", "role": "system", "content": "sys"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "auto"},
                ],
            },
            {"type": "message", "role": "assistant", "content": "calling"},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            {"type": "message", "role": "developer", "content": "dev"},
        ],
        "tools": [
            {
                "type": "function",
                "name": "f",
                "description": "d",
                "parameters": {"type": "object"},
                "strict": False,
            }
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "parallel_tool_calls": True,
        "max_output_tokens": 50,
        "temperature": 0.5,
        "reasoning": {"effort": "high"},
        "text": {"format": {"type": "json_schema", "name": "A", "schema": {"type": "object"}}},
        "user": "u",
        "stream": True,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n", 2),
        ("logprobs", True),
        ("stop", ["\n"]),
        ("logit_bias", {"1": 5}),
        ("audio", {"voice": "x"}),
        ("functions", [{}]),
    ],
)
def test_what_responses_cannot_give_is_refused(field: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_responses(
            {"model": "m", "messages": [{"role": "user", "content": "q"}], field: value}
        )
    assert refused.value.param == field


def test_chat_non_function_tools_and_parts_are_refused() -> None:
    with pytest.raises(InvalidRequest) as tool:
        chat_request_to_responses(
            {"model": "m", "messages": [], "tools": [{"type": "custom", "custom": {"name": "x"}}]}
        )
    assert tool.value.param == "tools[0]"
    with pytest.raises(InvalidRequest) as part:
        chat_request_to_responses(
            {
                "model": "m",
                "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            }
        )
    assert part.value.param == "messages[0].content[0]"


def test_chat_to_responses_to_chat_keeps_the_conversation() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "calling",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "[]"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "one"},
        {"role": "tool", "tool_call_id": "c2", "content": "two"},
        {"role": "assistant", "content": "answer"},
    ]
    tools = [
        {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}}
    ]
    body = {
        "model": "m",
        "messages": messages,
        "tools": tools,
        "tool_choice": "required",
        "max_tokens": 9,
        "stream": True,
    }
    back = responses_request_to_chat(chat_request_to_responses(body))
    assert back == {**body, "stream_options": {"include_usage": True}}


def test_responses_to_chat_to_responses_keeps_the_items() -> None:
    items = [
        {"type": "message", "role": "user", "content": "q"},
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "r"},
        {"type": "message", "role": "assistant", "content": "done"},
    ]
    body = {
        "model": "m",
        "input": items,
        "instructions": "sys",
        "max_output_tokens": 5,
        "reasoning": {"effort": "low"},
    }
    back = chat_request_to_responses(responses_request_to_chat(body))
    assert back["input"] == [{"type": "message", "role": "system", "content": "sys"}, *items]
    assert back["max_output_tokens"] == 5 and back["reasoning"] == {"effort": "low"}


# --- answers --------------------------------------------------------------------------------


def test_a_chat_answer_becomes_a_valid_response_with_reasoning_message_and_calls() -> None:
    answer = chat_answer(
        content="Here.",
        reasoning_content="thinking",
        tool_calls=[{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}],
    )
    response = Response.model_validate(chat_answer_to_responses(answer))
    assert response.id == "resp_abc123" and response.status == "completed"
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call"]
    assert response.output[0].id == "rs_abc123"
    assert response.output_text == "Here."
    call = response.output[2]
    assert call.type == "function_call"
    assert (call.id, call.call_id, call.name, call.arguments) == ("fc_abc123_0", "call_1", "f", '{"a":1}')
    assert response.usage is not None
    assert response.usage.model_dump() == {
        "input_tokens": 120,
        "input_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 7},
        "output_tokens": 30,
        "output_tokens_details": {"reasoning_tokens": 12},
        "total_tokens": 150,
    }


@pytest.mark.parametrize(
    ("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")]
)
def test_a_cut_chat_answer_is_an_incomplete_response(finish: str, reason: str) -> None:
    response = Response.model_validate(
        chat_answer_to_responses(chat_answer(content="Hal", finish_reason=finish))
    )
    assert response.status == "incomplete"
    assert response.incomplete_details is not None and response.incomplete_details.reason == reason


def test_an_odd_chat_answer_still_makes_a_valid_response() -> None:
    Response.model_validate(chat_answer_to_responses({}))
    Response.model_validate(chat_answer_to_responses({"id": 5, "choices": [None], "usage": "x"}))


def test_a_response_becomes_a_valid_chat_completion() -> None:
    response = {
        "id": "resp_9",
        "object": "response",
        "created_at": 1_700_000_001,
        "status": "completed",
        "model": "o-x",
        "output": [
            {
                "type": "reasoning",
                "id": "rs_9",
                "summary": [{"type": "summary_text", "text": "a"}, {"type": "summary_text", "text": "b"}],
            },
            {"type": "web_search_call", "id": "ws", "status": "completed"},
            {
                "type": "message",
                "id": "msg_9",
                "role": "assistant",
                "status": "completed",
                "content": [
                    {"type": "output_text", "text": "Hel", "annotations": []},
                    {"type": "output_text", "text": "lo", "annotations": []},
                ],
            },
            {"type": "function_call", "id": "fc_9", "call_id": "call_9", "name": "f", "arguments": "{}"},
        ],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"cached_tokens": 4},
            "output_tokens": 6,
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": 16,
        },
    }
    chat = responses_answer_to_chat(response)
    ChatCompletion.model_validate(chat)
    assert chat["id"] == "chatcmpl-9"
    assert chat["choices"][0] == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "Hello",
            "refusal": None,
            "reasoning_content": "a\n\nb",
            "tool_calls": [
                {"id": "call_9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        "finish_reason": "tool_calls",
        "logprobs": None,
    }
    assert chat["usage"] == {
        "prompt_tokens": 10,
        "completion_tokens": 6,
        "total_tokens": 16,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }


def test_an_incomplete_response_finishes_with_length_and_a_refusal_crosses() -> None:
    response = {
        "id": "resp_1",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}],
    }
    chat = responses_answer_to_chat(response)
    assert chat["choices"][0]["finish_reason"] == "length"
    assert (
        chat["choices"][0]["message"]["refusal"] == "No." and chat["choices"][0]["message"]["content"] is None
    )


def test_a_failed_response_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="boom"):
        responses_answer_to_chat({"status": "failed", "error": {"code": "server_error", "message": "boom"}})


def test_chat_answer_to_responses_and_back_keeps_the_answer() -> None:
    answer = chat_answer(
        content="Hi.",
        refusal=None,
        reasoning_content="hmm",
        tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
    )
    assert responses_answer_to_chat(chat_answer_to_responses(answer)) == answer


# --- streams: chat -> Responses -------------------------------------------------------------


def test_a_chat_text_stream_becomes_the_minimal_grammar_codex_accepts() -> None:
    answer = chat_answer(content="Hello there")
    payloads = responses_events(run(ChatEventsToResponses(), chat_chunks(answer)))
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    types = [p["type"] for p in payloads]
    assert types[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert types[4:-4] == ["response.output_text.delta"] * 4
    assert types[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert payloads[0]["response"]["status"] == "in_progress"
    assert payloads[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] == 100


def test_a_streamed_answer_accumulates_to_the_whole_translation() -> None:
    answer = chat_answer(
        content="Let me check both.",
        reasoning_content="I should call two tools.",
        tool_calls=[
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "read", "arguments": '{"path": "/etc/hosts"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "list", "arguments": '{"dir": "/tmp", "all": true}'},
            },
        ],
    )
    payloads = responses_events(run(ChatEventsToResponses(), chat_chunks(answer, piece=4)))
    streamed = accumulate_responses(payloads)
    whole = Response.model_validate(chat_answer_to_responses(answer))
    assert essentials(streamed) == essentials(whole)
    deltas = [p for p in payloads if p["type"] == "response.function_call_arguments.delta"]
    assert len(deltas) > 4  # arguments arrived in pieces
    added = [p for p in payloads if p["type"] == "response.output_item.added"]
    assert [(p["output_index"], p["item"]["id"]) for p in added] == [
        (0, "rs_abc123"),
        (1, "msg_abc123"),
        (2, "fc_abc123_0"),
        (3, "fc_abc123_1"),
    ]
    assert [p["type"] for p in payloads if "reasoning" in p["type"]] == [
        "response.reasoning_summary_part.added",
        *["response.reasoning_summary_text.delta"] * 6,
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ]


def test_a_stream_cut_by_length_ends_with_response_incomplete() -> None:
    answer = chat_answer(content="Partial", finish_reason="length")
    payloads = responses_events(run(ChatEventsToResponses(), chat_chunks(answer)))
    assert payloads[-1]["type"] == "response.incomplete"
    assert essentials(accumulate_responses(payloads)) == essentials(
        Response.model_validate(chat_answer_to_responses(answer))
    )


def test_interleaved_parallel_call_deltas_stay_separate_items() -> None:
    head = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m"}

    def calls(*pieces: dict[str, Any], finish: str | None = None) -> bytes:
        return data_event(
            {
                **head,
                "choices": [{"index": 0, "delta": {"tool_calls": list(pieces)}, "finish_reason": finish}],
            }
        )

    events = [
        calls({"index": 0, "id": "c0", "type": "function", "function": {"name": "a", "arguments": '{"x'}}),
        calls({"index": 1, "id": "c1", "type": "function", "function": {"name": "b", "arguments": '{"y'}}),
        calls(
            {"index": 0, "function": {"arguments": '":1}'}}, {"index": 1, "function": {"arguments": '":2}'}}
        ),
        calls(finish="tool_calls"),
        DONE_EVENT,
    ]
    final = accumulate_responses(responses_events(run(ChatEventsToResponses(), events)))
    assert [(i.type, getattr(i, "arguments", None)) for i in final.output] == [
        ("function_call", '{"x":1}'),
        ("function_call", '{"y":2}'),
    ]
    assert final.usage is not None and final.usage.total_tokens == 0


def test_a_chat_error_midway_becomes_an_error_event_and_nothing_after() -> None:
    translator = ChatEventsToResponses()
    answer = chat_answer(content="Hello there")
    out = run(translator, chat_chunks(answer)[:3])
    error = {"error": {"message": "overloaded", "type": "upstream_error", "code": "502", "param": None}}
    out += translator.feed(data_event(error))
    payloads = responses_events(out)
    detail = {"code": "502", "message": "overloaded", "param": None}
    assert payloads[-2] == {
        "type": "error",
        "sequence_number": len(payloads) - 2,
        **detail,
        "error": {"type": "upstream_error", **detail},
    }
    failed = payloads[-1]
    assert failed["type"] == "response.failed" and failed["sequence_number"] == len(payloads) - 1
    assert failed["response"]["id"] == payloads[0]["response"]["id"]
    assert failed["response"]["error"] == {"code": "server_error", "message": "overloaded"}
    Response.model_validate(failed["response"])
    assert run(translator, chat_chunks(answer)[3:]) == []


def test_comments_and_empty_deltas_add_no_events() -> None:
    translator = ChatEventsToResponses()
    assert translator.feed(b": keep-alive\n\n") == []
    first = run(translator, chat_chunks(chat_answer(content="x"))[:1])
    assert [read_event(e)[0] for e in first] == ["response.created", "response.in_progress"]


# --- streams: Responses -> chat -------------------------------------------------------------


def openai_stream(response: dict[str, Any]) -> list[bytes]:
    """A Responses stream as OpenAI sends it for a response, written out by hand: reasoning
    summary in two parts, text, a call whose arguments come in pieces, then completion."""
    seq = iter(range(1000))

    def ev(kind: str, **fields: Any) -> bytes:
        return named_event(kind, {"type": kind, "sequence_number": next(seq), **fields})

    start = {**response, "status": "in_progress", "output": [], "usage": None}
    rs = {"item_id": "rs_1", "output_index": 0}
    msg = {"item_id": "msg_1", "output_index": 1, "content_index": 0}
    fc = {"item_id": "fc_1", "output_index": 2}
    return [
        ev("response.created", response=start),
        ev("response.in_progress", response=start),
        ev(
            "response.output_item.added",
            output_index=0,
            item={"type": "reasoning", "id": "rs_1", "summary": []},
        ),
        ev(
            "response.reasoning_summary_part.added",
            **rs,
            summary_index=0,
            part={"type": "summary_text", "text": ""},
        ),
        ev("response.reasoning_summary_text.delta", **rs, summary_index=0, delta="Plan"),
        ev("response.reasoning_summary_text.delta", **rs, summary_index=0, delta=" A"),
        ev(
            "response.reasoning_summary_part.added",
            **rs,
            summary_index=1,
            part={"type": "summary_text", "text": ""},
        ),
        ev("response.reasoning_summary_text.delta", **rs, summary_index=1, delta="Plan B"),
        ev("response.output_item.done", output_index=0, item=response["output"][0]),
        ev(
            "response.output_item.added",
            output_index=1,
            item={**response["output"][1], "content": [], "status": "in_progress"},
        ),
        ev("response.content_part.added", **msg, part={"type": "output_text", "text": "", "annotations": []}),
        ev("response.output_text.delta", **msg, delta="Look", logprobs=[]),
        ev("response.output_text.delta", **msg, delta="ing.", logprobs=[]),
        ev("response.output_text.done", **msg, text="Looking.", logprobs=[]),
        ev("response.content_part.done", **msg, part=response["output"][1]["content"][0]),
        ev("response.output_item.done", output_index=1, item=response["output"][1]),
        ev(
            "response.output_item.added",
            output_index=2,
            item={**response["output"][2], "arguments": "", "status": "in_progress"},
        ),
        ev("response.function_call_arguments.delta", **fc, delta='{"q":'),
        ev("response.function_call_arguments.delta", **fc, delta='"x"}'),
        ev("response.function_call_arguments.done", **fc, name="search", arguments='{"q":"x"}'),
        ev("response.output_item.done", output_index=2, item=response["output"][2]),
        ev("response.completed", response=response),
    ]


OPENAI_RESPONSE: dict[str, Any] = {
    "id": "resp_77",
    "object": "response",
    "created_at": 1_700_000_002,
    "status": "completed",
    "model": "gpt-5",
    "output": [
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [
                {"type": "summary_text", "text": "Plan A"},
                {"type": "summary_text", "text": "Plan B"},
            ],
        },
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Looking.", "annotations": []}],
        },
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "search",
            "arguments": '{"q":"x"}',
            "status": "completed",
        },
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 40, "cache_write_tokens": 0},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 8},
        "total_tokens": 70,
    },
}


def test_a_responses_stream_accumulates_to_the_whole_chat_translation() -> None:
    Response.model_validate(OPENAI_RESPONSE)
    events = openai_stream(OPENAI_RESPONSE)
    for event in events:
        STREAM_EVENT.validate_python(read_event(event)[1])
    out = run(ResponsesEventsToChat(), events)
    streamed = accumulate_chat(out)
    whole = ChatCompletion.model_validate(responses_answer_to_chat(OPENAI_RESPONSE))
    assert streamed.id == whole.id
    assert streamed.choices[0].finish_reason == whole.choices[0].finish_reason == "tool_calls"
    assert streamed.choices[0].message.content == whole.choices[0].message.content == "Looking."
    assert calls_of(streamed) == calls_of(whole) == [("call_1", "search", '{"q":"x"}')]
    assert streamed.usage == whole.usage
    reasoning = "".join(
        read_event(e)[1]["choices"][0]["delta"].get("reasoning_content", "")
        for e in out[:-2]
        if read_event(e)[1]["choices"]
    )
    assert reasoning == whole.choices[0].message.model_extra["reasoning_content"] == "Plan A\n\nPlan B"  # type: ignore[index]


def test_call_arguments_sent_only_whole_still_reach_chat() -> None:
    events = [e for e in openai_stream(OPENAI_RESPONSE) if b"function_call_arguments.delta" not in e]
    streamed = accumulate_chat(run(ResponsesEventsToChat(), events))
    calls = streamed.choices[0].message.tool_calls or []
    assert [c.function.arguments for c in calls] == ['{"q":"x"}']  # type: ignore[union-attr]


def test_an_incomplete_responses_stream_finishes_with_length() -> None:
    response = {
        **OPENAI_RESPONSE,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
    }
    response["output"] = OPENAI_RESPONSE["output"][1:2]
    events = [e for e in openai_stream(OPENAI_RESPONSE)[:16] if b"reasoning" not in e]
    events.append(
        named_event(
            "response.incomplete",
            {"type": "response.incomplete", "sequence_number": 99, "response": response},
        )
    )
    streamed = accumulate_chat(run(ResponsesEventsToChat(), events))
    assert streamed.choices[0].finish_reason == "length"
    assert streamed.choices[0].message.content == "Looking."


@pytest.mark.parametrize(
    "failure",
    [
        {
            "type": "error",
            "sequence_number": 5,
            "code": "rate_limit_exceeded",
            "message": "slow down",
            "param": None,
        },
        {
            "type": "response.failed",
            "sequence_number": 5,
            "response": {
                **OPENAI_RESPONSE,
                "status": "failed",
                "error": {"code": "rate_limit_exceeded", "message": "slow down"},
            },
        },
    ],
)
def test_a_responses_failure_midway_becomes_a_chat_error_and_nothing_after(failure: dict[str, Any]) -> None:
    translator = ResponsesEventsToChat()
    events = openai_stream(OPENAI_RESPONSE)
    out = run(translator, events[:5])
    out += translator.feed(named_event(failure["type"], failure))
    error = read_event(out[-1])[1]
    assert error == {
        "error": {
            "message": "slow down",
            "type": "upstream_error",
            "code": "rate_limit_exceeded",
            "param": None,
        }
    }
    assert run(translator, events[5:]) == []


def test_the_chat_to_responses_to_chat_stream_keeps_the_answer() -> None:
    answer = chat_answer(
        content="Both.",
        reasoning_content="two calls",
        tool_calls=[
            {"id": "c1", "type": "function", "function": {"name": "a", "arguments": '{"k": "v"}'}},
            {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
        ],
    )
    there = run(ChatEventsToResponses(), chat_chunks(answer))
    back = accumulate_chat(run(ResponsesEventsToChat(), there))
    expected = ChatCompletion.model_validate(copy.deepcopy(answer))
    assert back.id == expected.id
    assert back.choices[0].message.content == expected.choices[0].message.content
    assert back.choices[0].finish_reason == "tool_calls"
    assert calls_of(back) == calls_of(expected)
    assert back.usage is not None and back.usage.model_dump(exclude_none=True) == answer["usage"]


def test_a_comment_before_response_created_adds_no_chunk() -> None:
    translator = ResponsesEventsToChat()
    assert translator.feed(b": keep-alive\n\n") == []
    first = translator.feed(openai_stream(OPENAI_RESPONSE)[0])
    assert read_event(first[0])[1]["id"] == "chatcmpl-77"


def test_instructions_in_item_form_become_leading_messages() -> None:
    chat = responses_request_to_chat(
        {"model": "m", "instructions": [{"role": "developer", "content": "rules"}], "input": "hi"}
    )
    assert chat["messages"] == [{"role": "system", "content": "rules"}, {"role": "user", "content": "hi"}]


def test_a_user_message_of_several_text_parts_keeps_them_and_a_system_one_joins_them() -> None:
    parts = [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]
    chat = responses_request_to_chat(
        {"model": "m", "input": [{"role": "system", "content": parts}, {"role": "user", "content": parts}]}
    )
    assert chat["messages"] == [
        {"role": "system", "content": "a\n\nb"},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    ]


def test_allowed_tools_choices_cross_both_ways() -> None:
    tools = [
        {"type": "function", "name": "f", "parameters": {}},
        {"type": "function", "name": "g", "parameters": {}},
    ]
    choice = {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "f"}, {"type": "web_search"}],
    }
    chat = responses_request_to_chat({"model": "m", "input": "q", "tools": tools, "tool_choice": choice})
    assert chat["tool_choice"] == {
        "type": "allowed_tools",
        "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "f"}}]},
    }
    back = chat_request_to_responses(chat)
    assert back["tool_choice"] == {
        "type": "allowed_tools",
        "mode": "required",
        "tools": [{"type": "function", "name": "f"}],
    }


def test_a_streamed_refusal_gets_its_own_content_part() -> None:
    answer = chat_answer(content="Well.", refusal="I can't help with that.", finish_reason="content_filter")
    payloads = responses_events(run(ChatEventsToResponses(), chat_chunks(answer)))
    parts = [p["part"]["type"] for p in payloads if p["type"] == "response.content_part.added"]
    assert parts == ["output_text", "refusal"]
    done = next(p for p in payloads if p["type"] == "response.refusal.done")
    assert (done["content_index"], done["refusal"]) == (1, "I can't help with that.")
    assert payloads[-1]["type"] == "response.incomplete"
    assert payloads[-1]["response"]["incomplete_details"] == {"reason": "content_filter"}
    assert essentials(accumulate_responses(payloads)) == essentials(
        Response.model_validate(chat_answer_to_responses(answer))
    )


def test_a_responses_refusal_stream_reaches_chat_as_refusal() -> None:
    seq = iter(range(100))

    def ev(kind: str, **fields: Any) -> bytes:
        return named_event(kind, {"type": kind, "sequence_number": next(seq), **fields})

    response = {
        **OPENAI_RESPONSE,
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "refusal", "refusal": "No."}],
            }
        ],
    }
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    events = [
        ev("response.created", response={**response, "status": "in_progress", "output": []}),
        ev("response.refusal.delta", **where, delta="No"),
        ev("response.refusal.delta", **where, delta="."),
        ev("response.completed", response=response),
    ]
    streamed = accumulate_chat(run(ResponsesEventsToChat(), events))
    whole = ChatCompletion.model_validate(responses_answer_to_chat(response))
    assert streamed.choices[0].message.refusal == whole.choices[0].message.refusal == "No."
    assert streamed.choices[0].finish_reason == whole.choices[0].finish_reason == "stop"


def test_translated_requests_are_what_the_sdk_would_send() -> None:
    """Each translated request validates as the openai SDK's own request parameters."""
    from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming
    from openai.types.responses.response_create_params import ResponseCreateParamsStreaming

    responses_params: TypeAdapter[Any] = TypeAdapter(ResponseCreateParamsStreaming)
    chat_params: TypeAdapter[Any] = TypeAdapter(CompletionCreateParamsStreaming)
    codex = {
        "model": "gpt-5-codex",
        "instructions": "x",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox"}]},
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "s"}],
                "encrypted_content": "e",
            },
            {"type": "function_call", "call_id": "c", "name": "shell", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "a"},
                    {"type": "input_image", "image_url": "https://x", "detail": "auto"},
                ],
            },
        ],
        "tools": [
            {"type": "function", "name": "shell", "parameters": {"type": "object"}, "strict": False},
            {"type": "local_shell"},
        ],
        "tool_choice": "auto",
        "parallel_tool_calls": False,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "text": {
            "format": {"type": "json_schema", "name": "A", "schema": {"type": "object"}, "strict": True}
        },
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "k",
        "stream": True,
        "max_output_tokens": 10,
    }
    responses_params.validate_python(codex)
    chat = responses_request_to_chat(codex)
    chat_params.validate_python(chat)
    responses_params.validate_python(chat_request_to_responses(chat))


def test_odd_stream_events_neither_crash_nor_break_the_grammar() -> None:
    chat_events = [
        data_event([1, 2]),
        data_event({"choices": "x", "usage": 5}),
        data_event({"choices": [None, {"delta": {"tool_calls": [None, {"index": "x", "function": 3}]}}]}),
        data_event(
            {
                "id": 7,
                "choices": [{"delta": {"content": 5, "reasoning_content": "r"}, "finish_reason": "weird"}],
            }
        ),
        DONE_EVENT,
        DONE_EVENT,
    ]
    payloads = responses_events(run(ChatEventsToResponses(), chat_events))
    assert payloads[-1]["type"] == "response.completed"
    assert [p["sequence_number"] for p in payloads] == list(range(len(payloads)))
    responses_events_in = [
        named_event("response.output_text.delta", {"type": "response.output_text.delta"}),
        named_event(
            "x", {"type": "response.function_call_arguments.delta", "output_index": "x", "delta": "{"}
        ),
        named_event("response.output_item.added", {"type": "response.output_item.added", "item": None}),
        named_event("response.completed", {"type": "response.completed", "response": None}),
    ]
    out = run(ResponsesEventsToChat(), responses_events_in)
    accumulate_chat(out)


# --- a function called without arguments: JSON ``{}`` in every direction ---------------------


def test_a_chat_call_without_arguments_is_a_responses_call_of_an_empty_json_object() -> None:
    """Some chat servers stream (or answer) such a call's arguments as ``""``: not JSON."""
    answer = chat_answer(
        tool_calls=[{"id": "call_1", "type": "function", "function": {"name": "ping", "arguments": ""}}]
    )
    whole = Response.model_validate(chat_answer_to_responses(answer))
    streamed = accumulate_responses(responses_events(run(ChatEventsToResponses(), chat_chunks(answer))))
    for response in (whole, streamed):
        assert [(i.type, getattr(i, "arguments", None)) for i in response.output] == [("function_call", "{}")]


def test_a_responses_call_without_arguments_is_a_chat_call_of_an_empty_json_object() -> None:
    call = {**OPENAI_RESPONSE["output"][2], "arguments": ""}
    response = {**OPENAI_RESPONSE, "output": [call]}
    whole = ChatCompletion.model_validate(responses_answer_to_chat(response))
    events = [e for e in openai_stream(OPENAI_RESPONSE) if b"function_call_arguments.delta" not in e]
    events = [e.replace(b'"arguments":"{\\"q\\":\\"x\\"}"', b'"arguments":""') for e in events]
    assert not any(b'{\\"q\\"' in e for e in events)
    streamed = accumulate_chat(run(ResponsesEventsToChat(), events))
    without_done = [
        e for e in events if b"function_call_arguments.done" not in e and b"output_item.done" not in e
    ]
    never_done = accumulate_chat(run(ResponsesEventsToChat(), without_done))
    for completion in (whole, streamed, never_done):
        assert [arguments for _, _, arguments in calls_of(completion)] == ["{}"]
