"""The matrix's cells, the gateway's config for them, and how a test asks a client for a turn."""

from __future__ import annotations

import dataclasses
import itertools

import anthropic
import openai
import pytest
from google import genai

from tests.dialect_clients import (
    ChatClient,
    Client,
    GeminiClient,
    MessagesClient,
    ResponsesClient,
    ToolCall,
    Turn,
)
from tests.upstream import Behaviour, FakeUpstream

KEY = "rw-conformance-key-01"
DIALECTS = ("chat", "messages", "responses", "gemini")
CELLS = [
    pytest.param(client, wire, id=f"{client}->{wire}")
    for client, wire in itertools.product(DIALECTS, DIALECTS)
]
# The scripted upstream reports 5 prompt and 4 completion tokens, cache tokens aside.
PROMPT_TOKENS, COMPLETION_TOKENS = 5, 4
CACHE_READ, CACHE_WRITE = 7, 3
STOP = {"chat": "stop", "messages": "end_turn", "responses": "completed", "gemini": "STOP"}
TOOL_STOP = {"chat": "tool_calls", "messages": "tool_use", "responses": "completed", "gemini": "STOP"}
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}


def paths(wire: str) -> list[str]:
    """Where a JSON request, then a stream, reach the upstream (Gemini's path names both)."""
    if wire == "gemini":
        return [
            f"/v1beta/models/up-gemini:{method}" for method in ("generateContent", "streamGenerateContent")
        ]
    return [PATHS[wire]] * 2


def deployment(name: str, wire: str, upstream: FakeUpstream, extra: str = "") -> str:
    """A deployment of ``wire`` on the scripted upstream, whose upstream model is its name."""
    where = {
        "chat": f'provider: openai, base_url: "{upstream.base_url}"',
        "messages": f'provider: anthropic, base_url: "{upstream.root_url}"',
        "responses": f'provider: openai, api: responses, base_url: "{upstream.base_url}"',
        "gemini": f'provider: gemini, base_url: "{upstream.root_url}"',
    }[wire]
    return f"- {{name: {name}, {where}, model: {name}, timeout: 10s, cooldown: {{failures: 1000}}{extra}}}"


def gateway_config(upstream: FakeUpstream) -> str:
    price = "input: 1000, output: 2000"
    deployments = [
        *(deployment(f"up-{wire}", wire, upstream) for wire in DIALECTS),
        deployment("race-slow", "chat", upstream),
        deployment("race-fast", "messages", upstream),
        deployment(
            "priced", "messages", upstream, f", price: {{{price}, cache_read: 100, cache_write: 1250}}"
        ),
        deployment("priced-flat", "messages", upstream, f", price: {{{price}}}"),
    ]
    models = [
        *(f"- {{name: via-{wire}, deployments: [up-{wire}]}}" for wire in DIALECTS),
        "- {name: raced, strategy: race, deployments: [race-slow, race-fast]}",
        "- {name: priced, deployments: [priced]}",
        "- {name: priced-flat, deployments: [priced-flat]}",
        "- {name: cached, deployments: [up-messages], cache: {ttl: 5m}}",
        "- {name: cached-gemini, deployments: [up-gemini], cache: {ttl: 5m}}",
        "- {name: raced-gemini, strategy: race, deployments: [race-slow, race-fast]}",
    ]
    newline = "\n      "
    return f"""
    deployments:
      {newline.join(deployments)}
    models:
      {newline.join(models)}
    keys:
      - {{name: conformance, key: "{KEY}"}}
    """


def client_of(
    dialect: str, gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic, google: genai.Client
) -> Client:
    if dialect == "chat":
        return ChatClient(gpt)
    if dialect == "messages":
        return MessagesClient(claude)
    if dialect == "gemini":
        return GeminiClient(google)
    return ResponsesClient(gpt)


def without_ids(turn: Turn) -> Turn:
    """The answer apart from what each upstream answer makes unique (call ids, signatures)."""
    calls = tuple(ToolCall("", call.name, call.arguments) for call in turn.calls)
    thinking = tuple((text, signature[:4]) for text, signature in turn.thinking_blocks)
    return dataclasses.replace(turn, calls=calls, thinking_blocks=thinking)


async def both_ways(client: Client, model: str, upstream: FakeUpstream, behaviour: Behaviour) -> Turn:
    """The JSON answer to ``behaviour``, after checking that a stream accumulates to the same."""
    upstream.script(model.replace("via-", "up-"), behaviour)
    whole = await client.ask(model, stream=False)
    streamed = await client.ask(model, stream=True)
    assert without_ids(streamed) == without_ids(whole)
    assert all(call.id for call in (*whole.calls, *streamed.calls))
    return whole


def expected_usage(client: str, wire: str) -> dict[str, int]:
    """docs/dialects.md: Anthropic's input_tokens excludes cache tokens, chat's and Responses' include
    them; a Responses upstream tells cache writes apart (``input_tokens_details.cache_write_tokens``,
    required by OpenAI's specification), as the other two do; Gemini's usage has no cache writes."""
    total = PROMPT_TOKENS + CACHE_READ + CACHE_WRITE
    write = 0 if wire == "gemini" or client == "gemini" else CACHE_WRITE
    if client == "gemini":
        return {
            "prompt_token_count": total,
            "cached_content_token_count": CACHE_READ,
            "candidates_token_count": COMPLETION_TOKENS,
        }
    if client == "chat":
        return {
            "prompt_tokens": total,
            "cached_tokens": CACHE_READ,
            "cache_creation_input_tokens": write,
            "completion_tokens": COMPLETION_TOKENS,
        }
    if client == "messages":
        return {
            "input_tokens": total - CACHE_READ - write,
            "cache_read_input_tokens": CACHE_READ,
            "cache_creation_input_tokens": write,
            "output_tokens": COMPLETION_TOKENS,
        }
    return {"input_tokens": total, "cached_tokens": CACHE_READ, "output_tokens": COMPLETION_TOKENS}
