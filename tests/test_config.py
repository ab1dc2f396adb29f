"""The config file is the operator's interface: every mistake is reported with its key path."""

from pathlib import Path

import pytest

from router.config import ConfigError, Secret, load_config, parse_config

REPO = Path(__file__).resolve().parent.parent

MINIMAL = b"""
deployments:
  - name: openai-main
    provider: openai
    api_key: ${OPENAI_API_KEY}
    model: gpt-4o-mini
    timeout: 60s
models:
  - name: gpt-4o-mini
    deployments: [openai-main]
    strategy: fallback
keys: []
"""


def problems(raw: bytes, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env or {})
    return caught.value.problems


def test_minimal_config_parses_into_typed_objects() -> None:
    config = parse_config(MINIMAL, {"OPENAI_API_KEY": "sk-test-123456"})
    deployment = config.deployments["openai-main"]
    assert deployment.base_url == "https://api.openai.com/v1"
    assert deployment.api_key == Secret("sk-test-123456")
    assert deployment.timeout == 60.0
    assert deployment.is_native and not deployment.uses_litellm
    assert config.models["gpt-4o-mini"].deployments == ("openai-main",)
    assert config.server.bind == "127.0.0.1:8080"
    assert config.server.max_body_size == 10 * 1024 * 1024
    assert len(config.hash) == 16


def test_secrets_never_show_in_repr() -> None:
    config = parse_config(MINIMAL, {"OPENAI_API_KEY": "sk-test-123456"})
    assert "sk-test-123456" not in repr(config)
    assert list(config.secrets()) == ["sk-test-123456"]


def test_unset_environment_variable_names_the_key() -> None:
    assert problems(MINIMAL) == ["deployments[0].api_key: environment variable OPENAI_API_KEY is not set"]


def test_inline_provider_secret_is_refused() -> None:
    raw = MINIMAL.replace(b"${OPENAI_API_KEY}", b"sk-inline-secret")
    assert problems(raw) == [
        "deployments[0].api_key: secrets must come from the environment: write ${VARIABLE_NAME}"
    ]


def test_every_problem_is_reported_at_once() -> None:
    raw = b"""
server: {bind: "nowhere", workers: -2, colour: blue}
deployments:
  - name: a
    provider: openai
    model: m
    timeout: soon
    temperature: 3
  - name: a
    provider: martian
models:
  - name: chat
    deployments: [a, missing]
    strategy: telepathy
keys:
  - name: team
    key: short
"""
    found = problems(raw)
    assert "server.bind: expected HOST:PORT, e.g. 127.0.0.1:8080" in found
    assert "server.workers: expected a positive integer, got -2" in found
    assert any(p.startswith("server.colour: unknown key") for p in found)
    assert "deployments[0].timeout: expected a duration like 500ms, 30s or 2m" in found
    assert any(p.startswith("deployments[0].temperature: unknown key") for p in found)
    assert any(p.startswith("deployments[1].provider: unknown provider 'martian'") for p in found)
    assert "models[0].deployments[1]: undefined deployment 'missing'" in found
    assert any(p.startswith("models[0].strategy: unknown strategy 'telepathy'") for p in found)
    assert "keys[0].key: a gateway key must be at least 8 characters" in found


def test_duplicate_names_are_errors() -> None:
    raw = b"""
deployments:
  - {name: a, provider: fake}
  - {name: a, provider: fake}
models:
  - {name: m, deployments: [a]}
  - {name: m, deployments: [a]}
keys:
  - {name: k, key: key-one-123}
  - {name: k, key: key-one-123}
"""
    found = problems(raw)
    assert "deployments[1].name: duplicate deployment name 'a'" in found
    assert "models[1].name: duplicate model name 'm'" in found
    assert "keys[1].name: duplicate key name 'k'" in found
    assert "keys[1].key: the same key value is used twice" in found


def test_wrong_types_are_named() -> None:
    raw = b"""
deployments: {name: a}
models: [{name: m, deployments: a}]
"""
    found = problems(raw)
    assert "deployments: expected a list, got a mapping" in found
    assert "models[0].deployments: expected a non-empty list of names" in found


def test_yaml_syntax_error_gives_line_and_column() -> None:
    (problem,) = problems(b"models: [unclosed\n")
    assert problem.startswith("(yaml) line 2, column 1:")


def test_empty_and_non_mapping_documents() -> None:
    assert problems(b"") == ["(root): the config is empty"]
    assert problems(b"- a list\n") == ["(root): expected a mapping, got a list"]


def test_fake_settings_only_with_the_fake_provider() -> None:
    raw = b"""
deployments:
  - {name: a, provider: openai, model: m, fake: {latency: 1s}}
models: [{name: m, deployments: [a]}]
"""
    assert "deployments[0].fake: is only valid with provider: fake" in problems(raw)


def test_vllm_needs_a_base_url_and_litellm_providers_are_recognised() -> None:
    raw = b"""
deployments:
  - {name: local, provider: vllm, model: llama}
  - {name: claude, provider: anthropic, model: claude-3-5-haiku, api_key: "${ANTHROPIC_API_KEY}"}
models: [{name: m, deployments: [local, claude]}]
"""
    assert problems(raw, {"ANTHROPIC_API_KEY": "x"}) == [
        "deployments[0].base_url: is required for provider 'vllm'"
    ]
    fixed = raw.replace(b"model: llama}", b"model: llama, base_url: 'http://127.0.0.1:8000/v1/'}")
    config = parse_config(fixed, {"ANTHROPIC_API_KEY": "x"})
    assert config.deployments["local"].base_url == "http://127.0.0.1:8000/v1"
    assert config.needs_litellm


def test_env_references_with_defaults_and_gateway_keys() -> None:
    raw = b"""
deployments:
  - {name: a, provider: fake, fake: {reply: "${REPLY:-hi there}", latency: 5ms}}
models: [{name: m, deployments: [a]}]
keys:
  - {name: team-a, key: "${TEAM_A_KEY}", models: [m]}
"""
    config = parse_config(raw, {"TEAM_A_KEY": "rw-team-a-secret"})
    assert config.deployments["a"].fake is not None
    assert config.deployments["a"].fake.reply == "hi there"
    assert config.deployments["a"].fake.latency == pytest.approx(0.005)
    (key,) = config.keys
    assert key.key.reveal() == "rw-team-a-secret" and key.allows("m") and not key.allows("other")


def test_shipped_configs_are_valid() -> None:
    config = load_config(REPO / "config" / "gateway.yaml", env={})
    assert {d.provider for d in config.deployments.values()} == {"fake"}
    examples = sorted((REPO / "config" / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        try:
            load_config(path, env={})
        except ConfigError as caught:
            # Only the missing provider keys may be wrong with an empty environment.
            assert all("environment variable" in problem for problem in caught.problems), path


def test_unreadable_file() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("/nonexistent/gateway.yaml")
    assert "cannot read" in caught.value.problems[0]
