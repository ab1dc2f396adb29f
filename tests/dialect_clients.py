"""The four client dialects as the official SDKs speak them, each reduced to one ``Turn``.

For ``tests/conformance/``: per dialect, how to ask (JSON, or a stream rebuilt
by the SDK's own accumulator), how to send tool results back in that dialect, and how to
read what an upstream of each wire received (``tool_exchange``). A ``Turn`` keeps the
dialect's own names (stop reasons, usage fields) so that a JSON answer and a stream of the
same script compare equal field for field.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import anthropic
import openai
from google import genai
from google.genai import types

from tests.upstream import Seen

TOOLS = (("get_weather", '{"city": "Paris", "unit": "celsius"}'), ("get_time", '{"zone": "CET"}'))
RESULTS = ("18 degrees", "14:05")  # what the client's tools answered, in the order of TOOLS
PROMPT = "hi"


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Turn:
    """An assistant's answer in the client's dialect, whichever way it arrived."""

    text: str
    stop: str  # chat finish_reason, Messages stop_reason, Responses status
    calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    # Signed thinking as (text, signature): Messages thinking blocks, chat thinking_blocks
    thinking_blocks: tuple[tuple[str, str], ...] = ()
    usage: dict[str, int] = field(default_factory=dict)  # in the dialect's own names


class Client(Protocol):
    name: str

    async def ask(self, model: str, *, stream: bool, **extra: Any) -> Turn: ...

    async def send_results(self, model: str, calls: tuple[ToolCall, ...]) -> Turn: ...

    async def cost(self, model: str) -> float: ...


def _args(text: str) -> dict[str, Any]:
    parsed = json.loads(text)
    assert isinstance(parsed, dict), text
    return parsed


def _results(calls: tuple[ToolCall, ...]) -> list[tuple[str, str]]:
    assert len(calls) == len(RESULTS), calls
    return [(call.id, result) for call, result in zip(calls, RESULTS, strict=True)]


# -- OpenAI chat completions ------------------------------------------------------------


class ChatClient:
    name = "chat"
    tools: ClassVar[Any] = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}, "strict": True}}
        for name, _ in TOOLS
    ]  # strict: the SDK's stream helper takes no other

    def __init__(self, sdk: openai.AsyncOpenAI) -> None:
        self.sdk = sdk

    async def ask(self, model: str, *, stream: bool, **extra: Any) -> Turn:
        return await self._ask(model, [{"role": "user", "content": PROMPT}], stream=stream, **extra)

    async def _ask(self, model: str, messages: list[dict[str, Any]], *, stream: bool, **extra: Any) -> Turn:
        request: Any = {"model": model, "messages": messages, "tools": self.tools, **extra}
        if not stream:
            return self.turn(await self.sdk.chat.completions.create(**request))
        async with self.sdk.chat.completions.stream(
            **request, stream_options={"include_usage": True}
        ) as events:
            async for _event in events:
                pass
            return self.turn(await events.get_final_completion())

    @staticmethod
    def turn(completion: Any) -> Turn:
        (choice,) = completion.choices
        message = choice.message
        usage = completion.usage
        details = usage.prompt_tokens_details
        extra_usage = usage.model_extra or {}
        return Turn(
            text=message.content or "",
            stop=choice.finish_reason,
            calls=tuple(
                ToolCall(call.id, call.function.name, _args(call.function.arguments))
                for call in message.tool_calls or ()
            ),
            reasoning=(message.model_extra or {}).get("reasoning_content"),
            thinking_blocks=tuple(
                (block.get("thinking", ""), block.get("signature", ""))
                for block in (message.model_extra or {}).get("thinking_blocks") or ()
            ),
            usage={
                "prompt_tokens": usage.prompt_tokens,
                "cached_tokens": (details.cached_tokens or 0) if details else 0,
                "cache_creation_input_tokens": extra_usage.get("cache_creation_input_tokens") or 0,
                "completion_tokens": usage.completion_tokens,
            },
        )

    async def send_results(self, model: str, calls: tuple[ToolCall, ...]) -> Turn:
        assistant = {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": json.dumps(call.arguments)},
                }
                for call in calls
            ],
        }
        results = [{"role": "tool", "tool_call_id": id_, "content": text} for id_, text in _results(calls)]
        messages: list[dict[str, Any]] = [{"role": "user", "content": PROMPT}, assistant, *results]
        return await self._ask(model, messages, stream=False)

    async def cost(self, model: str) -> float:
        raw = await self.sdk.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": PROMPT}]
        )
        return float(raw.headers["x-raceway-cost-usd"])


# -- Anthropic Messages -----------------------------------------------------------------


class MessagesClient:
    name = "messages"
    tools: ClassVar[Any] = [{"name": name, "input_schema": {"type": "object"}} for name, _ in TOOLS]

    def __init__(self, sdk: anthropic.AsyncAnthropic) -> None:
        self.sdk = sdk

    async def ask(self, model: str, *, stream: bool, **extra: Any) -> Turn:
        return await self._ask(model, [{"role": "user", "content": PROMPT}], stream=stream, **extra)

    async def _ask(self, model: str, messages: list[dict[str, Any]], *, stream: bool, **extra: Any) -> Turn:
        request: Any = {"model": model, "max_tokens": 100, "messages": messages, "tools": self.tools, **extra}
        if not stream:
            return self.turn(await self.sdk.messages.create(**request))
        async with self.sdk.messages.stream(**request) as events:
            async for _event in events:
                pass
            return self.turn(await events.get_final_message())

    @staticmethod
    def turn(message: Any) -> Turn:
        blocks = message.content
        thinking = [block for block in blocks if block.type == "thinking"]
        usage = message.usage
        return Turn(
            text="".join(block.text for block in blocks if block.type == "text"),
            stop=message.stop_reason,
            calls=tuple(
                ToolCall(block.id, block.name, block.input) for block in blocks if block.type == "tool_use"
            ),
            reasoning="".join(block.thinking for block in thinking) if thinking else None,
            thinking_blocks=tuple((block.thinking, block.signature) for block in thinking),
            usage={
                "input_tokens": usage.input_tokens,
                "cache_read_input_tokens": usage.cache_read_input_tokens or 0,
                "cache_creation_input_tokens": usage.cache_creation_input_tokens or 0,
                "output_tokens": usage.output_tokens,
            },
        )

    async def send_results(self, model: str, calls: tuple[ToolCall, ...]) -> Turn:
        uses = [
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments} for call in calls
        ]
        results = [
            {"type": "tool_result", "tool_use_id": id_, "content": text} for id_, text in _results(calls)
        ]
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": uses},
            {"role": "user", "content": results},
        ]
        return await self._ask(model, messages, stream=False)

    async def cost(self, model: str) -> float:
        raw = await self.sdk.messages.with_raw_response.create(
            model=model, max_tokens=100, messages=[{"role": "user", "content": PROMPT}]
        )
        return float(raw.headers["x-raceway-cost-usd"])


# -- OpenAI Responses -------------------------------------------------------------------


class ResponsesClient:
    name = "responses"
    tools: ClassVar[Any] = [
        {"type": "function", "name": name, "parameters": {"type": "object"}, "strict": False}
        for name, _ in TOOLS
    ]

    def __init__(self, sdk: openai.AsyncOpenAI) -> None:
        self.sdk = sdk

    async def ask(self, model: str, *, stream: bool, **extra: Any) -> Turn:
        return await self._ask(model, [{"role": "user", "content": PROMPT}], stream=stream, **extra)

    async def _ask(self, model: str, items: list[dict[str, Any]], *, stream: bool, **extra: Any) -> Turn:
        request: Any = {"model": model, "input": items, "tools": self.tools, **extra}
        if not stream:
            return self.turn(await self.sdk.responses.create(**request))
        async with self.sdk.responses.stream(**request) as events:
            async for _event in events:
                pass
            return self.turn(await events.get_final_response())

    @staticmethod
    def turn(response: Any) -> Turn:
        items = response.output
        reasoning = [item for item in items if item.type == "reasoning"]
        usage = response.usage
        return Turn(
            text=response.output_text,
            stop=response.status,
            calls=tuple(
                ToolCall(item.call_id, item.name, _args(item.arguments))
                for item in items
                if item.type == "function_call"
            ),
            reasoning=(
                "".join(part.text for item in reasoning for part in item.summary) if reasoning else None
            ),
            usage={
                "input_tokens": usage.input_tokens,
                "cached_tokens": usage.input_tokens_details.cached_tokens,
                "output_tokens": usage.output_tokens,
            },
        )

    async def send_results(self, model: str, calls: tuple[ToolCall, ...]) -> Turn:
        made = [
            {
                "type": "function_call",
                "call_id": call.id,
                "name": call.name,
                "arguments": json.dumps(call.arguments),
            }
            for call in calls
        ]
        outputs = [
            {"type": "function_call_output", "call_id": id_, "output": text} for id_, text in _results(calls)
        ]
        return await self._ask(model, [{"role": "user", "content": PROMPT}, *made, *outputs], stream=False)

    async def cost(self, model: str) -> float:
        raw = await self.sdk.responses.with_raw_response.create(model=model, input=PROMPT)
        return float(raw.headers["x-raceway-cost-usd"])


# -- Google's Gemini API ----------------------------------------------------------------


class GeminiClient:
    """google-genai's async client. A stream is accumulated as the SDK leaves it to its user:
    the parts of every chunk in order, the last finish reason and usage. A signature closes the
    thought text since the one before (in a whole answer both sit on one part)."""

    name = "gemini"
    tools: ClassVar[Any] = [
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(name=name, parameters_json_schema={"type": "object"})
                for name, _ in TOOLS
            ]
        )
    ]

    def __init__(self, sdk: genai.Client) -> None:
        self.sdk = sdk

    async def ask(self, model: str, *, stream: bool, **extra: Any) -> Turn:
        return await self._ask(model, [_user_text(PROMPT)], stream=stream, **extra)

    async def _ask(self, model: str, contents: list[types.Content], *, stream: bool, **extra: Any) -> Turn:
        config = types.GenerateContentConfig(tools=self.tools, **extra)
        models = self.sdk.aio.models
        if not stream:
            return self.turn([await models.generate_content(model=model, contents=contents, config=config)])
        chunks = await models.generate_content_stream(model=model, contents=contents, config=config)
        return self.turn([chunk async for chunk in chunks])

    @staticmethod
    def turn(responses: list[types.GenerateContentResponse]) -> Turn:
        texts: list[str] = []
        thoughts: list[str] = []
        pending: list[str] = []  # thought text not yet closed by a signature
        blocks: list[tuple[str, str]] = []
        calls: list[ToolCall] = []
        stop = ""
        usage = None
        for response in responses:
            usage = response.usage_metadata or usage
            for candidate in response.candidates or ():
                stop = str(candidate.finish_reason.value) if candidate.finish_reason else stop
                for part in (candidate.content.parts if candidate.content else None) or ():
                    if part.function_call is not None:
                        call = part.function_call
                        calls.append(ToolCall(call.id or "", call.name or "", dict(call.args or {})))
                    elif part.thought:
                        thoughts.append(part.text or "")
                        pending.append(part.text or "")
                        if part.thought_signature:
                            signature = base64.b64encode(part.thought_signature).decode()
                            blocks.append(("".join(pending), signature))
                            pending = []
                    elif part.text:
                        texts.append(part.text)
        assert usage is not None
        return Turn(
            text="".join(texts),
            stop=stop,
            calls=tuple(calls),
            reasoning="".join(thoughts) if thoughts else None,
            thinking_blocks=tuple(blocks),
            usage={
                "prompt_token_count": usage.prompt_token_count or 0,
                "cached_content_token_count": usage.cached_content_token_count or 0,
                "candidates_token_count": usage.candidates_token_count or 0,
            },
        )

    async def send_results(self, model: str, calls: tuple[ToolCall, ...]) -> Turn:
        made = types.Content(
            role="model",
            parts=[
                types.Part(function_call=types.FunctionCall(id=call.id, name=call.name, args=call.arguments))
                for call in calls
            ],
        )
        names = {call.id: call.name for call in calls}
        results = types.Content(
            role="user",
            parts=[
                types.Part(
                    function_response=types.FunctionResponse(
                        id=id_, name=names[id_], response={"output": text}
                    )
                )
                for id_, text in _results(calls)
            ],
        )
        return await self._ask(model, [_user_text(PROMPT), made, results], stream=False)

    async def cost(self, model: str) -> float:
        answer = await self.sdk.aio.models.generate_content(model=model, contents=PROMPT)
        assert answer.sdk_http_response is not None and answer.sdk_http_response.headers is not None
        return float(answer.sdk_http_response.headers["x-raceway-cost-usd"])


def _user_text(text: str) -> types.Content:
    return types.Content(role="user", parts=[types.Part.from_text(text=text)])


# -- what an upstream of each wire received ---------------------------------------------


def _text(content: Any) -> str:
    """A tool result's content: a string, or text blocks / parts."""
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content)


def tool_exchange(wire: str, seen: Seen) -> tuple[list[str], list[tuple[str, str]]]:
    """In the upstream's own wire shape: the ids of the calls the assistant made, in order,
    and the (call id, result text) it was given back."""
    body = seen.body
    if wire == "chat":
        messages = body["messages"]
        calls = [call["id"] for message in messages for call in message.get("tool_calls") or ()]
        results = [(m["tool_call_id"], _text(m["content"])) for m in messages if m["role"] == "tool"]
        return calls, results
    if wire == "messages":
        blocks = [
            block
            for message in body["messages"]
            if isinstance(message["content"], list)
            for block in message["content"]
        ]
        calls = [block["id"] for block in blocks if block["type"] == "tool_use"]
        results = [(b["tool_use_id"], _text(b["content"])) for b in blocks if b["type"] == "tool_result"]
        return calls, results
    if wire == "gemini":
        parts = [part for content in body["contents"] for part in content["parts"]]
        calls = [part["functionCall"]["id"] for part in parts if "functionCall" in part]
        results = [
            (part["functionResponse"]["id"], part["functionResponse"]["response"]["output"])
            for part in parts
            if "functionResponse" in part
        ]
        return calls, results
    assert wire == "responses", wire
    items = [item for item in body["input"] if isinstance(item, dict)]
    calls = [item["call_id"] for item in items if item.get("type") == "function_call"]
    results = [(i["call_id"], _text(i["output"])) for i in items if i.get("type") == "function_call_output"]
    return calls, results
