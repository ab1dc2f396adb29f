"""Each client dialect against each wire: answers, tool calls, thinking, errors, as JSON and as a stream."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google.genai import errors as genai_errors

from tests.conformance.matrix import (
    CACHE_READ,
    CACHE_WRITE,
    CELLS,
    STOP,
    TOOL_STOP,
    both_ways,
    expected_usage,
    paths,
)
from tests.dialect_clients import (
    RESULTS,
    TOOLS,
    Client,
    tool_exchange,
)
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration


# -- the matrix -------------------------------------------------------------------------


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_a_text_answer_with_cache_usage(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    behaviour = Behaviour(reply="the answer is 42", cache_read=CACHE_READ, cache_write=CACHE_WRITE)
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert (turn.text, turn.stop, turn.calls, turn.reasoning) == ("the answer is 42", STOP[client], (), None)
    assert turn.usage == expected_usage(client, wire)
    assert [seen.path for seen in threaded_upstream.requests] == paths(wire)


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_parallel_tool_calls_and_their_results(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    sdk = dialects[client]
    turn = await both_ways(sdk, f"via-{wire}", threaded_upstream, Behaviour(reply="", tool_calls=TOOLS))
    assert turn.stop == TOOL_STOP[client]
    assert [(call.name, call.arguments) for call in turn.calls] == [
        ("get_weather", {"city": "Paris", "unit": "celsius"}),
        ("get_time", {"zone": "CET"}),
    ]
    assert len({call.id for call in turn.calls}) == 2 and all(call.id for call in turn.calls)

    threaded_upstream.script(f"up-{wire}", Behaviour(reply="it is 18 degrees at 14:05"))
    answer = await sdk.send_results(f"via-{wire}", turn.calls)
    assert answer.text == "it is 18 degrees at 14:05" and answer.stop == STOP[client]
    calls, results = tool_exchange(wire, threaded_upstream.requests[-1])
    ids = [call.id for call in turn.calls]
    assert calls == ids
    assert results == list(zip(ids, RESULTS, strict=True))


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_a_tool_called_without_arguments_gets_an_empty_json_object(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    """Anthropic streams such a call's input as one empty piece; the client's arguments are
    JSON all the same (``{}``), streamed as in a whole answer."""
    behaviour = Behaviour(reply="", tool_calls=(("get_time", "{}"),))
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert [(call.name, call.arguments) for call in turn.calls] == [("get_time", {})]
    assert turn.stop == TOOL_STOP[client]


@pytest.mark.parametrize(("client", "wire"), CELLS)
async def test_thinking_reaches_the_client_in_its_own_shape(
    client: str, wire: str, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    behaviour = Behaviour(reasoning="step by step", reply="done")
    turn = await both_ways(dialects[client], f"via-{wire}", threaded_upstream, behaviour)
    assert (turn.reasoning, turn.text, turn.stop) == ("step by step", "done", STOP[client])
    # Signed only by an Anthropic upstream; chat has thinking_blocks only for signed thinking.
    signed = tuple((text, signature[:4]) for text, signature in turn.thinking_blocks)
    if client == "messages":
        assert signed == (("step by step", "sig+" if wire == "messages" else ""),)
    elif client in ("chat", "gemini"):
        assert signed == ((("step by step", "sig+"),) if wire == "messages" else ())


# -- errors -----------------------------------------------------------------------------

RATE_LIMITED: dict[str, type[Exception]] = {
    "chat": openai.RateLimitError,
    "messages": anthropic.RateLimitError,
    "responses": openai.RateLimitError,
    "gemini": genai_errors.ClientError,
}


@pytest.mark.parametrize(("client", "wire"), CELLS)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_an_upstream_429_is_the_clients_rate_limit_error(
    client: str, wire: str, stream: bool, dialects: dict[str, Client], threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(f"up-{wire}", Behaviour(status=429))
    with pytest.raises(RATE_LIMITED[client]) as raised:
        await dialects[client].ask(f"via-{wire}", stream=stream)
    if client == "gemini":  # Google's error shape, with its status name
        error: Any = raised.value
        assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
