"""Routing tiers: rules pick the group, the key may pin a deployment, unknown names are refused."""

from __future__ import annotations

import pytest

from router.config.gateway_keys import GatewayKey
from router.config.load import parse_config
from router.errors import InvalidRequest, ModelNotFound, PermissionDenied
from router.routing.rules import estimate_prompt_tokens, route

CONFIG = parse_config(
    b"""
deployments:
  - {name: small-a, provider: fake}
  - {name: small-b, provider: fake}
  - {name: big, provider: fake}
models:
  - {name: chat, deployments: [small-a, small-b]}
  - {name: premium, deployments: [big]}
  - {name: batch, deployments: [small-b]}
routes:
  - {name: premium-tag, match: {model: chat, tags: [premium, vip]}, to: premium}
  - {name: batch-users, match: {user: "batch-*"}, to: batch}
  - {name: long-prompts, match: {model: chat, min_prompt_tokens: 1000}, to: premium}
""",
    {},
)
OPERATOR = GatewayKey.from_secret("ops", "ops-key-123", allow_override=True)
APP = GatewayKey.from_secret("app", "app-key-123", models=frozenset({"chat"}))


def body(content: str = "hello", **extra: object) -> dict[str, object]:
    return {"model": "chat", "messages": [{"role": "user", "content": content}], **extra}


def test_without_a_rule_the_requested_group_serves() -> None:
    routed = route(CONFIG, "chat", body(), None, {})
    assert (routed.group.name, routed.rule, routed.pinned) == ("chat", None, None)


def test_tag_rule() -> None:
    routed = route(CONFIG, "chat", body(), None, {"x-raceway-tags": "eu, vip"})
    assert (routed.group.name, routed.rule) == ("premium", "premium-tag")
    assert route(CONFIG, "chat", body(), None, {"x-raceway-tags": "eu"}).group.name == "chat"


def test_user_glob_rule() -> None:
    assert route(CONFIG, "chat", body(user="batch-nightly"), None, {}).group.name == "batch"
    assert route(CONFIG, "chat", body(user="alice"), None, {}).group.name == "chat"


def test_prompt_length_rule() -> None:
    assert route(CONFIG, "chat", body("x" * 5000), None, {}).group.name == "premium"
    assert estimate_prompt_tokens(body("x" * 5000)) == 1250


def test_key_permissions_apply_to_the_requested_model() -> None:
    assert route(CONFIG, "chat", body(), APP, {"x-raceway-tags": "vip"}).group.name == "premium"
    with pytest.raises(PermissionDenied):
        route(CONFIG, "premium", body(), APP, {})


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFound):
        route(CONFIG, "gpt-9", body(), None, {})


def test_override_only_for_allowed_keys_and_group_members() -> None:
    assert route(CONFIG, "chat", body(), OPERATOR, {"x-raceway-deployment": "small-b"}).pinned == "small-b"
    assert route(CONFIG, "chat", body(), None, {"x-raceway-deployment": "small-b"}).pinned == "small-b"
    with pytest.raises(PermissionDenied) as refused:
        route(CONFIG, "chat", body(), APP, {"x-raceway-deployment": "small-b"})
    assert refused.value.code == "override_not_allowed"
    with pytest.raises(InvalidRequest):
        route(CONFIG, "chat", body(), OPERATOR, {"x-raceway-deployment": "big"})


@pytest.mark.parametrize("stray", [None, "abc", 5, [1, 2], ["a"], {"a": 1}, [{"content": 5}], [[{}]]])
def test_an_embeddings_request_with_a_stray_messages_field_is_estimated_from_its_input(stray: object) -> None:
    # Validation checks only the embeddings fields: ``messages`` there is passed through as it came.
    assert estimate_prompt_tokens({"model": "e", "input": "x" * 40, "messages": stray}) == 10


def test_every_dialects_prompt_counts_toward_its_estimate() -> None:
    messages = {
        "system": [{"type": "text", "text": "s" * 40}],
        "messages": [
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r" * 40}]},
            {"role": "user", "content": [{"type": "text", "text": "u" * 40}]},
        ],
    }
    responses = {
        "instructions": "i" * 40,
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "u" * 40}]},
            {"type": "function_call_output", "call_id": "c", "output": "o" * 40},
        ],
    }
    assert estimate_prompt_tokens(messages) == 30
    assert estimate_prompt_tokens(responses) == 30
    assert estimate_prompt_tokens({"prompt": "p" * 40}) == 10
