"""CORS for browser clients, on the real server: preflights, and the headers on every kind of answer."""

from __future__ import annotations

import httpx
import pytest

from router.config.load import parse_config
from router.http.app import create_app
from router.http.cors import EXPOSED
from tests.conftest import Gateways, RunningGateway
from tests.test_app import serving as in_process

KEY = "rw-browser-key-1"
SLOW_KEY = "rw-browser-key-2"
APP = "https://app.example.com"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture(scope="module")
def gateway(gateways: Gateways) -> RunningGateway:
    config = f"""
    server: {{graceful_timeout: 5s, cors: {{origins: ["{APP}", "http://localhost:5173"], max_age: 1h}}}}
    deployments: [{{name: f, provider: fake, fake: {{reply: "one two three"}}}}]
    models: [{{name: m, deployments: [f]}}]
    keys: [{{name: web, key: "{KEY}"}}, {{name: slow, key: "{SLOW_KEY}", rpm: 1}}]
    """
    return gateways.serve(config)


def test_a_preflight_from_an_allowed_origin(gateway: RunningGateway) -> None:
    response = httpx.options(
        f"{gateway.api_url}/chat/completions",
        headers={
            "origin": APP,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type, x-stainless-os",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == APP
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-allow-headers"] == "authorization, content-type, x-stainless-os"
    assert response.headers["access-control-max-age"] == "3600"
    assert "Origin" in response.headers.get_list("vary")


def test_a_preflight_from_another_origin_is_refused(gateway: RunningGateway) -> None:
    response = httpx.options(
        f"{gateway.api_url}/chat/completions",
        headers={"origin": "https://evil.example.net", "access-control-request-method": "POST"},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in response.headers


def test_answers_json_streamed_and_errors_carry_the_headers(gateway: RunningGateway) -> None:
    browser = {"origin": APP, "authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=gateway.api_url, headers=browser, timeout=10) as client:
        answer = client.post("/chat/completions", json=CHAT)
        with client.stream("POST", "/chat/completions", json={**CHAT, "stream": True}) as streamed:
            events = [line for line in streamed.iter_lines() if line]
        refused = client.post("/chat/completions", json=CHAT, headers={"authorization": "Bearer wrong-key-1"})
        unknown = client.post("/chat/completions", json={**CHAT, "model": "nope"})
        listed = client.get("/models")
        slow = {"authorization": f"Bearer {SLOW_KEY}"}
        limited = [client.post("/chat/completions", json=CHAT, headers=slow) for _ in range(2)][-1]
        no_route = client.get("/nowhere")
    assert answer.status_code == 200 and streamed.status_code == 200 and events[-1] == "data: [DONE]"
    assert [refused.status_code, unknown.status_code, listed.status_code, no_route.status_code] == [
        401,
        404,
        200,
        404,
    ]
    assert limited.status_code == 429
    for response in (answer, streamed, refused, unknown, listed, no_route, limited):
        assert response.headers["access-control-allow-origin"] == APP, response.request.url
        exposed = set(response.headers["access-control-expose-headers"].split(", "))
        assert "x-request-id" in exposed and "x-raceway-deployment" in exposed
        assert "Origin" in response.headers.get_list("vary")
        # every header of the gateway's own a script might want is readable (x-should-retry too)
        own = {name for name in response.headers if name.startswith(("x-r", "x-s", "retry-after"))}
        assert own <= exposed, response.request.url
    assert limited.headers["x-should-retry"] == "true" and "retry-after-ms" in limited.headers


def test_the_retry_advice_upstream_ids_and_relayed_limits_are_exposed() -> None:
    exposed = set(EXPOSED.decode().split(", "))
    assert {"x-should-retry", "retry-after", "retry-after-ms", "x-raceway-upstream-request-id"} <= exposed
    kinds = ("limit", "remaining", "reset")
    assert {f"x-ratelimit-{kind}-{of}" for kind in kinds for of in ("requests", "tokens")} <= exposed


def test_another_origin_is_served_but_not_told_it_may_read(gateway: RunningGateway) -> None:
    response = httpx.post(
        f"{gateway.api_url}/chat/completions",
        json=CHAT,
        headers={"origin": "https://evil.example.net", "authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 200  # the browser, not the gateway, keeps the page from reading it
    assert "access-control-allow-origin" not in response.headers


async def test_without_server_cors_nothing_changes() -> None:
    config = parse_config(
        b"deployments: [{name: f, provider: fake}]\nmodels: [{name: m, deployments: [f]}]", {}
    )
    async with in_process(create_app(config)) as client:
        preflight = await client.options(
            "/v1/chat/completions", headers={"origin": APP, "access-control-request-method": "POST"}
        )
        answer = await client.post("/v1/chat/completions", json=CHAT, headers={"origin": APP})
    assert preflight.status_code == 405
    assert answer.status_code == 200
    assert not any(name.startswith("access-control-") for name in [*preflight.headers, *answer.headers])


async def test_a_reload_turns_cors_on_and_off() -> None:
    base = b"deployments: [{name: f, provider: fake}]\nmodels: [{name: m, deployments: [f]}]\n"
    app = create_app(parse_config(base, {}))
    preflight = {"origin": APP, "access-control-request-method": "POST"}
    async with in_process(app) as client:
        assert (await client.options("/v1/models", headers=preflight)).status_code == 405
        worker = app.worker
        on = parse_config(base + f'server: {{cors: {{origins: ["{APP}"]}}}}'.encode(), {})
        worker.gateway, _ = worker.gateway.successor(on, worker.metrics)
        assert (await client.options("/v1/models", headers=preflight)).status_code == 204
        worker.gateway, _ = worker.gateway.successor(parse_config(base + b"# off\n", {}), worker.metrics)
        assert (await client.options("/v1/models", headers=preflight)).status_code == 405


def test_origins_are_checked_in_the_config() -> None:
    from router.config.model import ConfigError

    base = "deployments: [{name: f, provider: fake}]\nmodels: [{name: m, deployments: [f]}]\n"
    with pytest.raises(ConfigError) as caught:
        parse_config((base + 'server: {cors: {origins: ["https://a.example.com/", "*"]}}').encode(), {})
    assert caught.value.problems == [
        "server.cors.origins: expected origins like https://app.example.com or *; entry 0 is not one"
    ]
    config = parse_config((base + 'server: {cors: {origins: ["HTTPS://A.example.com"]}}').encode(), {})
    assert config.server.cors is not None and config.server.cors.origins == ("https://a.example.com",)
    assert config.server.cors.max_age == 600
