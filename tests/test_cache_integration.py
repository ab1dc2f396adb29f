"""The response cache, coalescing and cost in the real server, with the official openai client.

The cache and the flights in progress belong to a worker, so this module runs one worker:
with two, a repeated request may land on the other worker and miss (by design).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import openai
import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from tests.conftest import Gateways, RunningGateway
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

ALICE = "rw-alice-key-0001"
BOB = "rw-bob-key-00002"
# The scripted upstream reports 5 prompt and 4 completion tokens for every answer.
PRICED_COST = (5 * 1000 + 4 * 2000) / 1e6  # price: {input: 1000, output: 2000} USD per million
TABLE_COST = (5 * 0.15 + 4 * 0.6) / 1e6  # gpt-4o-mini in litellm's bundled price table


def gateway_config(upstream: FakeUpstream) -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 5s, cooldown: {{failures: 1000}}'
    return f"""
    server: {{graceful_timeout: 5s}}
    deployments:
      - {{name: priced, {native}, model: priced, price: {{input: 1000, output: 2000}}}}
      - {{name: tabled, {native}, model: gpt-4o-mini}}
    models:
      - {{name: cached, deployments: [priced], cache: {{ttl: 5m}}}}
      - {{name: shared, deployments: [priced], cache: {{mode: always, shared: true}}}}
      - {{name: uncached, deployments: [priced]}}
      - {{name: table, deployments: [tabled]}}
    keys:
      - {{name: alice, key: "{ALICE}"}}
      - {{name: bob, key: "{BOB}"}}
    """


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(gateway_config(module_upstream), workers=1)


def ask(
    gateway: RunningGateway, prompt: str, *, model: str = "cached", key: str = ALICE, **fields: Any
) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}", **fields.pop("headers", {})}
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, **fields}
    return httpx.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers, timeout=10)


def content(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    text: str = response.json()["choices"][0]["message"]["content"]
    return text


def test_a_repeated_deterministic_request_is_a_hit_that_costs_nothing(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    first = ask(gateway, "hit me")
    assert first.headers["x-raceway-cache"] == "miss"
    assert float(first.headers["x-raceway-cost-usd"]) == pytest.approx(PRICED_COST)
    second = ask(gateway, "hit me", user="someone-else")  # `user` does not change the answer
    assert second.headers["x-raceway-cache"] == "hit"
    assert second.content == first.content
    assert float(second.headers["x-raceway-cost-usd"]) == 0
    assert threaded_upstream.calls("priced") == 1
    assert gateway.metric('raceway_cache_lookups_total{result="hit"}') >= 1


def test_non_deterministic_and_uncached_requests_bypass(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    for _ in range(2):
        assert ask(gateway, "warm", temperature=0.7).headers["x-raceway-cache"] == "bypass"
        assert ask(gateway, "warm", model="uncached").headers["x-raceway-cache"] == "bypass"
    assert threaded_upstream.calls("priced") == 4


def test_no_cache_skips_the_read_and_no_store_the_write(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "priced", Behaviour(reply="one"), Behaviour(reply="two"), Behaviour(reply="three")
    )
    assert content(ask(gateway, "control")) == "one"
    fresh = ask(gateway, "control", headers={"cache-control": "no-cache"})
    assert (fresh.headers["x-raceway-cache"], content(fresh)) == ("bypass", "two")
    assert content(ask(gateway, "control")) == "two"  # the no-cache answer was stored
    unstored = ask(gateway, "not kept", headers={"cache-control": "no-store"})
    assert (unstored.headers["x-raceway-cache"], content(unstored)) == ("miss", "three")
    assert ask(gateway, "not kept").headers["x-raceway-cache"] == "miss"
    assert threaded_upstream.calls("priced") == 4


def test_a_cached_answer_streams_as_proper_sse_and_a_streamed_answer_is_cached(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("priced", Behaviour(reply="the cached words"))
    client = openai.OpenAI(base_url=gateway.api_url, api_key=ALICE, max_retries=0, timeout=10)
    messages: Any = [{"role": "user", "content": "replay me"}]
    original = client.chat.completions.create(model="cached", messages=messages, temperature=0)
    raw = client.chat.completions.with_raw_response.create(
        model="cached", messages=messages, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    assert raw.headers["x-raceway-cache"] == "hit"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "the cached words"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == original.usage.total_tokens  # type: ignore[union-attr]

    streamed = client.chat.completions.create(
        model="cached", messages=[{"role": "user", "content": "stream first"}], temperature=0, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    after = ask(gateway, "stream first")
    assert after.headers["x-raceway-cache"] == "hit" and content(after) == text == "the cached words"
    assert threaded_upstream.calls("priced") == 2


def test_entries_are_per_key_unless_the_group_shares_them(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    assert ask(gateway, "mine", key=ALICE).headers["x-raceway-cache"] == "miss"
    assert ask(gateway, "mine", key=BOB).headers["x-raceway-cache"] == "miss"
    assert (
        ask(gateway, "ours", model="shared", key=ALICE, temperature=0.9).headers["x-raceway-cache"] == "miss"
    )
    assert ask(gateway, "ours", model="shared", key=BOB, temperature=0.9).headers["x-raceway-cache"] == "hit"
    assert threaded_upstream.calls("priced") == 3


RELEASE = "release"  # a request for this model, sent to the upstream itself, lets a held call answer
MISSES = 'raceway_cache_lookups_total{result="miss"}'


async def crowd(
    gateway: RunningGateway, upstream: FakeUpstream, prompt: str, count: int = 50
) -> list[httpx.Response]:
    """``count`` identical requests at once, half of them streaming, each on its own connection.

    The upstream holds its answer (scripted ``after=RELEASE``) until every request has looked
    in the cache and missed: each then waits for the one call, however long the crowd takes to
    come in (on a loaded machine, the last may come after a call that was not held ended)."""
    misses = await asyncio.to_thread(gateway.metric, MISSES)
    limits = httpx.Limits(max_connections=count + 1)
    async with httpx.AsyncClient(timeout=15, limits=limits) as client:
        body = {"model": "cached", "messages": [{"role": "user", "content": prompt}], "temperature": 0}
        answers = asyncio.gather(
            *(
                client.post(
                    f"{gateway.api_url}/chat/completions",
                    json={**body, "stream": index % 2 == 1},
                    headers={"authorization": f"Bearer {ALICE}"},
                )
                for index in range(count)
            )
        )
        async with asyncio.timeout(10):
            while await asyncio.to_thread(gateway.metric, MISSES) < misses + count:  # noqa: ASYNC110 (a count in another process: no event)
                await asyncio.sleep(0.02)
        release = {"model": RELEASE, "messages": [{"role": "user", "content": "go"}]}
        await client.post(f"{upstream.base_url}/chat/completions", json=release)
        return await answers


async def test_fifty_identical_requests_make_one_upstream_call(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("priced", Behaviour(reply="shared answer", after=RELEASE))
    coalesced_before = gateway.metric('raceway_coalesced_requests_total{model="cached"}')
    responses = await crowd(gateway, threaded_upstream, "all at once")
    assert [r.status_code for r in responses] == [200] * 50
    for index, response in enumerate(responses):
        if index % 2:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert "shared" in response.text and response.text.rstrip().endswith("data: [DONE]")
        else:
            assert content(response) == "shared answer"
    assert threaded_upstream.calls("priced") == 1
    hits = [r.headers["x-raceway-cache"] for r in responses]
    assert hits.count("miss") == 1 and hits.count("hit") == 49
    assert gateway.metric('raceway_coalesced_requests_total{model="cached"}') - coalesced_before == 49


async def test_when_the_shared_call_fails_every_waiting_request_gets_its_error(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script("priced", Behaviour(status=500, after=RELEASE))
    responses = await crowd(gateway, threaded_upstream, "all fail together")
    assert threaded_upstream.calls("priced") == 1
    for response in responses:
        assert response.status_code == 502, response.text
        assert response.json()["error"]["code"] == "upstream_error"
    threaded_upstream.script("priced", Behaviour(reply="recovered"))
    assert content(ask(gateway, "all fail together")) == "recovered"  # a failure is never cached


def test_streams_ask_the_upstream_for_usage_so_they_are_costed(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    before = gateway.metric('raceway_cost_usd_total{deployment="priced",model="uncached"}')
    client = openai.OpenAI(base_url=gateway.api_url, api_key=ALICE, max_retries=0, timeout=10)
    chunks = list(
        client.chat.completions.create(
            model="uncached", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(chunk.usage is None for chunk in chunks)  # the client did not ask for it
    (seen,) = threaded_upstream.requests
    assert seen.body["stream_options"] == {"include_usage": True}
    after = gateway.metric('raceway_cost_usd_total{deployment="priced",model="uncached"}')
    assert after - before == pytest.approx(PRICED_COST)


def test_cost_from_litellms_price_table(gateway: RunningGateway, threaded_upstream: FakeUpstream) -> None:
    response = ask(gateway, "price me", model="table")
    assert float(response.headers["x-raceway-cost-usd"]) == pytest.approx(TABLE_COST, abs=1e-8)


async def test_when_the_leading_client_leaves_a_waiting_request_takes_over(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    threaded_upstream.script(
        "priced", Behaviour(reply="first", delay=1.0), Behaviour(reply="second", delay=0.2)
    )
    body = {"model": "cached", "messages": [{"role": "user", "content": "leader leaves"}], "temperature": 0}
    headers = {"authorization": f"Bearer {ALICE}"}
    async with httpx.AsyncClient(timeout=0.3) as impatient, httpx.AsyncClient(timeout=10) as patient:
        leader = asyncio.create_task(
            impatient.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers)
        )
        await threaded_upstream.arrived_here("priced")  # the leader's call is under way
        followers = [
            patient.post(f"{gateway.api_url}/chat/completions", json=body, headers=headers) for _ in range(5)
        ]
        answers = await asyncio.gather(*followers)
        with pytest.raises(httpx.ReadTimeout):
            await leader
    assert [content(answer) for answer in answers] == ["second"] * 5
    assert threaded_upstream.calls("priced") == 2
    assert threaded_upstream.wait_for_disconnect("priced")  # the abandoned call was cancelled upstream


def sdk_stream(client: openai.OpenAI, **request: Any) -> tuple[str, dict[str, Any]]:
    """A streamed answer (with usage) as the openai SDK accumulates it, and its cache header."""
    raw = client.chat.completions.with_raw_response.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in raw.parse():
        state.handle_chunk(chunk)
    return raw.headers["x-raceway-cache"], comparable(state.get_final_completion())


def sdk_json(client: openai.OpenAI, **request: Any) -> tuple[str, dict[str, Any]]:
    """A JSON answer as the openai SDK parses it, and its cache header."""
    raw = client.chat.completions.with_raw_response.create(**request)
    return raw.headers["x-raceway-cache"], comparable(raw.parse())


def comparable(completion: Any) -> dict[str, Any]:
    """What a client reads of an answer, whichever form it came in."""
    choice = completion.choices[0]
    return {
        "content": choice.message.content,
        "finish_reason": choice.finish_reason,
        "logprobs": choice.logprobs.model_dump() if choice.logprobs else None,
        "usage": completion.usage.model_dump() if completion.usage else None,
    }


@pytest.mark.parametrize("first", ["json", "stream"])
def test_a_cached_answer_keeps_its_logprobs_in_either_form(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, first: str
) -> None:
    threaded_upstream.script("priced", Behaviour(reply="three little words"))
    client = openai.OpenAI(base_url=gateway.api_url, api_key=ALICE, max_retries=0, timeout=10)
    request: Any = {
        "model": "cached",
        "messages": [{"role": "user", "content": f"logprobs, {first} first"}],
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 2,
    }
    forms = [sdk_json, sdk_stream] if first == "json" else [sdk_stream, sdk_json]
    (miss, fresh), (hit, cached) = (ask_in(client, **request) for ask_in in forms)
    assert (miss, hit) == ("miss", "hit")
    assert threaded_upstream.calls("priced") == 1
    assert [token["token"] for token in fresh["logprobs"]["content"]] == ["three", " little", " words"]
    assert [len(token["top_logprobs"]) for token in fresh["logprobs"]["content"]] == [2, 2, 2]
    assert cached == fresh


def completion_stream(client: openai.OpenAI, **request: Any) -> tuple[str, dict[str, Any]]:
    """A streamed legacy completion (with usage) as its client puts it together, and its cache header."""
    raw = client.completions.with_raw_response.create(
        **request, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(raw.parse())
    pieces = [chunk.choices[0] for chunk in chunks if chunk.choices]
    logprobs: dict[str, list[Any]] = {
        "tokens": [],
        "token_logprobs": [],
        "top_logprobs": [],
        "text_offset": [],
    }
    for piece in pieces:
        for name, values in (piece.logprobs.model_dump() if piece.logprobs else {}).items():
            logprobs[name] += values or []
    usage = chunks[-1].usage
    read = {
        "text": "".join(piece.text for piece in pieces),
        "finish_reason": [piece.finish_reason for piece in pieces if piece.finish_reason][-1],
        "logprobs": logprobs,
        "usage": usage.model_dump() if usage else None,
    }
    return raw.headers["x-raceway-cache"], read


def completion_json(client: openai.OpenAI, **request: Any) -> tuple[str, dict[str, Any]]:
    raw = client.completions.with_raw_response.create(**request)
    completion = raw.parse()
    choice = completion.choices[0]
    read = {
        "text": choice.text,
        "finish_reason": choice.finish_reason,
        "logprobs": choice.logprobs.model_dump() if choice.logprobs else None,
        "usage": completion.usage.model_dump() if completion.usage else None,
    }
    return raw.headers["x-raceway-cache"], read


@pytest.mark.parametrize("first", ["json", "stream"])
def test_a_legacy_completion_is_cached_and_replayed_in_either_form(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, first: str
) -> None:
    threaded_upstream.script("priced", Behaviour(reply="three little words"))
    client = openai.OpenAI(base_url=gateway.api_url, api_key=ALICE, max_retries=0, timeout=10)
    request: Any = {"model": "cached", "prompt": f"complete, {first} first", "temperature": 0, "logprobs": 2}
    forms = [completion_json, completion_stream] if first == "json" else [completion_stream, completion_json]
    (miss, fresh), (hit, cached) = (ask_in(client, **request) for ask_in in forms)
    assert (miss, hit) == ("miss", "hit")
    assert threaded_upstream.calls("priced") == 1
    assert fresh["text"] == "three little words"
    assert fresh["logprobs"]["tokens"] == ["three", " little", " words"]
    assert fresh["logprobs"]["text_offset"] == [0, 5, 12]
    assert cached == fresh
    _, again = completion_stream(client, **request)  # and a stream replayed from a stream
    assert again == fresh and threaded_upstream.calls("priced") == 1


def sse(*payloads: dict[str, Any]) -> bytes:
    events = [b"data: " + orjson.dumps(payload) + b"\n\n" for payload in payloads]
    return b"".join(events) + b"data: [DONE]\n\n"


def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
    return {"id": "c", "object": "chat.completion.chunk", "model": "priced", "choices": [choice]}


UNKEEPABLE = {
    # the assembler cannot merge a legacy function call that changes shape midway
    "assembly-fails": sse(
        chunk({"role": "assistant", "content": "kept "}),
        chunk({"content": "going", "function_call": "f"}),
        chunk({"function_call": {"name": "f"}}, "stop"),
    ),
    # a tool call index that would have the assembler make a billion entries
    "huge-index": sse(
        chunk({"role": "assistant", "content": "kept "}),
        chunk({"content": "going", "tool_calls": [{"index": 1_000_000_000, "function": {"name": "f"}}]}),
        chunk({}, "stop"),
    ),
}


@pytest.mark.parametrize("stream", UNKEEPABLE.values(), ids=UNKEEPABLE.keys())
def test_a_stream_that_cannot_be_assembled_still_reaches_its_client_whole_and_is_not_cached(
    gateway: RunningGateway, threaded_upstream: FakeUpstream, stream: bytes
) -> None:
    threaded_upstream.script("priced", Behaviour(body=stream, content_type="text/event-stream"))
    client = openai.OpenAI(base_url=gateway.api_url, api_key=ALICE, max_retries=0, timeout=10)
    for _ in range(2):
        chunks = list(
            client.chat.completions.create(
                model="cached",
                messages=[{"role": "user", "content": "unkeepable"}],
                temperature=0,
                stream=True,
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "kept going"
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert threaded_upstream.calls("priced") == 2  # not kept: the second request went upstream too
