"""YAML config → frozen, typed, validated objects.

Every problem is collected with its key path (``deployments[1].timeout: ...``) so an
operator sees all of them at once; unknown keys are errors, and secrets come only
from ``${ENV}`` references.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from router.units import parse_duration, parse_size

T = TypeVar("T")

# OpenAI-compatible APIs served by the native aiohttp provider, with their default base URL.
NATIVE_PROVIDERS: Mapping[str, str | None] = {
    "openai": "https://api.openai.com/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "together": "https://api.together.xyz/v1",
    "vllm": None,
    "xai": "https://api.x.ai/v1",
}
# Providers whose wire format differs from OpenAI's: served through litellm.
LITELLM_PROVIDERS = frozenset(
    {"anthropic", "azure", "bedrock", "cohere", "gemini", "vertex_ai", "huggingface"}
)
FAKE_PROVIDER = "fake"
STRATEGIES = ("fallback",)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The config is invalid; ``problems`` lists each one as ``key.path: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Secret:
    """A secret string that never shows itself in repr, logs or errors."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    bind: str = "127.0.0.1:8080"
    workers: int | None = None  # None: one per CPU core
    max_body_size: int = 10 * 1024 * 1024
    graceful_timeout: float = 30.0
    keep_alive_timeout: float = 75.0
    backlog: int = 2048


@dataclass(frozen=True, kw_only=True)
class FakeSettings:
    """Behaviour of the built-in in-process fake provider."""

    latency: float = 0.0
    chunk_delay: float = 0.0
    reply: str | None = None  # None: echo the last user message


@dataclass(frozen=True, kw_only=True)
class Deployment:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key: Secret | None = None
    timeout: float = 60.0
    connect_timeout: float = 5.0
    headers: Mapping[str, Secret] = field(default_factory=dict)
    max_input_tokens: int | None = None
    fake: FakeSettings | None = None

    @property
    def is_native(self) -> bool:
        return self.provider in NATIVE_PROVIDERS

    @property
    def uses_litellm(self) -> bool:
        return self.provider in LITELLM_PROVIDERS


@dataclass(frozen=True, kw_only=True)
class ModelGroup:
    name: str
    deployments: tuple[str, ...]
    strategy: str = "fallback"


@dataclass(frozen=True, kw_only=True)
class GatewayKey:
    name: str
    key: Secret
    models: frozenset[str] | None = None  # None: every model

    def allows(self, model: str) -> bool:
        return self.models is None or model in self.models


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    server: ServerSettings
    deployments: Mapping[str, Deployment]
    models: Mapping[str, ModelGroup]
    keys: tuple[GatewayKey, ...]
    hash: str

    @property
    def needs_litellm(self) -> bool:
        return any(d.uses_litellm for d in self.deployments.values())

    def secrets(self) -> Iterator[str]:
        """Every secret value in the config, to scrub from anything shown to clients."""
        for deployment in self.deployments.values():
            if deployment.api_key is not None:
                yield deployment.api_key.reveal()
            for value in deployment.headers.values():
                yield value.reveal()
        for key in self.keys:
            yield key.key.reveal()


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> GatewayConfig:
    """Read and validate a config file; raises ``ConfigError`` listing every problem."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc
    return parse_config(raw, os.environ if env is None else env)


def parse_config(raw: bytes, env: Mapping[str, str]) -> GatewayConfig:
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"(yaml) {where}{problem}"]) from exc
    if document is None:
        raise ConfigError(["(root): the config is empty"])
    reader = _Reader(env)
    config = reader.config(document, hashlib.sha256(raw).hexdigest()[:16])
    if reader.problems or config is None:
        raise ConfigError(reader.problems)
    return config


class _Reader:
    """Walks the parsed YAML, building typed objects and collecting problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- generic shapes -------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: str,
        *,
        allowed: set[str],
        required: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {_type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.problem(_join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required - value.keys()):
            self.problem(_join(path, key), "is required")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {_type_name(value)}")
            return []
        return value

    def field(self, data: dict[str, Any], key: str, path: str, parse: Callable[[Any], T], default: T) -> T:
        if key not in data:
            return default
        try:
            return parse(data[key])
        except ValueError as exc:
            self.problem(_join(path, key), str(exc))
            return default

    def text(self, value: Any) -> str:
        """A plain string with ``${ENV}`` references expanded."""
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_type_name(value)}")
        return self.expand(value)

    def expand(self, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            raise ValueError(f"environment variable {name} is not set")

        return _ENV_REF.sub(substitute, value)

    def env_secret(self, value: Any) -> Secret:
        """A secret that must be given as an environment reference, never inline."""
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_type_name(value)}")
        if not _ENV_REF.fullmatch(value.strip()):
            raise ValueError("secrets must come from the environment: write ${VARIABLE_NAME}")
        return Secret(self.expand(value.strip()))

    # -- sections -------------------------------------------------------------

    def config(self, document: Any, config_hash: str) -> GatewayConfig | None:
        root = self.mapping(document, "(root)", allowed={"server", "deployments", "models", "keys"})
        if root is None:
            return None
        server = self.server(root.get("server") or {}, "server")
        deployments: dict[str, Deployment] = {}
        for index, item in enumerate(self.listing(root.get("deployments"), "deployments")):
            path = f"deployments[{index}]"
            deployment = self.deployment(item, path)
            if deployment is None:
                continue
            if deployment.name in deployments:
                self.problem(_join(path, "name"), f"duplicate deployment name {deployment.name!r}")
            deployments[deployment.name] = deployment
        if not deployments and "deployments" not in root:
            self.problem("deployments", "is required")
        models: dict[str, ModelGroup] = {}
        for index, item in enumerate(self.listing(root.get("models"), "models")):
            path = f"models[{index}]"
            group = self.model_group(item, path, deployments)
            if group is None:
                continue
            if group.name in models:
                self.problem(_join(path, "name"), f"duplicate model name {group.name!r}")
            models[group.name] = group
        if "models" not in root:
            self.problem("models", "is required")
        keys: list[GatewayKey] = []
        seen_names: set[str] = set()
        for index, item in enumerate(self.listing(root.get("keys"), "keys")):
            path = f"keys[{index}]"
            key = self.gateway_key(item, path, models)
            if key is None:
                continue
            if key.name in seen_names:
                self.problem(_join(path, "name"), f"duplicate key name {key.name!r}")
            if any(k.key == key.key for k in keys):
                self.problem(_join(path, "key"), "the same key value is used twice")
            seen_names.add(key.name)
            keys.append(key)
        return GatewayConfig(
            server=server, deployments=deployments, models=models, keys=tuple(keys), hash=config_hash
        )

    def server(self, value: Any, path: str) -> ServerSettings:
        data = self.mapping(
            value,
            path,
            allowed={"bind", "workers", "max_body_size", "graceful_timeout", "keep_alive_timeout", "backlog"},
        )
        defaults = ServerSettings()
        if data is None:
            return defaults
        return ServerSettings(
            bind=self.field(data, "bind", path, _bind, defaults.bind),
            workers=self.field(data, "workers", path, _optional(_positive_int), defaults.workers),
            max_body_size=self.field(data, "max_body_size", path, parse_size, defaults.max_body_size),
            graceful_timeout=self.field(
                data, "graceful_timeout", path, parse_duration, defaults.graceful_timeout
            ),
            keep_alive_timeout=self.field(
                data, "keep_alive_timeout", path, parse_duration, defaults.keep_alive_timeout
            ),
            backlog=self.field(data, "backlog", path, _positive_int, defaults.backlog),
        )

    def deployment(self, value: Any, path: str) -> Deployment | None:
        data = self.mapping(
            value,
            path,
            allowed={
                "name",
                "provider",
                "model",
                "base_url",
                "api_key",
                "timeout",
                "connect_timeout",
                "headers",
                "max_input_tokens",
                "fake",
            },
            required={"name", "provider"},
        )
        if data is None:
            return None
        name = self.field(data, "name", path, _name, "")
        provider = self.field(data, "provider", path, _provider, "")
        if not name or not provider:
            return None
        if provider != FAKE_PROVIDER and "model" not in data:
            self.problem(_join(path, "model"), "is required")
        model = self.field(data, "model", path, self.text, "fake")
        base_url = self.field(data, "base_url", path, _optional(self.url), None)
        if base_url is None and provider in NATIVE_PROVIDERS:
            base_url = NATIVE_PROVIDERS[provider]
            if base_url is None:
                self.problem(_join(path, "base_url"), f"is required for provider {provider!r}")
        fake = None
        if "fake" in data:
            if provider != FAKE_PROVIDER:
                self.problem(_join(path, "fake"), "is only valid with provider: fake")
            fake = self.fake(data["fake"], _join(path, "fake"))
        elif provider == FAKE_PROVIDER:
            fake = FakeSettings()
        return Deployment(
            name=name,
            provider=provider,
            model=model,
            base_url=base_url,
            api_key=self.field(data, "api_key", path, _optional(self.env_secret), None),
            timeout=self.field(data, "timeout", path, _positive_duration, 60.0),
            connect_timeout=self.field(data, "connect_timeout", path, _positive_duration, 5.0),
            headers=self.field(data, "headers", path, self.headers, {}),
            max_input_tokens=self.field(data, "max_input_tokens", path, _optional(_positive_int), None),
            fake=fake,
        )

    def fake(self, value: Any, path: str) -> FakeSettings:
        data = self.mapping(value, path, allowed={"latency", "chunk_delay", "reply"})
        if data is None:
            return FakeSettings()
        return FakeSettings(
            latency=self.field(data, "latency", path, parse_duration, 0.0),
            chunk_delay=self.field(data, "chunk_delay", path, parse_duration, 0.0),
            reply=self.field(data, "reply", path, _optional(self.text), None),
        )

    def headers(self, value: Any) -> dict[str, Secret]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of header names to values, got {_type_name(value)}")
        headers: dict[str, Secret] = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not isinstance(raw, str):
                raise ValueError("header names and values must be strings")
            headers[name.lower()] = Secret(self.expand(raw))
        return headers

    def url(self, value: Any) -> str:
        url = self.text(value).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return url

    def model_group(self, value: Any, path: str, deployments: Mapping[str, Deployment]) -> ModelGroup | None:
        data = self.mapping(
            value, path, allowed={"name", "deployments", "strategy"}, required={"name", "deployments"}
        )
        if data is None:
            return None
        name = self.field(data, "name", path, _name, "")
        members: tuple[str, ...] = self.field(data, "deployments", path, _name_list, ())
        for index, member in enumerate(members):
            if member not in deployments:
                self.problem(f"{path}.deployments[{index}]", f"undefined deployment {member!r}")
        if len(set(members)) != len(members):
            self.problem(_join(path, "deployments"), "lists a deployment twice")
        strategy = self.field(data, "strategy", path, _strategy, "fallback")
        if not name or not members:
            return None
        return ModelGroup(name=name, deployments=members, strategy=strategy)

    def gateway_key(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> GatewayKey | None:
        data = self.mapping(value, path, allowed={"name", "key", "models"}, required={"name", "key"})
        if data is None:
            return None
        name = self.field(data, "name", path, _name, "")
        secret = self.field(data, "key", path, lambda v: Secret(self.text(v)), None)
        allowed_models = self.field(data, "models", path, _optional(_name_list), None)
        for index, model in enumerate(allowed_models or ()):
            if model not in models:
                self.problem(f"{path}.models[{index}]", f"undefined model {model!r}")
        if secret is not None and len(secret.reveal()) < 8:
            self.problem(_join(path, "key"), "a gateway key must be at least 8 characters")
        if not name or secret is None:
            return None
        return GatewayKey(
            name=name, key=secret, models=None if allowed_models is None else frozenset(allowed_models)
        )


# -- scalar parsers: raise ValueError with a message for the operator ----------


def _join(path: str, key: str) -> str:
    return key if path == "(root)" else f"{path}.{key}"


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _optional(parse: Callable[[Any], T]) -> Callable[[Any], T | None]:
    return lambda value: None if value is None else parse(value)


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, got {_type_name(value)}")
    return value


def _name_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a non-empty list of names")
    return tuple(value)


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def _positive_duration(value: Any) -> float:
    seconds = parse_duration(value)
    if seconds <= 0:
        raise ValueError("a timeout must be greater than zero")
    return seconds


def _bind(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[\w.\-\[\]:]+:\d{1,5}", value):
        raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
    return value


def _provider(value: Any) -> str:
    known = {FAKE_PROVIDER, *NATIVE_PROVIDERS, *LITELLM_PROVIDERS}
    if value not in known:
        raise ValueError(f"unknown provider {value!r} (known: {', '.join(sorted(known))})")
    return str(value)


def _strategy(value: Any) -> str:
    if value not in STRATEGIES:
        raise ValueError(f"unknown strategy {value!r} (known: {', '.join(STRATEGIES)})")
    return str(value)
