"""The config file is the operator's interface: every mistake is reported with its key path."""

import hashlib
from pathlib import Path

import pytest

from router.config.gateway_keys import Budget
from router.config.load import load_config, parse_config
from router.config.model import (
    CacheSettings,
    ConfigError,
    Continues,
    CooldownSettings,
    Deployment,
    FakeSettings,
    ServerSettings,
    StateSettings,
)
from router.config.model_groups import GroupCache, ModelGroup, Resume
from router.config.reader import ConfigReader
from router.config.secret import Secret
from router.config.telemetry import TelemetrySettings, TraceProtocol, TraceSettings
from router.wire.dialect import Dialect

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


SMALLEST = b"deployments: [{name: d, provider: fake}]\nmodels: [{name: m, deployments: [d]}]\n"


def test_what_a_config_leaves_out_takes_the_dataclasses_defaults() -> None:
    """The dataclasses are the only place a default is written: the reader adds none of its own."""
    config = parse_config(
        b"deployments: [{name: d, provider: fake}]\nmodels: [{name: m, deployments: [d]}]", {}
    )
    assert config.deployments["d"] == Deployment(name="d", provider="fake", model="fake", fake=FakeSettings())
    assert config.models["m"] == ModelGroup(name="m", deployments=("d",))
    assert (config.server, config.cache, config.state) == (ServerSettings(), CacheSettings(), StateSettings())
    assert config.routes == () and config.keys == ()


def test_a_section_allows_exactly_its_dataclass_fields() -> None:
    raw = (
        b"deployments: [{name: d, provider: fake}]\nmodels: [{name: m, deployments: [d]}]\nserver: {nope: 1}"
    )
    [problem] = problems(raw)
    allowed = sorted(ServerSettings.__dataclass_fields__)
    assert problem == f"server.nope: unknown key (allowed: {', '.join(allowed)})"


def test_a_reader_that_forgets_a_field_refuses_to_run() -> None:
    """Adding a field to a config dataclass without teaching the reader to parse it fails loudly."""
    reader = ConfigReader({})
    with pytest.raises(TypeError, match=r"missing \['duration', 'max_retry_after', 'window'\]"):
        reader.build(CooldownSettings, {}, "cooldown", {"failures": int})


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
    assert "server.workers: expected a positive integer" in found
    assert any(p.startswith("server.colour: unknown key") for p in found)
    assert "deployments[0].timeout: expected a duration like 500ms, 30s or 2m" in found
    assert any(p.startswith("deployments[0].temperature: unknown key") for p in found)
    assert any(p.startswith("deployments[1].provider: unknown provider (known: ") for p in found)
    assert "models[0].deployments[1]: no deployment has this name" in found
    assert any(p.startswith("models[0].strategy: unknown strategy (known: ") for p in found)
    assert "keys[0].key: a gateway key must be at least 8 characters" in found


def test_a_deployment_with_a_wrong_provider_reports_every_other_mistake_and_keeps_its_name() -> None:
    raw = b"""
deployments:
  - {name: a, provider: opnai, model: m, timeout: 5 parsecs, weight: -1}
  - {name: b, model: m, colour: blue}
  - {provider: fake, timeout: never}
models:
  - {name: m, deployments: [a, b]}
"""
    found = problems(raw)
    assert found == [
        "deployments[0].provider: unknown provider; did you mean openai? (known: anthropic, azure, "
        "bedrock, cohere, deepseek, fake, fireworks, gemini, groq, huggingface, mistral, ollama, "
        "openai, openrouter, together, vertex_ai, vllm, xai)",
        "deployments[0].timeout: expected a duration like 500ms, 30s or 2m",
        "deployments[0].weight: expected a positive number",
        "deployments[1].colour: unknown key (allowed: adapter, api, api_key, base_url, connect_timeout, "
        "continues, cooldown, extra_params, fake, first_chunk_timeout, headers, idle_timeout, limit_wait, "
        "max_concurrency, max_input_tokens, max_output_tokens, max_queue, max_response_size, model, name, "
        "price, provider, queue_timeout, reasoning, rpm, timeout, tpm, weight)",
        "deployments[1].provider: is required",
        "deployments[2].name: is required",
        "deployments[2].timeout: expected a duration like 500ms, 30s or 2m",
    ]


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
    assert "deployments[1].name: is already the name of deployments[0]" in found
    assert "models[1].name: is already the name of models[0]" in found
    assert "keys[1].name: is already the name of keys[0]" in found
    assert "keys[1]: the same key is used twice" in found


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


def test_max_response_size_is_a_size_for_native_deployments_only() -> None:
    raw = b"""
deployments:
  - {name: a, provider: openai, model: m, max_response_size: 8MiB}
  - {name: b, provider: openai, model: m}
  - {name: c, provider: cohere, model: m, max_response_size: 8MiB}
  - {name: d, provider: fake, max_response_size: 0}
models: [{name: m, deployments: [a, b, c, d]}]
"""
    assert problems(raw) == [
        "deployments[2].max_response_size: is only for native providers, whose answers Raceway reads itself",
        "deployments[3].max_response_size: is only for native providers, whose answers Raceway reads itself",
        "deployments[3].max_response_size: a size must be positive",
    ]
    config = parse_config(raw.split(b"  - {name: c")[0] + b"models: [{name: m, deployments: [a, b]}]", {})
    assert config.deployments["a"].max_response_size == 8 * 1024 * 1024
    assert config.deployments["b"].max_response_size == 32 * 1024 * 1024


def test_vllm_needs_a_base_url_and_litellm_providers_are_recognised() -> None:
    raw = b"""
deployments:
  - {name: local, provider: vllm, model: llama}
  - {name: claude, provider: cohere, model: command-r, api_key: "${ANTHROPIC_API_KEY}"}
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
    assert key.secret is not None and key.secret.reveal() == "rw-team-a-secret"
    assert key.digest == hashlib.sha256(b"rw-team-a-secret").digest()
    assert key.allows("m") and not key.allows("other")


def test_a_key_may_be_given_only_by_its_hash() -> None:
    digest = hashlib.sha256(b"rw-hashed-key-1").hexdigest()
    raw = f"""
deployments: [{{name: a, provider: fake}}]
models: [{{name: m, deployments: [a]}}]
keys:
  - {{name: hashed, key_sha256: {digest}}}
  - {{name: both, key: rw-both-key-1, key_sha256: {digest}}}
  - {{name: neither}}
  - {{name: bad, key_sha256: not-hex}}
""".encode()
    found = problems(raw)
    assert found == [
        "keys[1]: give exactly one of key (the key, e.g. ${ENV_VAR}) or key_sha256 (its hash)",
        "keys[1]: the same key is used twice",
        "keys[2]: give exactly one of key (the key, e.g. ${ENV_VAR}) or key_sha256 (its hash)",
        "keys[3].key_sha256: expected the key's SHA-256 as 64 hex digits",
    ]
    config = parse_config(raw.split(b"  - {name: both")[0], {})
    (key,) = config.keys
    assert key.secret is None and key.digest.hex() == digest
    assert "rw-hashed-key-1" not in list(config.secrets())


def test_budgets_cache_and_state_sections() -> None:
    raw = b"""
deployments: [{name: a, provider: fake}]
models:
  - {name: big, deployments: [a], cache: {mode: always, ttl: 10m, shared: true}}
  - {name: small, deployments: [a], cache: {}}
  - {name: plain, deployments: [a]}
cache: {max_entries: 100, max_bytes: 1MiB, ttl: 30s}
state: {ledger: /tmp/raceway-test/ledger.sqlite3, sync_interval: 50ms}
keys:
  - name: team
    key: rw-team-key-1
    budget: {daily: 5, monthly: 100, near: 0.9, downgrade_to: small, exceeded_to: plain}
"""
    config = parse_config(raw, {})
    assert config.models["big"].cache == GroupCache(mode="always", ttl=600.0, shared=True)
    assert config.models["small"].cache == GroupCache()
    assert config.models["plain"].cache is None
    assert config.cache == CacheSettings(max_entries=100, max_bytes=1024 * 1024, ttl=30.0)
    assert config.state.ledger == Path("/tmp/raceway-test/ledger.sqlite3")
    assert config.state.sync_interval == pytest.approx(0.05)
    assert config.keys[0].budget == Budget(
        daily=5.0, monthly=100.0, near=0.9, downgrade_to="small", exceeded_to="plain"
    )


def test_budget_and_cache_problems_are_named() -> None:
    raw = b"""
deployments: [{name: a, provider: fake}]
models:
  - {name: m, deployments: [a], cache: {mode: sometimes}}
keys:
  - {name: k, key: rw-key-one-1, budget: {near: 1.5, downgrade_to: nowhere}}
"""
    assert problems(raw) == [
        "models[0].cache.mode: expected one of deterministic, always, got a string",
        "keys[0].budget: needs daily or monthly (USD)",
        "keys[0].budget.downgrade_to: no model has this name",
        "keys[0].budget.near: expected a fraction above 0 and at most 1, e.g. 0.8",
    ]


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


def test_the_redis_backend_needs_a_redis_url_kept_secret() -> None:
    base = b"deployments: [{name: a, provider: fake}]\nmodels: [{name: m, deployments: [a]}]\n"
    assert problems(base + b"state: {backend: redis}\n") == ["state.url: is required with backend: redis"]
    assert problems(base + b"state: {backend: redis, url: 'http://x'}\n") == [
        "state.url: expected a redis://, rediss:// or unix:// URL"
    ]
    assert problems(base + b"state: {url: 'redis://x:6379'}\n") == [
        "state.url: is only valid with backend: redis"
    ]
    assert problems(base + b"state: {backend: memcached}\n") == [
        "state.backend: expected one of local, redis, got a string"
    ]
    config = parse_config(
        base + b"state: {backend: redis, url: '${REDIS}', prefix: gw1}\n", {"REDIS": "redis://:pw@r:6379/0"}
    )
    assert config.state.url is not None and config.state.url.reveal() == "redis://:pw@r:6379/0"
    assert "redis://:pw@r:6379/0" in list(config.secrets()) and "pw" not in repr(config.state)
    assert config.state.prefix == "gw1"


def test_extra_params_are_for_litellm_deployments_and_never_name_a_routing_field() -> None:
    raw = b"""
deployments:
  - {name: claude, provider: cohere, model: c, api_key: "${K}", extra_params: [top_k, api_base, litellm_x]}
  - {name: native, provider: vllm, model: l, base_url: "http://127.0.0.1:8000/v1", extra_params: [top_k]}
models: [{name: m, deployments: [claude, native]}]
"""
    assert problems(raw, {"K": "x"}) == [
        f"deployments[0].extra_params[{index}]: names a field that routes or authenticates calls: "
        "it cannot be allowed"
        for index in (1, 2)
    ] + [
        "deployments[1].extra_params: is only for providers served through litellm "
        "(native ones forward every field)",
    ]
    fixed = raw.replace(b", api_base, litellm_x", b"").replace(b'/v1", extra_params: [top_k]}', b'/v1"}')
    assert parse_config(fixed, {"K": "x"}).deployments["claude"].extra_params == frozenset({"top_k"})


@pytest.mark.parametrize("name", ["d-日本", "d-é", "a\\rb", "a\\tb", " padded", "padded ", "d\\u00a0x"])
def test_a_deployment_name_must_fit_in_a_response_header(name: str) -> None:
    # Every answer names its deployment in x-raceway-deployment: a name HTTP cannot carry
    # passed check-config and then turned every answer into a 500.
    raw = f"""
deployments: [{{name: "{name}", provider: fake}}]
models: [{{name: m-日本, deployments: ["{name}"]}}]
keys: [{{name: k-日本, key: key-one-123}}]
""".encode()
    found = problems(raw)[0]  # (the model's reference to it is then undefined, and says so)
    assert found.startswith("deployments[0].name: ") and "x-raceway-deployment" in found and "ASCII" in found


def test_names_that_never_reach_a_header_may_be_any_text() -> None:
    config = parse_config(
        "deployments: [{name: gpt 4o/eu-west:1, provider: fake}]\n"
        "models: [{name: m-日本, deployments: [gpt 4o/eu-west:1]}]\n"
        "keys: [{name: k-日本, key: key-one-123}]\n".encode(),
        {},
    )
    assert set(config.deployments) == {"gpt 4o/eu-west:1"} and set(config.models) == {"m-日本"}


def test_a_secret_or_header_sent_upstream_must_not_hold_control_characters() -> None:
    # A key read from a file often ends with a newline: sent as "Authorization: Bearer ..." it
    # made every call to the deployment fail inside the HTTP client (a 500), after check-config.
    raw = b"""
deployments:
  - {name: a, provider: openai, model: m, api_key: "${KEY}"}
  - {name: b, provider: openai, model: m, headers: {x-team: "${TEAM}"}}
  - {name: c, provider: openai, model: m, headers: {"x bad": ok}}
models: [{name: m, deployments: [a, b, c]}]
"""
    found = problems(raw, {"KEY": "sk-secret-value\n", "TEAM": "blue\r\nx-injected: 1"})
    assert len(found) == 3
    assert found[0].startswith("deployments[0].api_key: ") and "control character" in found[0]
    assert found[1].startswith("deployments[1].headers: ") and "'x-team'" in found[1]
    assert (
        found[2].startswith("deployments[2].headers: ") and "header number 1 is not a header name" in found[2]
    )
    assert not any("sk-secret-value" in p or "blue" in p for p in found)


WIRE_APIS_CONFIG = b"""
deployments:
  - {name: claude, provider: anthropic, model: claude-sonnet-4-5}
  - {name: codex, provider: openai, api: responses, model: gpt-5-codex}
  - {name: vllm, provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: llama}
  - {name: claude-litellm, provider: anthropic, adapter: litellm, model: claude-sonnet-4-5}
  - {name: gemini, provider: gemini, model: gemini-2.5-flash}
  - {name: gemini-litellm, provider: gemini, adapter: litellm, model: gemini-2.5-flash}
models: [{name: m, deployments: [claude, codex, vllm, claude-litellm, gemini, gemini-litellm]}]
"""


def test_deployments_speak_their_providers_wire_api_unless_they_declare_another() -> None:
    deployments = parse_config(WIRE_APIS_CONFIG, {}).deployments
    assert deployments["claude"].api is Dialect.MESSAGES and deployments["claude"].is_native
    assert deployments["claude"].base_url == "https://api.anthropic.com"
    assert deployments["codex"].api is Dialect.RESPONSES
    assert deployments["vllm"].api is Dialect.CHAT
    gemini, gemini_litellm = deployments["gemini"], deployments["gemini-litellm"]
    assert gemini.api is Dialect.GEMINI and gemini.is_native and not gemini.uses_litellm
    assert gemini.base_url == "https://generativelanguage.googleapis.com"
    assert gemini_litellm.uses_litellm and gemini_litellm.api is Dialect.CHAT
    through_litellm = deployments["claude-litellm"]
    assert through_litellm.uses_litellm and not through_litellm.is_native
    assert through_litellm.api is Dialect.CHAT and through_litellm.base_url is None


def test_a_wire_api_the_provider_does_not_speak_is_refused() -> None:
    assert problems(
        b"""
deployments:
  - {name: a, provider: anthropic, model: c, api: responses}
  - {name: b, provider: gemini, model: g, api: messages}
  - {name: c, provider: openai, model: o, api: telepathy}
  - {name: d, provider: cohere, model: g, adapter: litellm}
models: [{name: m, deployments: [a, b, c, d]}]
"""
    ) == [
        "deployments[0].api: provider 'anthropic' speaks 'messages', not 'responses'",
        "deployments[1].api: provider 'gemini' speaks 'gemini', not 'messages'",
        "deployments[2].api: expected one of chat, messages, responses, completions, gemini, got a string",
        "deployments[3].adapter: is only for native providers (the others always use litellm)",
    ]


BASE = b"deployments: [{name: f, provider: fake}]\nmodels: [{name: m, deployments: [f]}]\n"


def test_telemetry_traces_parse_with_environment_values() -> None:
    raw = BASE + (
        b"telemetry:\n"
        b"  traces:\n"
        b"    endpoint: http://collector:4318/\n"
        b"    sample_ratio: 0.1\n"
        b"    headers: {authorization: 'Bearer ${COLLECTOR_TOKEN}'}\n"
        b"    capture_content: true\n"
        b"    timeout: 2s\n"
    )
    traces = parse_config(raw, {"COLLECTOR_TOKEN": "t0ken"}).telemetry.traces
    assert traces is not None
    assert traces.endpoint == "http://collector:4318"
    assert traces.protocol is TraceProtocol.HTTP_PROTOBUF
    assert (traces.sample_ratio, traces.timeout, traces.capture_content) == (0.1, 2.0, True)
    assert traces.headers["authorization"].reveal() == "Bearer t0ken"
    assert "t0ken" not in repr(traces)


def test_telemetry_is_off_unless_traces_are_configured() -> None:
    assert parse_config(BASE, {}).telemetry == TelemetrySettings(traces=None)
    assert parse_config(BASE + b"telemetry: {}\n", {}).telemetry.traces is None
    defaults = parse_config(BASE + b"telemetry: {traces: {}}\n", {}).telemetry.traces
    assert defaults == TraceSettings()  # on, with the environment's endpoint


def test_telemetry_mistakes_name_their_key() -> None:
    raw = BASE + (
        b"telemetry:\n"
        b"  traces: {endpoint: collector:4318, protocol: grpc, sample_ratio: 2, capture: true}\n"
        b"  metrics: {}\n"
    )
    found = problems(raw)
    assert any(p.startswith("telemetry.traces.endpoint:") for p in found), found
    assert any(p.startswith("telemetry.traces.protocol:") and "http/protobuf" in p for p in found), found
    assert any(p.startswith("telemetry.traces.sample_ratio:") for p in found), found
    assert any("telemetry.traces" in p and "capture" in p for p in found), found
    assert any("telemetry" in p and "metrics" in p for p in found), found


def test_what_a_deployments_model_accepts_must_have_its_type() -> None:
    raw = b"""
deployments:
  - {name: a, provider: openai, model: m, max_output_tokens: lots, reasoning: "yes"}
  - {name: b, provider: openai, model: m, max_output_tokens: 0, reasoning: 1}
models: [{name: m, deployments: [a, b]}]
"""
    assert problems(raw) == [
        "deployments[0].max_output_tokens: expected a positive integer, got a string",
        "deployments[0].reasoning: expected true or false, got a string",
        "deployments[1].max_output_tokens: expected a positive integer",
        "deployments[1].reasoning: expected true or false",
    ]


AFFINITY = b"""
deployments:
  - {name: a, provider: fake}
  - {name: b, provider: fake}
models:
  - {name: pinned, deployments: [a, b], strategy: round_robin, affinity: {ttl: 1h, header: X-Conversation}}
  - {name: hedged, deployments: [a, b], strategy: hedge, affinity: {},
     hedge_budget: {share: 0.25, minimum: 0}}
  - {name: plain, deployments: [a, b], strategy: hedge}
"""


def test_affinity_and_the_hedge_budget_are_per_group_settings() -> None:
    from router.config.model_groups import Affinity, HedgeBudget

    models = parse_config(AFFINITY, {}).models
    assert models["pinned"].affinity == Affinity(ttl=3600.0, header="x-conversation")
    assert models["hedged"].affinity == Affinity()  # 5 minutes, x-session-id
    assert models["hedged"].hedge_budget == HedgeBudget(share=0.25, minimum=0)
    assert models["plain"].affinity is None and models["plain"].hedge_budget == HedgeBudget()


def test_affinity_and_hedge_budget_mistakes_name_their_key() -> None:
    raw = b"""
deployments:
  - {name: a, provider: fake}
models:
  - {name: m, deployments: [a], affinity: {ttl: forever, cache: yes, header: "not a header"}}
  - {name: n, deployments: [a], strategy: round_robin, hedge_budget: {share: 2}}
"""
    found = problems(raw)
    assert any(p.startswith("models[0].affinity.ttl:") for p in found), found
    assert any(p.startswith("models[0].affinity.cache: unknown key") for p in found), found
    assert any(p.startswith("models[0].affinity.header:") for p in found), found
    assert "models[1].hedge_budget: is only valid with strategy: hedge" in found
    assert any(p.startswith("models[1].hedge_budget.share:") for p in found), found


def test_a_deployment_continues_as_its_wire_api_allows_and_a_group_resumes_only_when_asked() -> None:
    config = parse_config(
        b"""
deployments:
  - {name: claude, provider: anthropic, model: c}
  - {name: gpt, provider: openai, model: o}
  - {name: local, provider: vllm, base_url: "http://127.0.0.1:8000/v1", model: q, continues: prefix}
  - {name: opted-out, provider: anthropic, model: c, continues: none}
models:
  - {name: m, deployments: [claude, gpt, local, opted-out], resume: {}}
  - {name: n, deployments: [claude], resume: {max_resumes: 5, cache: false}}
  - {name: o, deployments: [claude]}
""",
        {},
    )
    continues = {name: d.continuation for name, d in config.deployments.items()}
    assert continues == {
        "claude": Continues.PREFILL,
        "gpt": Continues.NONE,
        "local": Continues.PREFIX,
        "opted-out": Continues.NONE,
    }
    assert config.models["m"].resume == Resume(max_resumes=2, cache=True)
    assert config.models["n"].resume == Resume(max_resumes=5, cache=False)
    assert config.models["o"].resume is None  # off by default


def test_a_way_of_continuing_its_wire_api_lacks_is_refused() -> None:
    assert problems(
        b"""
deployments:
  - {name: a, provider: anthropic, model: c, continues: prefix}
  - {name: b, provider: openai, model: o, continues: prefill}
  - {name: c, provider: openai, model: o, continues: always}
  - {name: d, provider: openai, model: o, adapter: litellm, continues: prefix}
models: [{name: m, deployments: [a, b, c, d], resume: {max_resumes: 0, cache: "no"}}]
"""
    ) == [
        "deployments[0].continues: prefix is only for api: chat",
        "deployments[1].continues: prefill is only for api: messages",
        "deployments[2].continues: expected one of prefill, prefix, none, got a string",
        "deployments[3].continues: is only for native providers (litellm forwards no continuation)",
        "models[0].resume.max_resumes: expected a positive integer",
        "models[0].resume.cache: expected true or false, got a string",
    ]
