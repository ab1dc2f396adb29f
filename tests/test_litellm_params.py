"""What reaches litellm is built from an allow-list, and a request litellm would get a field
it may not have is refused before any deployment is called."""

from __future__ import annotations

import pytest

from router.config.load import parse_config
from router.config.reserved import is_reserved
from router.errors import InvalidRequest
from router.providers.litellm_params import CHAT, EMBEDDINGS, LiteLLMFieldPolicy, litellm_arguments

CONFIG = b"""
deployments:
  - {name: claude, provider: anthropic, adapter: litellm, model: c, api_key: "${K}"}
  - {name: claude-k, provider: anthropic, adapter: litellm, model: c, api_key: "${K}", extra_params: [top_k]}
  - {name: local, provider: vllm, model: l, base_url: "http://127.0.0.1:8000/v1"}
models:
  - {name: claude, deployments: [claude]}
  - {name: claude-k, deployments: [claude-k]}
  - {name: local, deployments: [local]}
  - {name: local-then-claude, deployments: [local], fallbacks: [claude]}
  - {name: both, deployments: [local, claude-k]}
"""
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True, "temperature": 0}


@pytest.fixture
def policy() -> LiteLLMFieldPolicy:
    return LiteLLMFieldPolicy(parse_config(CONFIG, {"K": "secret"}))


def refused_field(
    policy: LiteLLMFieldPolicy, group: str, body: dict[str, object], pinned: str | None = None
) -> str:
    with pytest.raises(InvalidRequest) as refused:
        policy.check(group, pinned, body, CHAT)
    assert refused.value.code == "unsupported_field" and refused.value.status == 400
    assert refused.value.param is not None
    return refused.value.param


def test_documented_parameters_pass_and_anything_else_is_refused_by_name(policy: LiteLLMFieldPolicy) -> None:
    policy.check("claude", None, BODY, CHAT)
    assert refused_field(policy, "claude", {**BODY, "model_list": []}) == "model_list"
    assert refused_field(policy, "claude", {**BODY, "metadata": {"model_group": "x"}}) == "metadata"


def test_a_deployments_extra_params_are_allowed_for_it_alone(policy: LiteLLMFieldPolicy) -> None:
    policy.check("claude-k", None, {**BODY, "top_k": 5}, CHAT)
    assert refused_field(policy, "claude", {**BODY, "top_k": 5}) == "top_k"


def test_native_groups_take_any_field(policy: LiteLLMFieldPolicy) -> None:
    policy.check("local", None, {**BODY, "guided_json": {}, "model_list": []}, CHAT)


def test_every_deployment_a_request_may_reach_counts_fallbacks_included(policy: LiteLLMFieldPolicy) -> None:
    assert refused_field(policy, "local-then-claude", {**BODY, "top_k": 5}) == "top_k"
    assert refused_field(policy, "both", {**BODY, "guided_json": {}}) == "guided_json"
    policy.check("both", None, {**BODY, "top_k": 5}, CHAT)


def test_a_pinned_deployment_alone_decides(policy: LiteLLMFieldPolicy) -> None:
    policy.check("both", "local", {**BODY, "guided_json": {}}, CHAT)
    assert refused_field(policy, "both", {**BODY, "guided_json": {}}, pinned="claude-k") == "guided_json"


def test_the_arguments_hold_only_allowed_fields_and_never_the_adapters_own() -> None:
    config = parse_config(CONFIG, {"K": "secret"})
    arguments = litellm_arguments({**BODY, "top_k": 1}, CHAT, config.deployments["claude-k"])
    assert arguments == {"temperature": 0, "top_k": 1}
    embedding = {"model": "e", "input": ["a"], "dimensions": 8}
    assert litellm_arguments(embedding, EMBEDDINGS, config.deployments["claude"]) == {"dimensions": 8}
    with pytest.raises(InvalidRequest):
        litellm_arguments({**embedding, "messages": []}, EMBEDDINGS, config.deployments["claude"])


def test_no_documented_parameter_is_a_reserved_name() -> None:
    for surface in (CHAT, EMBEDDINGS):
        assert not [name for name in surface.parameters if is_reserved(name)]
        assert surface.own & surface.parameters == set()
