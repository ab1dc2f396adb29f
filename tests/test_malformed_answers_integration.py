"""A malformed upstream answer on its way to another dialect is no answer, on the real server.

The answer has the right top-level field but a wrong type inside (a chat ``content`` that is
an empty list, a ``null`` tool id, a text that is a number): translated, it would reach the
client as ``"None"`` or not at all. It fails over to the next deployment like any other
non-answer, and is a 502 ``upstream_invalid_answer`` in the client's own shape when nothing
else answers; JSON and streams alike (router/dialects/shapes.py).
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

WIRES = ("chat", "messages", "responses")
# The client of each wire's deployment: another dialect, so the answer is translated (a
# Responses answer for a Messages client crosses twice, through chat).
CLIENT = {"chat": "messages", "messages": "chat", "responses": "messages"}
USAGE = {"input_tokens": 5, "output_tokens": 4}


def chat_answer(message: dict[str, Any]) -> dict[str, Any]:
    choice = {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
    return {"id": "chatcmpl-1", "object": "chat.completion", "model": "m", "choices": [choice]}


def message_answer(*content: dict[str, Any]) -> dict[str, Any]:
    return {"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "content": list(content)}


def response_answer(*output: dict[str, Any]) -> dict[str, Any]:
    return {"id": "resp_1", "object": "response", "status": "completed", "model": "m", "output": list(output)}


MALFORMED_JSON = [
    ("chat", "empty-content-list", chat_answer({"content": []})),
    (
        "chat",
        "null-tool-id",
        chat_answer(
            {
                "content": None,
                "tool_calls": [
                    {"id": None, "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            }
        ),
    ),
    ("messages", "null-tool-id", message_answer({"type": "tool_use", "id": None, "name": "f", "input": {}})),
    ("messages", "text-a-number", {**message_answer({"type": "text", "text": 42}), "usage": USAGE}),
    (
        "responses",
        "null-call-id",
        response_answer(
            {"type": "function_call", "id": "fc_1", "call_id": None, "name": "f", "arguments": "{}"}
        ),
    ),
    (
        "responses",
        "text-null",
        response_answer(
            {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": None}],
            }
        ),
    ),
]


def sse(*events: tuple[str | None, Any]) -> bytes:
    return b"".join(
        (b"event: " + name.encode() + b"\n" if name else b"") + b"data: " + orjson.dumps(data) + b"\n\n"
        for name, data in events
    )


CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "m"}
MALFORMED_STREAMS = {
    "chat": sse(
        (None, {**CHUNK, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}),
        (None, {**CHUNK, "choices": [{"index": 0, "delta": {"content": ["hello"]}}]}),
        (None, {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
    )
    + b"data: [DONE]\n\n",
    "messages": sse(
        ("message_start", {"type": "message_start", "message": {**message_answer(), "usage": USAGE}}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": None, "name": "f", "input": {}},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_stop", {"type": "message_stop"}),
    ),
    "responses": sse(
        (
            "response.created",
            {"type": "response.created", "sequence_number": 0, "response": response_answer()},
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": 1,
                "output_index": 0,
                "item": {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": None,
                    "name": "f",
                    "arguments": "",
                },
            },
        ),
        (
            "response.completed",
            {"type": "response.completed", "sequence_number": 2, "response": response_answer()},
        ),
    ),
}


def gateway_config(upstream: FakeUpstream) -> str:
    where = {
        "chat": f'provider: openai, base_url: "{upstream.base_url}"',
        "messages": f'provider: anthropic, base_url: "{upstream.root_url}"',
        "responses": f'provider: openai, api: responses, base_url: "{upstream.base_url}"',
    }
    common = "timeout: 10s, cooldown: {failures: 1000}"
    deployments = [
        f"- {{name: broken-{wire}, {where[wire]}, model: broken-{wire}, {common}}}" for wire in WIRES
    ]
    deployments.append(f"- {{name: backup, {where['chat']}, model: backup, {common}}}")
    models = [f"- {{name: backed-{wire}, deployments: [broken-{wire}, backup]}}" for wire in WIRES]
    models += [f"- {{name: alone-{wire}, deployments: [broken-{wire}]}}" for wire in WIRES]
    newline = "\n      "
    return f"""
    deployments:
      {newline.join(deployments)}
    models:
      {newline.join(models)}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


@pytest.fixture
def gpt(gateway: RunningGateway, sdks: Sdks) -> openai.AsyncOpenAI:
    return sdks.async_openai(gateway)


@pytest.fixture
def claude(gateway: RunningGateway, sdks: Sdks) -> anthropic.AsyncAnthropic:
    return sdks.async_anthropic(gateway)


USER: Any = [{"role": "user", "content": "hi"}]


async def ask(
    client: str, model: str, stream: bool, gpt: openai.AsyncOpenAI, claude: anthropic.AsyncAnthropic
) -> tuple[str, str]:
    """(the deployment that answered, the answer's text), through the client's SDK."""
    if client == "chat" and stream:
        async with gpt.chat.completions.with_streaming_response.create(
            model=model, messages=USER, stream=True
        ) as raw:
            text = "".join([c.choices[0].delta.content or "" async for c in await raw.parse() if c.choices])
            return raw.headers["x-raceway-deployment"], text
    if client == "chat":
        answer = await gpt.chat.completions.with_raw_response.create(model=model, messages=USER)
        return answer.headers["x-raceway-deployment"], answer.parse().choices[0].message.content or ""
    if stream:
        async with claude.messages.stream(model=model, max_tokens=50, messages=USER) as events:
            text = "".join([piece async for piece in events.text_stream])
            return events.response.headers["x-raceway-deployment"], text
    message = await claude.messages.with_raw_response.create(model=model, max_tokens=50, messages=USER)
    blocks = message.parse().content
    return message.headers["x-raceway-deployment"], "".join(b.text for b in blocks if b.type == "text")


def malformed(wire: str, body: dict[str, Any] | None, stream: bool) -> Behaviour:
    if stream:
        return Behaviour(body=MALFORMED_STREAMS[wire], content_type="text/event-stream")
    return Behaviour(body=orjson.dumps(body))


CASES = [pytest.param(wire, body, False, id=f"{wire}-json-{name}") for wire, name, body in MALFORMED_JSON]
CASES += [pytest.param(wire, None, True, id=f"{wire}-stream") for wire in WIRES]


@pytest.mark.parametrize(("wire", "body", "stream"), CASES)
async def test_a_malformed_answer_fails_over_to_the_next_deployment(
    wire: str,
    body: dict[str, Any] | None,
    stream: bool,
    gpt: openai.AsyncOpenAI,
    claude: anthropic.AsyncAnthropic,
    threaded_upstream: FakeUpstream,
) -> None:
    threaded_upstream.script(f"broken-{wire}", malformed(wire, body, stream))
    served = await ask(CLIENT[wire], f"backed-{wire}", stream, gpt, claude)
    assert served == ("backup", "hello from upstream")
    assert [seen.model for seen in threaded_upstream.requests] == [f"broken-{wire}", "backup"]


@pytest.mark.parametrize(("wire", "body", "stream"), CASES)
async def test_a_malformed_answer_with_nothing_else_to_answer_is_a_502_in_the_clients_shape(
    wire: str,
    body: dict[str, Any] | None,
    stream: bool,
    gpt: openai.AsyncOpenAI,
    claude: anthropic.AsyncAnthropic,
    threaded_upstream: FakeUpstream,
) -> None:
    threaded_upstream.script(f"broken-{wire}", malformed(wire, body, stream))
    client = CLIENT[wire]
    raised: type[Exception] = openai.APIStatusError if client == "chat" else anthropic.APIStatusError
    with pytest.raises(raised) as failed:
        await ask(client, f"alone-{wire}", stream, gpt, claude)
    error: Any = failed.value
    assert error.status_code == 502
    if client == "chat":
        assert error.code == "upstream_invalid_answer"
        message = error.message
    else:
        assert error.body["type"] == "error" and error.body["error"]["type"] == "api_error"
        message = error.body["error"]["message"]
    assert f"broken-{wire}" in message and "must be" in message
