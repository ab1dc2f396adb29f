"""Property: whatever a client sends, the answer is below 500, and every refusal is OpenAI-shaped.

Thousands of generated bodies per endpoint go through the real application in-process
(httpx's ASGI transport): validation, routing rules, the cache, the built-in fake and a
native deployment calling a real upstream on a socket. The runs are derandomized, so CI
sees the same bodies every time; ``tests/test_request_properties_integration.py`` sends a
smaller batch to the real server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from router.config.load import parse_config
from router.http.app import create_app
from tests.anthropic_upstream import anthropic_app
from tests.bodies import (
    HEADERS,
    NOT_AN_OBJECT,
    PROPERTY,
    assert_answered,
    chat_bodies,
    embeddings_bodies,
    encoded,
    gateway_config,
)
from tests.servers import serve_in_thread
from tests.upstream import FakeUpstream


@pytest.fixture
async def client(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(parse_config(gateway_config(upstream.base_url).encode(), {}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
            await still_serving(client)


@pytest.fixture
async def litellm_client() -> AsyncIterator[httpx.AsyncClient]:
    """Both groups on one deployment served through litellm, against a fake Anthropic API."""
    with serve_in_thread(anthropic_app([])) as anthropic:
        config = f"""
        deployments:
          - {{name: claude, provider: anthropic, adapter: litellm, model: claude-3-5-haiku-20241022,
             api_key: "${{KEY}}", base_url: "{anthropic}", extra_params: [top_k],
             cooldown: {{failures: 1000000}}}}
        models: [{{name: m, deployments: [claude]}}, {{name: n, deployments: [claude]}}]
        """
        app = create_app(parse_config(config.encode(), {"KEY": "sk-ant-test"}))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://gateway", timeout=30
            ) as client:
                yield client


async def still_serving(client: httpx.AsyncClient) -> None:
    """After everything the property threw at it, the app answers a plain request."""
    assert (await client.get("/health")).status_code == 200
    ok = await client.post(
        "/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    )
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "echo: hi"


async def post(client: httpx.AsyncClient, path: str, raw: bytes, headers: dict[str, str]) -> None:
    response = await client.post(path, content=raw, headers={"content-type": "application/json", **headers})
    assert_answered(response)


@PROPERTY
@given(body=chat_bodies(), ascii_only=st.booleans(), headers=HEADERS)
async def test_no_chat_body_gets_a_server_error(
    client: httpx.AsyncClient, body: dict[str, Any], ascii_only: bool, headers: dict[str, str]
) -> None:
    await post(client, "/v1/chat/completions", encoded(body, ascii_only), headers)


@settings(PROPERTY, max_examples=1500)  # fewer fields than chat, fewer paths through them
@given(body=embeddings_bodies(), ascii_only=st.booleans(), headers=HEADERS)
async def test_no_embeddings_body_gets_a_server_error(
    client: httpx.AsyncClient, body: dict[str, Any], ascii_only: bool, headers: dict[str, str]
) -> None:
    await post(client, "/v1/embeddings", encoded(body, ascii_only), headers)


@settings(PROPERTY, max_examples=300)
@given(raw=NOT_AN_OBJECT, path=st.sampled_from(["/v1/chat/completions", "/v1/embeddings"]))
async def test_no_malformed_document_gets_a_server_error(
    client: httpx.AsyncClient, raw: bytes, path: str
) -> None:
    await post(client, path, raw, {})


@settings(PROPERTY, max_examples=300)  # litellm costs milliseconds of CPU a call
@given(body=chat_bodies(), ascii_only=st.booleans())
async def test_no_chat_body_sent_through_litellm_gets_a_server_error(
    litellm_client: httpx.AsyncClient, body: dict[str, Any], ascii_only: bool
) -> None:
    # litellm's adapters reported a malformed message as a connection error (a 502, which
    # also counted against the deployment's breaker): validation must refuse it first.
    await post(litellm_client, "/v1/chat/completions", encoded(body, ascii_only), {})
