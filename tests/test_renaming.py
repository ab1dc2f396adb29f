"""``server.response_model: public``: answers and every stream chunk name the model the client
asked for; by default they carry the upstream's name, as it sent it."""

from __future__ import annotations

import openai
import orjson
import pytest

from router.config.load import parse_config
from router.http.app import create_app
from router.http.renaming import PublicModelName
from tests.conftest import Gateways, RunningGateway
from tests.test_app import serving as in_process
from tests.upstream import FakeUpstream


@pytest.mark.parametrize(
    "answer",
    [
        b'{"id":"x","model":"gpt-4o-2024-08-06","choices":[]}',
        b'{"id": "x", "model" : "gpt-4o-2024-08-06", "choices": []}',
        b'{"id":"x","model":"with \\"quotes\\" and \\\\","choices":[]}',
    ],
)
def test_the_model_field_is_replaced_however_it_is_written(answer: bytes) -> None:
    renamed = PublicModelName('my "chat"')(answer)
    assert orjson.loads(renamed) == {**orjson.loads(answer), "model": 'my "chat"'}


def test_text_that_looks_like_the_field_is_left_alone() -> None:
    answer = b'{"choices":[{"message":{"content":"say \\"model\\":\\"x\\""}}],"model":"x"}'
    renamed = orjson.loads(PublicModelName("chat")(answer))
    assert renamed["model"] == "chat"
    assert renamed["choices"][0]["message"]["content"] == 'say "model":"x"'


def test_every_chunk_of_a_stream_and_chunks_without_the_field() -> None:
    rename = PublicModelName("chat")
    chunks = [
        b'data: {"id":"1","model":"up-1","choices":[{"delta":{"content":"a"}}]}\n\n',
        b'data: {"id":"1","model":"up-1","choices":[{"delta":{"content":"b"}}]}\n\n',
        b'data: {"id":"1","model":"up-2","choices":[]}\n\n',  # the field changed: found again
        b"data: [DONE]\n\n",
    ]
    renamed = [rename(chunk) for chunk in chunks]
    assert [orjson.loads(chunk[6:])["model"] for chunk in renamed[:3]] == ["chat"] * 3
    assert renamed[3] == b"data: [DONE]\n\n"


async def test_by_default_the_upstreams_name_passes_through(upstream: FakeUpstream) -> None:
    config = parse_config(
        f"""
        deployments:
          - {{name: up, provider: openai, base_url: "{upstream.base_url}", model: upstream-2024-11}}
        models: [{{name: chat, deployments: [up]}}]
        """.encode(),
        {},
    )
    async with in_process(create_app(config)) as http:
        client = openai.AsyncOpenAI(base_url="http://gateway/v1", api_key="unused", http_client=http)
        answer = await client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.model == "upstream-2024-11"


# -- on the real server, with the official client ---------------------------------------------


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    base = module_upstream.base_url
    config = f"""
    server: {{graceful_timeout: 5s, response_model: public}}
    deployments:
      - {{name: up, provider: openai, base_url: "{base}", model: upstream-2024-11}}
    models:
      - {{name: chat, deployments: [up]}}
      - {{name: remembered, deployments: [up], cache: {{mode: always}}}}
    """
    return gateways.serve(config)


def test_answers_streams_embeddings_and_cached_answers_name_the_public_model(
    gateway: RunningGateway, threaded_upstream: FakeUpstream
) -> None:
    client = openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=10)
    hello = [{"role": "user", "content": "hello"}]
    assert client.chat.completions.create(model="chat", messages=hello).model == "chat"
    chunks = list(
        client.chat.completions.create(
            model="chat", messages=hello, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(chunks) >= 3 and {chunk.model for chunk in chunks} == {"chat"}
    assert client.embeddings.create(model="chat", input="hello").model == "chat"
    # An answer kept in the cache, replayed as JSON and as a stream, on one connection (one worker).
    with openai.OpenAI(
        base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=10
    ) as one_connection:
        first = one_connection.chat.completions.with_raw_response.create(model="remembered", messages=hello)
        again = one_connection.chat.completions.with_raw_response.create(model="remembered", messages=hello)
        streamed = one_connection.chat.completions.with_raw_response.create(
            model="remembered", messages=hello, stream=True
        )
        replayed = list(streamed.parse())
    assert [first.headers["x-raceway-cache"], again.headers["x-raceway-cache"]] == ["miss", "hit"]
    assert streamed.headers["x-raceway-cache"] == "hit"
    assert first.parse().model == again.parse().model == "remembered"
    assert {chunk.model for chunk in replayed} == {"remembered"}
    assert {seen.model for seen in threaded_upstream.requests} == {"upstream-2024-11"}
