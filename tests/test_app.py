"""The application in-process (ASGI, no sockets): readiness follows the lifecycle, bodies are bounded."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from router.config.load import parse_config
from router.http.app import create_app

CONFIG = parse_config(
    b"""
deployments: [{name: f, provider: fake}]
models: [{name: m, deployments: [f]}]
server: {max_body_size: 1KiB}
""",
    {},
)


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client


async def test_ready_turns_503_while_draining() -> None:
    app = create_app(CONFIG)
    async with serving(app) as client:
        assert (await client.get("/ready")).status_code == 200
        app.draining = True
        response = await client.get("/ready")
        assert response.status_code == 503 and response.json() == {"status": "draining"}
        assert (await client.get("/health")).status_code == 200  # alive, just not taking new work


async def test_body_limit_applies_without_a_content_length() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"model": "m", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}]}'

    async with serving(create_app(CONFIG)) as client:
        response = await client.post("/v1/chat/completions", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


async def test_a_trailing_slash_names_the_same_route() -> None:
    # Starlette answered a 307 redirect, which SDKs do not follow for a POST.
    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    async with serving(create_app(CONFIG)) as client:
        assert (await client.post("/v1/chat/completions/", json=chat)).status_code == 200
        assert (await client.post("/chat/completions//", json=chat)).status_code == 200
        assert (await client.post("/v1/embeddings/", json={"model": "m", "input": "x"})).status_code == 200
        assert (await client.get("/v1/models/")).json()["data"][0]["id"] == "m"
        assert (await client.get("/health/")).status_code == 200
        wrong_method = await client.get("/v1/chat/completions/")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_content_length_beside_transfer_encoding_is_refused_and_the_connection_closed() -> None:
    # HTTP says Transfer-Encoding wins, but the pair is how requests are smuggled past proxies
    # that believe the other one (RFC 9112, 6.3): refuse it, and close the connection.
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'
    headers = {"content-length": str(len(body)), "transfer-encoding": "chunked"}
    async with serving(create_app(CONFIG)) as client:
        response = await client.post("/v1/chat/completions", content=body, headers=headers)
    assert response.status_code == 400 and response.headers["connection"] == "close"
    assert response.json()["error"] == {
        "message": "a request may carry Content-Length or Transfer-Encoding, not both",
        "type": "invalid_request_error",
        "param": "transfer-encoding",
        "code": "conflicting_framing",
    }
