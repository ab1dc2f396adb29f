"""Gemini <-> chat translation (router/dialects/translate/gemini): each row of its table.

Requests are built from the google-genai SDK's own types, dumped as the SDK puts them on the
wire (camelCase, bytes in base64); translated answers and stream events must validate as the
SDK's ``GenerateContentResponse``.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from google.genai import types

from router.dialects.bridge import event_translators, feed_all, translate_answer, translate_request
from router.dialects.translate.gemini import (
    SKIP_SIGNATURE,
    ChatEventsToGemini,
    GeminiEventsToChat,
    chat_answer_to_gemini,
    chat_request_to_gemini,
    gemini_answer_to_chat,
    gemini_request_to_chat,
)
from router.dialects.translate.gemini.schema import schema_to_json
from router.errors import InvalidRequest, UpstreamError
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS
from router.wire.usage import Usage

GEMINI = FORMATS[Dialect.GEMINI]


def wire(value: Any) -> Any:
    """An SDK object as its JSON on the wire."""
    return value.model_dump(mode="json", by_alias=True, exclude_none=True)


def request(*contents: types.Content, **fields: Any) -> dict[str, Any]:
    return {"model": "gemini-2.5-flash", "contents": [wire(content) for content in contents], **fields}


def user(*parts: types.Part) -> types.Content:
    return types.Content(role="user", parts=list(parts))


def model(*parts: types.Part) -> types.Content:
    return types.Content(role="model", parts=list(parts))


def text(value: str) -> types.Part:
    return types.Part.from_text(text=value)


def events(*documents: dict[str, Any]) -> list[bytes]:
    return [b"data: " + orjson.dumps(document) + b"\n\n" for document in documents]


def payloads(translated: list[bytes]) -> list[Any]:
    return [orjson.loads(event[6:]) if event != b"data: [DONE]\n\n" else "[DONE]" for event in translated]


# -- requests: Gemini -> chat -----------------------------------------------------------


def test_text_system_instruction_and_turns_become_chat_messages() -> None:
    body = request(
        user(text("hi")),
        model(text("hello")),
        user(text("what is "), text("2+2?")),
        systemInstruction=wire(types.Content(role="user", parts=[text("be brief"), text("be kind")])),
        stream=True,
    )
    chat = gemini_request_to_chat(body)
    assert chat["model"] == "gemini-2.5-flash"
    assert chat["messages"] == [
        {"role": "system", "content": "be brief\n\nbe kind"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "what is "}, {"type": "text", "text": "2+2?"}]},
    ]
    assert chat["stream"] is True and chat["stream_options"] == {"include_usage": True}


def test_snake_case_fields_read_as_their_camel_case_twins() -> None:
    body = {
        "model": "g",
        "system_instruction": {"parts": [{"text": "sys"}]},
        "contents": [{"parts": [{"inline_data": {"mime_type": "image/png", "data": "AAAA"}}]}],
        "generation_config": {"max_output_tokens": 7, "stop_sequences": ["x"]},
    }
    chat = gemini_request_to_chat(body)
    assert chat["messages"][0] == {"role": "system", "content": "sys"}
    assert chat["messages"][1]["content"] == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    ]
    assert (chat["max_tokens"], chat["stop"]) == (7, ["x"])


def test_inline_images_audio_and_documents_become_chat_parts_and_back() -> None:
    body = request(
        user(
            text("look"),
            types.Part.from_bytes(data=b"\x89PNG", mime_type="image/png"),
            types.Part.from_bytes(data=b"ID3", mime_type="audio/mpeg"),
            types.Part.from_bytes(data=b"%PDF", mime_type="application/pdf"),
        )
    )
    png, mp3, pdf = (base64.b64encode(raw).decode() for raw in (b"\x89PNG", b"ID3", b"%PDF"))
    parts = gemini_request_to_chat(body)["messages"][0]["content"]
    assert parts == [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
        {"type": "input_audio", "input_audio": {"data": mp3, "format": "mp3"}},
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}"}},
    ]
    back = chat_request_to_gemini({"model": "m", "messages": [{"role": "user", "content": parts}]})
    assert back["contents"] == body["contents"]


def test_file_data_crosses_only_as_an_http_url() -> None:
    by_url = request(user(types.Part.from_uri(file_uri="https://x.test/cat.png", mime_type="image/png")))
    assert gemini_request_to_chat(by_url)["messages"][0]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}}
    ]
    uploaded = request(user(types.Part.from_uri(file_uri="files/abc123", mime_type="image/png")))
    with pytest.raises(InvalidRequest) as refused:
        gemini_request_to_chat(uploaded)
    assert refused.value.param == "contents[0].parts[0].fileData.fileUri"
    chat = {"model": "m", "messages": [{"role": "user", "content": [by_url_part()]}]}
    assert chat_request_to_gemini(chat)["contents"][0]["parts"] == [
        {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/cat.png"}}
    ]


def test_contents_of_which_no_message_is_left_are_refused() -> None:
    """Code execution parts drop; a request left with nothing to send is 400, not an empty chat."""
    code = {"executableCode": {"code": "print(1)", "language": "PYTHON"}}
    with pytest.raises(InvalidRequest) as refused:
        gemini_request_to_chat({"model": "m", "contents": [{"role": "model", "parts": [code]}]})
    assert refused.value.param == "contents"
    system = {"parts": [{"text": "be brief"}]}
    kept = {"model": "m", "systemInstruction": system, "contents": [{"role": "model", "parts": [code]}]}
    assert gemini_request_to_chat(kept)["messages"] == [{"role": "system", "content": "be brief"}]


def test_a_boolean_response_json_schema_is_any_json_or_refused() -> None:
    anything = {"model": "m", "contents": [{"parts": [{"text": "hi"}]}]}
    allowed = {**anything, "generationConfig": {"responseJsonSchema": True}}
    assert "response_format" not in gemini_request_to_chat(allowed)  # `true` constrains nothing
    as_json = {"responseJsonSchema": True, "responseMimeType": "application/json"}
    assert gemini_request_to_chat({**anything, "generationConfig": as_json})["response_format"] == {
        "type": "json_object"
    }
    with pytest.raises(InvalidRequest) as refused:
        gemini_request_to_chat({**anything, "generationConfig": {"responseJsonSchema": False}})
    assert refused.value.param == "generationConfig.responseJsonSchema"


def by_url_part() -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}}


def test_function_calls_and_responses_pair_by_id_and_else_by_name_in_order() -> None:
    body = request(
        user(text("weather and time?")),
        model(
            types.Part(function_call=types.FunctionCall(id="c1", name="get_weather", args={"city": "Paris"})),
            types.Part(function_call=types.FunctionCall(name="get_time", args={"zone": "CET"})),
        ),
        user(
            types.Part.from_function_response(name="get_time", response={"output": "14:05"}),
            types.Part(
                function_response=types.FunctionResponse(
                    id="c1", name="get_weather", response={"error": "down"}
                )
            ),
            text("thanks"),
        ),
    )
    messages = gemini_request_to_chat(body)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_1_1",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"zone":"CET"}'},
            },
        ],
    }
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "call_1_1", "content": "14:05"},
        {"role": "tool", "tool_call_id": "c1", "content": "Error: down"},
        {"role": "user", "content": "thanks"},
    ]


def test_a_function_response_that_is_not_output_or_error_goes_as_its_json() -> None:
    body = request(
        model(types.Part(function_call=types.FunctionCall(id="c", name="f", args={}))),
        user(types.Part(function_response=types.FunctionResponse(id="c", name="f", response={"a": [1]}))),
    )
    assert gemini_request_to_chat(body)["messages"][1]["content"] == '{"a":[1]}'


def test_chat_tool_results_become_one_user_content_named_after_their_calls() -> None:
    chat = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "calling",
                "reasoning_content": "my own thoughts",
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                    {"id": "b", "type": "function", "function": {"name": "g", "arguments": ""}},
                ],
            },
            {"role": "tool", "tool_call_id": "a", "content": "one"},
            {"role": "tool", "tool_call_id": "b", "content": [{"type": "text", "text": "two"}]},
            {"role": "developer", "content": "late rule"},
        ],
    }
    gemini = chat_request_to_gemini(chat)
    assert gemini["systemInstruction"] == {"parts": [{"text": "sys\n\nlate rule"}]}
    assert gemini["contents"] == [
        {"role": "user", "parts": [{"text": "go"}]},
        {
            "role": "model",
            "parts": [
                {"text": "calling"},
                {
                    "functionCall": {"id": "a", "name": "f", "args": {"x": 1}},
                    "thoughtSignature": SKIP_SIGNATURE,
                },
                {"functionCall": {"id": "b", "name": "g", "args": {}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"id": "a", "name": "f", "response": {"output": "one"}}},
                {"functionResponse": {"id": "b", "name": "g", "response": {"output": "two"}}},
            ],
        },
    ]
    # The SDK reads this request's contents back.
    for content in gemini["contents"]:
        types.Content.model_validate(content)


def test_chat_tool_call_arguments_must_be_a_json_object() -> None:
    chat = {
        "model": "m",
        "messages": [
            {
                "role": "assistant",
                "tool_calls": [
                    {"id": "a", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
                ],
            }
        ],
    }
    with pytest.raises(InvalidRequest) as refused:
        chat_request_to_gemini(chat)
    assert refused.value.param == "messages[0].tool_calls[0].function.arguments"


def test_thought_parts_are_reasoning_and_a_signed_thought_a_signed_thinking_block() -> None:
    body = request(
        user(text("q")),
        model(
            types.Part(text="I think", thought=True, thought_signature=b"anthropic-signature"),
            types.Part(text="answer", thought_signature=b"gemini-own"),
        ),
    )
    assistant = gemini_request_to_chat(body)["messages"][1]
    signature = base64.b64encode(b"anthropic-signature").decode()
    assert assistant == {
        "role": "assistant",
        "content": "answer",
        "reasoning_content": "I think",
        "thinking_blocks": [{"type": "thinking", "thinking": "I think", "signature": signature}],
    }


def test_function_declarations_with_parameters_or_json_schema_and_the_tool_config() -> None:
    tools = [
        wire(
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name="f",
                        description="does f",
                        parameters=types.Schema(
                            type="OBJECT",
                            properties={"n": types.Schema(type="INTEGER", nullable=True)},
                            required=["n"],
                            property_ordering=["n"],
                        ),
                    ),
                    types.FunctionDeclaration(name="g", parameters_json_schema={"type": "object"}),
                ]
            )
        ),
        wire(types.Tool(google_search=types.GoogleSearch())),
    ]
    config = wire(types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="ANY")))
    chat = gemini_request_to_chat(request(user(text("x")), tools=tools, toolConfig=config))
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "f",
                "description": "does f",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": ["integer", "null"]}},
                    "required": ["n"],
                },
            },
        },
        {"type": "function", "function": {"name": "g", "parameters": {"type": "object"}}},
    ]
    assert chat["tool_choice"] == "required"
    one = wire(
        types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["g"])
        )
    )
    assert gemini_request_to_chat(request(user(text("x")), tools=tools, toolConfig=one))["tool_choice"] == {
        "type": "function",
        "function": {"name": "g"},
    }
    back = chat_request_to_gemini(
        {"model": "m", "messages": [], **chat, "tool_choice": {"type": "function", "function": {"name": "g"}}}
    )
    assert back["tools"][0]["functionDeclarations"][1] == {
        "name": "g",
        "parametersJsonSchema": {"type": "object"},
    }
    assert back["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}}
    types.Tool.model_validate(back["tools"][0])


def test_schema_counts_written_as_strings_become_numbers() -> None:
    assert schema_to_json({"type": "ARRAY", "items": {"type": "STRING"}, "maxItems": "3"}) == {
        "type": "array",
        "items": {"type": "string"},
        "maxItems": 3,
    }


def test_generation_config_crosses_both_ways() -> None:
    config = wire(
        types.GenerateContentConfig(
            temperature=0.5,
            top_p=0.9,
            top_k=64,
            max_output_tokens=100,
            stop_sequences=["END"],
            candidate_count=2,
            seed=7,
            presence_penalty=0.1,
            frequency_penalty=0.2,
            response_mime_type="application/json",
            response_json_schema={"type": "object"},
        )
    )
    chat = gemini_request_to_chat(request(user(text("x")), generationConfig=config))
    expected = {"temperature": 0.5, "top_p": 0.9, "max_tokens": 100, "stop": ["END"], "n": 2, "seed": 7}
    assert {name: chat[name] for name in expected} == expected
    assert (chat["presence_penalty"], chat["frequency_penalty"]) == (0.1, 0.2)
    assert "top_k" not in chat
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": {"type": "object"}},
    }
    back = chat_request_to_gemini(chat)["generationConfig"]
    assert back == {
        "temperature": 0.5,
        "topP": 0.9,
        "seed": 7,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.2,
        "maxOutputTokens": 100,
        "stopSequences": ["END"],
        "candidateCount": 2,
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    }
    types.GenerationConfig.model_validate(back)


@pytest.mark.parametrize(
    ("thinking", "effort"),
    [
        ({"thinkingBudget": 8192, "includeThoughts": True}, "medium"),  # Gemini CLI on 2.5
        ({"thinkingLevel": "HIGH", "includeThoughts": True}, "high"),  # Gemini CLI on 3
        ({"thinkingBudget": 1024}, "low"),
        ({"thinkingBudget": 30000}, "high"),
        ({"thinkingBudget": -1}, "medium"),
        ({"thinkingBudget": 0}, None),
        ({"includeThoughts": True}, None),
    ],
)
def test_thinking_config_as_reasoning_effort(thinking: dict[str, Any], effort: str | None) -> None:
    chat = gemini_request_to_chat(request(user(text("x")), generationConfig={"thinkingConfig": thinking}))
    assert chat.get("reasoning_effort") == effort


def test_reasoning_effort_as_a_thinking_budget_with_thoughts() -> None:
    config = chat_request_to_gemini({"model": "m", "messages": [], "reasoning_effort": "high"})[
        "generationConfig"
    ]
    assert config == {"thinkingConfig": {"thinkingBudget": 24576, "includeThoughts": True}}
    assert "generationConfig" not in chat_request_to_gemini(
        {"model": "m", "messages": [], "reasoning_effort": "none"}
    )


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"cachedContent": "cachedContents/1"}, "cachedContent"),
        ({"generationConfig": {"responseLogprobs": True}}, "generationConfig.responseLogprobs"),
        ({"generationConfig": {"responseModalities": ["IMAGE"]}}, "generationConfig.responseModalities"),
        ({"generationConfig": {"responseMimeType": "text/x.enum"}}, "generationConfig.responseMimeType"),
        ({"contents": [{"role": "tool", "parts": [{"text": "x"}]}]}, "contents[0].role"),
        ({"contents": [{"parts": [{"somethingNew": {}}]}]}, "contents[0].parts[0]"),
    ],
)
def test_what_chat_cannot_give_is_refused_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        gemini_request_to_chat({"model": "m", "contents": [{"parts": [{"text": "x"}]}], **fields})
    assert refused.value.param == param


def test_chat_logprobs_and_audio_output_are_refused_towards_gemini() -> None:
    for fields, param in (
        ({"logprobs": True}, "logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ):
        with pytest.raises(InvalidRequest) as refused:
            chat_request_to_gemini({"model": "m", "messages": [], **fields})
        assert refused.value.param == param


# -- answers ----------------------------------------------------------------------------

GEMINI_ANSWER = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "let me see", "thought": True},
                    {"text": "Paris and "},
                    {"text": "CET"},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": "Z2Vt",
                    },
                    {"functionCall": {"id": "own", "name": "get_time", "args": {}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "candidatesTokenCount": 10,
        "thoughtsTokenCount": 5,
        "cachedContentTokenCount": 60,
        "totalTokenCount": 115,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "r1",
}


def test_a_gemini_answer_as_a_chat_completion() -> None:
    chat = gemini_answer_to_chat(GEMINI_ANSWER)
    assert chat["id"] == "chatcmpl-r1" and chat["model"] == "gemini-2.5-flash"
    (choice,) = chat["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Paris and CET",
        "reasoning_content": "let me see",
        "tool_calls": [
            {
                "id": "call_r1_0_0",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {"id": "own", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ],
    }
    assert chat["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 15,
        "total_tokens": 115,
        "prompt_tokens_details": {"cached_tokens": 60},
        "completion_tokens_details": {"reasoning_tokens": 5},
    }
    assert GEMINI.answer_usage(GEMINI_ANSWER) == Usage(100, 15, cache_read=60)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons_as_chats(reason: str, finish: str) -> None:
    answer = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": reason}]}
    assert gemini_answer_to_chat(answer)["choices"][0]["finish_reason"] == finish


def test_a_blocked_prompt_is_an_empty_content_filter_choice() -> None:
    answer = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
    assert GEMINI.holds_answer(answer)
    (choice,) = gemini_answer_to_chat(answer)["choices"]
    assert choice["finish_reason"] == "content_filter" and choice["message"]["content"] is None


def test_a_chat_completion_as_a_gemini_answer_the_sdk_reads() -> None:
    chat = {
        "id": "chatcmpl-xyz",
        "model": "gpt-x",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "done",
                    "reasoning_content": "thinking...",
                    "thinking_blocks": [{"type": "thinking", "thinking": "thinking...", "signature": "c2ln"}],
                    "tool_calls": [
                        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 20,
            "prompt_tokens_details": {"cached_tokens": 30},
            "completion_tokens_details": {"reasoning_tokens": 8},
            "cache_creation_input_tokens": 4,
        },
    }
    gemini = chat_answer_to_gemini(chat)
    assert gemini["candidates"][0]["content"]["parts"] == [
        {"text": "thinking...", "thought": True, "thoughtSignature": "c2ln"},
        {"text": "done"},
        {"functionCall": {"id": "t1", "name": "f", "args": {"a": 1}}},
    ]
    assert gemini["usageMetadata"] == {
        "promptTokenCount": 50,
        "candidatesTokenCount": 12,
        "totalTokenCount": 70,
        "cachedContentTokenCount": 30,
        "thoughtsTokenCount": 8,
    }
    parsed = types.GenerateContentResponse.model_validate(gemini)
    assert parsed.function_calls is not None and parsed.function_calls[0].args == {"a": 1}
    assert parsed.response_id == "xyz" and parsed.model_version == "gpt-x"
    assert (
        gemini_answer_to_chat(gemini)["choices"][0]["message"]["thinking_blocks"]
        == chat["choices"][0]["message"]["thinking_blocks"]
    )


def test_an_empty_chat_answer_is_one_empty_text_part() -> None:
    chat = {"choices": [{"message": {"role": "assistant", "content": None}, "finish_reason": "length"}]}
    (candidate,) = chat_answer_to_gemini(chat)["candidates"]
    assert candidate["content"]["parts"] == [{"text": ""}] and candidate["finishReason"] == "MAX_TOKENS"


def test_a_chat_tool_call_that_is_not_json_is_the_upstreams_fault() -> None:
    chat = {
        "choices": [{"message": {"tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{"}}]}}]
    }
    with pytest.raises(UpstreamError):
        chat_answer_to_gemini(chat)


def test_messages_and_responses_answers_reach_gemini_in_two_steps() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 2, "cache_read_input_tokens": 4},
    }
    gemini = translate_answer(message, Dialect.MESSAGES, Dialect.GEMINI)
    assert gemini["candidates"][0]["content"]["parts"] == [{"text": "hi"}]
    assert (
        gemini["usageMetadata"]["promptTokenCount"] == 7
        and gemini["usageMetadata"]["cachedContentTokenCount"] == 4
    )
    body = translate_request(
        request(user(text("x")), generationConfig={"maxOutputTokens": 9}), Dialect.GEMINI, Dialect.MESSAGES
    )
    assert body["max_tokens"] == 9 and body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "x"}]}
    ]
    responses = translate_request(request(user(text("x"))), Dialect.GEMINI, Dialect.RESPONSES)
    assert responses["input"][0]["role"] == "user"


# -- streams ----------------------------------------------------------------------------


def test_a_gemini_stream_as_chat_chunks_ends_with_the_finishing_event() -> None:
    stream = events(
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hmm", "thought": True}]}}],
            "responseId": "r",
            "modelVersion": "m",
        },
        {"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]},
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "lo"}, {"functionCall": {"name": "f", "args": {"a": 1}}}]},
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "thoughtsTokenCount": 2},
        },
        {"candidates": [{"content": {"parts": [{"text": "after the end"}]}}]},
    )
    translator = GeminiEventsToChat()
    chunks = payloads([out for event in stream for out in translator.feed(event)])
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks[:-2] if chunk["choices"]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "hmm"},
        {"content": "Hel"},
        {
            "content": "lo",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_r_0_0",
                    "type": "function",
                    "function": {"name": "f", "arguments": '{"a":1}'},
                }
            ],
        },
        {},
    ]
    assert chunks[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-2]["usage"]["completion_tokens"] == 6 and chunks[-1] == "[DONE]"
    assert [GEMINI.is_final(event) for event in stream] == [False, False, True, False]


def test_a_gemini_error_event_is_a_chat_error_event() -> None:
    (out,) = GeminiEventsToChat().feed(
        events({"error": {"code": 500, "message": "boom", "status": "INTERNAL"}})[0]
    )
    assert orjson.loads(out[6:]) == {
        "error": {"message": "boom", "type": "INTERNAL", "code": 500, "param": None}
    }


def chat_chunk(delta: dict[str, Any], finish: str | None = None, index: int = 0) -> dict[str, Any]:
    return {
        "id": "chatcmpl-c1",
        "model": "gpt",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
    }


def test_chat_chunks_as_a_gemini_stream_with_whole_calls_in_the_last_event() -> None:
    stream = [
        *events(
            chat_chunk({"role": "assistant", "content": ""}),
            chat_chunk({"reasoning_content": "plan"}),
            chat_chunk({"thinking_blocks": [{"type": "thinking", "thinking": "plan", "signature": "c2ln"}]}),
            chat_chunk({"content": "ok"}),
            chat_chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "t1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a"'},
                        }
                    ]
                }
            ),
            chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 2}"}}]}),
            chat_chunk({}, "tool_calls"),
            {"id": "chatcmpl-c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}},
        ),
        b": keep-alive\n\n",
        b"data: [DONE]\n\n",
    ]
    translator = ChatEventsToGemini()
    out = [event for chunk in stream for event in translator.feed(chunk)]
    assert all(
        event.startswith(b"data: {") and event.endswith(b"}\n\n") and b"\nevent:" not in event
        for event in out
    )
    documents = payloads(out)
    assert [doc["candidates"][0].get("content", {}).get("parts") for doc in documents] == [
        [{"text": "plan", "thought": True}],
        [{"text": "", "thought": True, "thoughtSignature": "c2ln"}],
        [{"text": "ok"}],
        [{"functionCall": {"id": "t1", "name": "f", "args": {"a": 2}}}],
    ]
    last = documents[-1]
    assert last["candidates"][0]["finishReason"] == "STOP" and GEMINI.is_final(out[-1])
    assert last["usageMetadata"] == {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}
    assert (last["responseId"], last["modelVersion"]) == ("c1", "gpt")
    for document in documents:
        types.GenerateContentResponse.model_validate(document)
    assert [GEMINI.has_content(event) for event in out] == [True, False, True, True]


def test_a_chat_stream_error_is_a_gemini_error_event_and_the_end() -> None:
    translator = ChatEventsToGemini()
    (out,) = translator.feed(events({"error": {"message": "fell over", "type": "server_error"}})[0])
    assert orjson.loads(out[6:]) == {"error": {"code": 500, "message": "fell over", "status": "INTERNAL"}}
    assert translator.feed(b"data: [DONE]\n\n") == []


def test_a_chat_stream_with_two_choices_finishes_both_in_the_last_event() -> None:
    steps = event_translators(Dialect.CHAT, Dialect.GEMINI)
    stream = [
        *events(
            chat_chunk({"content": "a"}, index=0),
            chat_chunk({"content": "b"}, index=1),
            chat_chunk({}, "stop", 0),
            chat_chunk({}, "length", 1),
        ),
        b"data: [DONE]\n\n",
    ]
    documents = payloads([out for event in stream for out in feed_all(steps, event)])
    assert documents[-1]["candidates"] == [
        {"finishReason": "STOP", "index": 0},
        {"finishReason": "MAX_TOKENS", "index": 1},
    ]


def messages_event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\n".encode() + b"data: " + orjson.dumps({"type": kind, **fields}) + b"\n\n"


def test_a_messages_stream_reaches_gemini_through_chat() -> None:
    steps = event_translators(Dialect.MESSAGES, Dialect.GEMINI)
    named = [
        messages_event("message_start", message={"id": "msg_1", "model": "c", "usage": {"input_tokens": 4}}),
        messages_event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        messages_event("content_block_delta", index=0, delta={"type": "text_delta", "text": "hey"}),
        messages_event("message_delta", delta={"stop_reason": "end_turn"}, usage={"output_tokens": 2}),
        messages_event("message_stop"),
    ]
    documents = payloads([out for event in named for out in feed_all(steps, event)])
    assert documents[0]["candidates"][0]["content"]["parts"] == [{"text": "hey"}]
    assert documents[-1]["candidates"] == [{"finishReason": "STOP", "index": 0}]
    assert documents[-1]["usageMetadata"]["candidatesTokenCount"] == 2
