"""A client's body cannot make a litellm-served deployment call another host with its key.

The real gateway serves Anthropic deployments through litellm, against a fake Anthropic API;
a second server on 127.0.0.1 plays the attacker. Every keyword litellm's ``acompletion``
accepts is read from its signature here, so a litellm upgrade that adds one is tested too.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import httpx
import pytest

from router.http.dialect_validation import MESSAGES_FIELDS, RESPONSES_FIELDS
from router.http.kinds import FORBIDDEN_FIELDS
from router.providers.litellm_adapter import load_litellm
from router.providers.litellm_params import CHAT
from tests.anthropic_upstream import anthropic_app
from tests.conftest import Gateways, RunningGateway
from tests.servers import recording_app, serve_in_thread

pytestmark = pytest.mark.integration

API_KEY = "sk-ant-security-SECRET-0000"
MODEL = "claude-3-5-haiku-20241022"

# Keywords litellm takes through **kwargs (its signature does not name them) that route,
# authenticate or change the call: the families a body must never reach it with.
KWARGS_FAMILIES = (
    "api_base",
    "fallbacks",
    "context_window_fallback_dict",
    "custom_llm_provider",
    "mock_response",
    "metadata",
    "litellm_metadata",
    "litellm_params",
    "extra_body",
    "callbacks",
    "success_callback",
    "failure_callback",
    "num_retries",
    "max_retries",
    "input_cost_per_token",
    "azure_ad_token",
    "aws_access_key_id",
    "vertex_credentials",
)


@dataclasses.dataclass
class Servers:
    """The fake Anthropic API, the attacker and a native upstream, with what each received."""

    anthropic: str = ""
    attacker: str = ""
    native: str = ""
    anthropic_seen: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    attacker_seen: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    native_seen: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@pytest.fixture(scope="module")
def servers(gateways: Gateways) -> Servers:
    found = Servers()
    found.anthropic = gateways.enter(serve_in_thread(anthropic_app(found.anthropic_seen)))
    found.attacker = gateways.enter(serve_in_thread(recording_app(found.attacker_seen, reply="pwned")))
    found.native = gateways.enter(serve_in_thread(recording_app(found.native_seen, reply="native answer")))
    return found


@pytest.fixture(scope="module")
def gateway(servers: Servers, gateways: Gateways) -> RunningGateway:
    claude = f'provider: anthropic, adapter: litellm, model: {MODEL}, api_key: "${{ANTHROPIC_API_KEY}}"'
    config = f"""
        deployments:
          - {{name: claude, {claude}, base_url: "{servers.anthropic}"}}
          - {{name: claude-extras, {claude}, base_url: "{servers.anthropic}", extra_params: [top_k]}}
          - {{name: unreachable, {claude}, base_url: "http://127.0.0.1:9", cooldown: {{failures: 1000}}}}
          - {{name: native, provider: openai, model: gpt-4o-mini, base_url: "{servers.native}/v1"}}
        models:
          - {{name: claude, deployments: [claude]}}
          - {{name: claude-extras, deployments: [claude-extras]}}
          - {{name: fails-first, deployments: [unreachable, claude]}}
          - {{name: native, deployments: [native]}}
          - {{name: mixed, deployments: [native], fallbacks: [claude]}}
        """
    return gateways.serve(config, workers=1, env={"ANTHROPIC_API_KEY": API_KEY})


@pytest.fixture(autouse=True)
def forget(servers: Servers) -> None:
    servers.anthropic_seen.clear()
    servers.attacker_seen.clear()
    servers.native_seen.clear()


def chat(gateway: RunningGateway, model: str, **fields: Any) -> httpx.Response:
    body = {"model": model, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}], **fields}
    return httpx.post(f"{gateway.api_url}/chat/completions", json=body, timeout=30)


def attack_value(field: str, attacker: str) -> Any:
    """What an attacker would put in ``field`` to send the call (and the key) to ``attacker``."""
    if field == "model_list":
        return [
            {
                "model_name": f"anthropic/{MODEL}",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_base": f"{attacker}/v1"},
            }
        ]
    if field == "fallbacks":
        return [{"model": "openai/gpt-4o-mini", "api_base": f"{attacker}/v1"}]
    if field in ("litellm_params", "metadata", "litellm_metadata", "extra_body"):
        return {"api_base": f"{attacker}/v1", "model_group": "x"}
    return f"{attacker}/v1"


def litellm_keywords() -> list[str]:
    litellm = load_litellm()
    named = [name for name in inspect.signature(litellm.acompletion).parameters if name != "kwargs"]
    return sorted({*named, *KWARGS_FAMILIES} - CHAT.own)


@pytest.mark.parametrize("model", ["claude", "fails-first", "mixed"])
def test_every_litellm_keyword_outside_the_documented_parameters_is_refused(
    gateway: RunningGateway, servers: Servers, model: str
) -> None:
    keywords = litellm_keywords()
    assert {"model_list", "api_base", "base_url", "extra_headers", "fallbacks"} <= set(keywords)
    undocumented = [field for field in keywords if field not in CHAT.parameters]
    for field in keywords:
        response = chat(gateway, model, **{field: attack_value(field, servers.attacker)})
        assert servers.attacker_seen == [], f"{field}: the attacker was called"
        if field in undocumented:
            assert response.status_code == 400, (field, response.text)
            assert response.json()["error"]["param"] == field
    assert all(entry["key"] == API_KEY for entry in servers.anthropic_seen)


def test_the_reported_exploits_get_400_and_the_key_stays_home(
    gateway: RunningGateway, servers: Servers
) -> None:
    for model in ("claude", "fails-first"):
        for field in ("model_list", "fallbacks"):
            response = chat(gateway, model, **{field: attack_value(field, servers.attacker)})
            assert response.status_code == 400, response.text
            error = response.json()["error"]
            assert error["param"] == field and "litellm" in error["message"]
            assert "pwned" not in response.text
    assert servers.attacker_seen == [] and servers.anthropic_seen == []


def test_documented_parameters_reach_the_provider(gateway: RunningGateway, servers: Servers) -> None:
    response = chat(gateway, "claude", temperature=0.5, stop=["END"], user="someone")
    assert response.status_code == 200, response.text
    (seen,) = servers.anthropic_seen
    assert seen["key"] == API_KEY
    assert seen["body"]["temperature"] == 0.5 and seen["body"]["stop_sequences"] == ["END"]


def test_a_deployments_extra_params_reach_the_provider_and_nothing_else_does(
    gateway: RunningGateway, servers: Servers
) -> None:
    allowed = chat(gateway, "claude-extras", top_k=5)
    assert allowed.status_code == 200, allowed.text
    assert servers.anthropic_seen[0]["body"]["top_k"] == 5
    refused = chat(gateway, "claude", top_k=5)
    assert refused.status_code == 400
    assert refused.json()["error"] | {"message": ""} == {
        "message": "",
        "type": "invalid_request_error",
        "param": "top_k",
        "code": "unsupported_field",
    }
    assert "extra_params" in refused.json()["error"]["message"]


def test_a_group_that_may_fall_back_to_litellm_refuses_before_calling_anyone(
    gateway: RunningGateway, servers: Servers
) -> None:
    response = chat(gateway, "mixed", top_k=5)
    assert response.status_code == 400 and response.json()["error"]["param"] == "top_k"
    assert servers.native_seen == [] and servers.anthropic_seen == []


def test_the_native_path_still_forwards_provider_fields(gateway: RunningGateway, servers: Servers) -> None:
    response = chat(gateway, "native", top_k=5, guided_json={"type": "object"})
    assert response.status_code == 200, response.text
    (seen,) = servers.native_seen
    assert '"top_k":5' in seen["body"] and '"guided_json"' in seen["body"]
    redirect = chat(gateway, "native", api_base=f"{servers.attacker}/v1")
    assert redirect.status_code == 400 and redirect.json()["error"]["param"] == "api_base"
    assert servers.attacker_seen == []


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/responses"])
def test_other_dialects_reach_litellm_with_documented_parameters_only(
    gateway: RunningGateway, servers: Servers, path: str
) -> None:
    """A Messages or Responses request is translated into chat, and the translation writes only
    documented chat parameters: whatever else the body holds never reaches litellm."""
    keywords = litellm_keywords()
    prompt = (
        {"messages": [{"role": "user", "content": "hi"}]} if path.endswith("messages") else {"input": "hi"}
    )
    body: dict[str, Any] = {"model": "claude", "max_tokens": 5, **prompt}
    documented = MESSAGES_FIELDS if path.endswith("messages") else RESPONSES_FIELDS
    for field in keywords:
        if field in body or field in CHAT.parameters or field in documented:
            continue
        body[field] = attack_value(field, servers.attacker)
    body = {name: value for name, value in body.items() if name not in FORBIDDEN_FIELDS}
    assert {"model_list", "fallbacks", "litellm_params"} - FORBIDDEN_FIELDS <= set(body)  # the exploits' own
    response = httpx.post(f"{gateway.base_url}{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert servers.attacker_seen == []
    (seen,) = servers.anthropic_seen
    assert seen["key"] == API_KEY
    assert set(seen["body"]) <= {"model", "messages", "max_tokens", "stream", "system", "metadata"}
