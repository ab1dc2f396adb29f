"""Validation of the parsed YAML: builds the typed config and collects every problem with its path.

The dataclasses of ``router.config.model`` are the one source of a section's keys and
defaults: a section allows exactly its dataclass's fields, and a key left out keeps the
dataclass's default. The reader only says how each key is parsed (``ConfigReader.build``),
and refuses to run if a section's parsers and its dataclass's fields disagree.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar

from router.config import values as v
from router.config.model import (
    FAKE_PROVIDER,
    LITELLM_PROVIDERS,
    NATIVE_PROVIDERS,
    BackendKind,
    Budget,
    CacheMode,
    CacheSettings,
    CooldownSettings,
    CorsSettings,
    Deployment,
    FakeSettings,
    GatewayConfig,
    GatewayKey,
    GroupCache,
    Limits,
    ModelGroup,
    Price,
    ResponseModel,
    RetrySettings,
    Route,
    RouteMatch,
    Secret,
    ServerSettings,
    StateSettings,
    key_digest,
)
from router.config.units import parse_duration, parse_size
from router.providers.litellm_params import is_reserved
from router.routing.strategies import STRATEGIES, Pacing, pacing_of

T = TypeVar("T")
Parse = Callable[[Any], Any]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def keys_of(cls: type[Any]) -> frozenset[str]:
    """The fields of a config dataclass: the keys its YAML section may hold."""
    return frozenset(f.name for f in dataclasses.fields(cls))


def required_of(cls: type[Any]) -> frozenset[str]:
    """The fields of a config dataclass that have no default."""
    missing = dataclasses.MISSING
    return frozenset(
        f.name for f in dataclasses.fields(cls) if f.default is missing and f.default_factory is missing
    )


def default_of(cls: type[Any], name: str) -> Any:
    """A field's default, read from the dataclass (the only place it is written)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if f.default_factory is not dataclasses.MISSING:
                return f.default_factory()
            return f.default
    raise KeyError(f"{cls.__name__} has no field {name!r}")


class ConfigReader:
    """Walks the parsed YAML, building typed objects and collecting problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- generic shapes -------------------------------------------------------

    def mapping(
        self, value: Any, path: str, *, allowed: Collection[str], required: Collection[str] = ()
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {v.type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.problem(v.join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(set(required) - value.keys()):
            self.problem(v.join(path, key), "is required")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {v.type_name(value)}")
            return []
        return value

    def build(
        self, cls: type[T], data: Mapping[str, Any], path: str, parsers: Mapping[str, Parse], **given: Any
    ) -> T | None:
        """A ``cls`` from ``given`` and the keys of ``data`` that ``parsers`` reads.

        A key that is absent, or invalid (reported), keeps the dataclass's default. None when
        a field without a default is missing: its problem is reported already. ``parsers`` and
        ``given`` together must name every field once, so a field added to a dataclass cannot be
        forgotten here.
        """
        named = parsers.keys() | given.keys()
        if named != keys_of(cls) or parsers.keys() & given.keys():
            raise TypeError(
                f"the reader of {cls.__name__} must name each field once: "
                f"missing {sorted(keys_of(cls) - named)}, unknown {sorted(named - keys_of(cls))}"
            )
        values = {name: value for name, value in given.items() if value is not None}
        for key, parse in parsers.items():
            if key in data:
                try:
                    values[key] = parse(data[key])
                except ValueError as exc:
                    self.problem(v.join(path, key), str(exc))
        if not required_of(cls) <= values.keys():
            return None
        return cls(**values)

    def section(self, cls: type[T], value: Any, path: str, parsers: Mapping[str, Parse]) -> T:
        """A section whose every key is optional: its dataclass's defaults when it is absent or broken."""
        data = self.mapping(value if value is not None else {}, path, allowed=keys_of(cls))
        built = self.build(cls, data or {}, path, parsers)
        assert built is not None, f"{cls.__name__} has a field without a default"
        return built

    def field(self, data: dict[str, Any], key: str, path: str, parse: Callable[[Any], T], default: T) -> T:
        if key not in data:
            return default
        try:
            return parse(data[key])
        except ValueError as exc:
            self.problem(v.join(path, key), str(exc))
            return default

    def text(self, value: Any) -> str:
        """A plain string with ``${ENV}`` references expanded."""
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {v.type_name(value)}")
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
            raise ValueError(f"expected a string, got {v.type_name(value)}")
        if not _ENV_REF.fullmatch(value.strip()):
            raise ValueError("secrets must come from the environment: write ${VARIABLE_NAME}")
        secret = self.expand(value.strip())
        if not v.fits_a_header(secret):
            raise ValueError(
                f"the value of {value.strip()} holds a line break or another control character, which "
                "no HTTP header can carry (a secret read from a file often ends with a newline)"
            )
        return Secret(secret)

    def gateway_secret(self, value: Any) -> Secret:
        """A key clients present to the gateway: inline or from the environment, 8 characters at least."""
        secret = Secret(self.text(value))
        if len(secret.reveal()) < 8:
            raise ValueError("a gateway key must be at least 8 characters")
        return secret

    # -- sections -------------------------------------------------------------

    def config(self, document: Any, config_hash: str) -> GatewayConfig | None:
        root = self.mapping(document, "(root)", allowed=keys_of(GatewayConfig) - {"hash"})
        if root is None:
            return None
        deployments = self.named(root, "deployments", self.deployment)
        models = self.named(root, "models", lambda item, path: self.model_group(item, path, deployments))
        for section in ("deployments", "models"):
            if section not in root:
                self.problem(section, "is required")
        self.check_fallbacks(models)
        routes = tuple(
            route
            for index, item in enumerate(self.listing(root.get("routes"), "routes"))
            if (route := self.route(item, f"routes[{index}]", models)) is not None
        )
        return GatewayConfig(
            server=self.server(root.get("server"), "server"),
            deployments=deployments,
            models=models,
            keys=self.gateway_keys(root, models),
            routes=routes,
            cache=self.section(
                CacheSettings,
                root.get("cache"),
                "cache",
                {"max_entries": v.positive_int, "max_bytes": parse_size, "ttl": v.positive_duration},
            ),
            state=self.state_settings(root.get("state"), "state"),
            hash=config_hash,
        )

    def state_settings(self, value: Any, path: str) -> StateSettings:
        settings = self.section(
            StateSettings,
            value,
            path,
            {
                "backend": v.member_of(BackendKind),
                "url": v.optional(self.redis_url),
                "prefix": v.name,
                "cooldown_poll": v.positive_duration,
                "ledger": lambda raw: Path(self.text(raw)).expanduser(),
                "sync_interval": v.positive_duration,
            },
        )
        given = value if isinstance(value, dict) else {}
        if settings.backend is BackendKind.REDIS and "url" not in given:
            self.problem(v.join(path, "url"), "is required with backend: redis")
        if settings.backend is BackendKind.LOCAL and "url" in given:
            self.problem(v.join(path, "url"), "is only valid with backend: redis")
        return settings

    def named(
        self, root: dict[str, Any], section: str, build: Callable[[Any, str], T | None]
    ) -> dict[str, T]:
        """A list of named entries as a dict, with duplicates reported."""
        found: dict[str, T] = {}
        for index, item in enumerate(self.listing(root.get(section), section)):
            path = f"{section}[{index}]"
            entry = build(item, path)
            if entry is None:
                continue
            name: str = entry.name  # type: ignore[attr-defined]
            if name in found:
                kind = "deployment" if section == "deployments" else "model"
                self.problem(v.join(path, "name"), f"duplicate {kind} name {name!r}")
            found[name] = entry
        return found

    def server(self, value: Any, path: str) -> ServerSettings:
        return self.section(
            ServerSettings,
            value,
            path,
            {
                "bind": v.bind,
                "workers": v.optional(v.positive_int),
                "max_body_size": parse_size,
                "body_timeout": v.positive_duration,
                "graceful_timeout": parse_duration,
                "keep_alive_timeout": parse_duration,
                "backlog": v.positive_int,
                "loop_lag_warning": v.positive_duration,
                "access_log": v.boolean,
                "relay_ratelimit_headers": v.boolean,
                "metrics": v.boolean,
                "admin_key": v.optional(self.gateway_secret),
                "auth_failures_per_minute": v.optional(v.positive_int),
                "cors": lambda raw: self.cors(raw, v.join(path, "cors")),
                "response_model": v.member_of(ResponseModel),
            },
        )

    def cors(self, value: Any, path: str) -> CorsSettings | None:
        data = self.mapping(value, path, allowed=keys_of(CorsSettings), required=required_of(CorsSettings))
        if data is None:
            return None
        return self.build(CorsSettings, data, path, {"origins": v.origin_list, "max_age": parse_duration})

    def deployment(self, value: Any, path: str) -> Deployment | None:
        """The deployment, with every key checked whatever else is wrong with it.

        One with a missing or unknown provider (reported) still comes back, with an empty
        provider, so references to its name resolve instead of adding a false "undefined
        deployment"; the config it belongs to is refused for that problem. Checks that
        depend on the provider are skipped when it is not known.
        """
        # The admission limits are written beside the other keys, not in a section of their own.
        data = self.mapping(
            value,
            path,
            allowed=keys_of(Deployment) - {"limits"} | keys_of(Limits),
            required=("name", "provider"),
        )
        if data is None:
            return None
        name = self.field(data, "name", path, v.deployment_name, "")
        provider = self.field(data, "provider", path, v.provider, "")
        if provider and provider != FAKE_PROVIDER and "model" not in data:
            self.problem(v.join(path, "model"), "is required")
        base_url = self.field(data, "base_url", path, v.optional(self.url), None)
        if base_url is None and provider in NATIVE_PROVIDERS:
            base_url = NATIVE_PROVIDERS[provider]
            if base_url is None:
                self.problem(v.join(path, "base_url"), f"is required for provider {provider!r}")
        if "max_response_size" in data and provider not in NATIVE_PROVIDERS:
            self.problem(
                v.join(path, "max_response_size"),
                "is only for OpenAI-compatible providers, whose answers Raceway reads itself",
            )
        fake = None
        if "fake" in data:
            if provider and provider != FAKE_PROVIDER:
                self.problem(v.join(path, "fake"), "is only valid with provider: fake")
            fake = self.fake(data["fake"], v.join(path, "fake"))
        elif provider == FAKE_PROVIDER:
            fake = FakeSettings()
        return self.build(
            Deployment,
            data,
            path,
            {
                "api_key": v.optional(self.env_secret),
                "timeout": v.positive_duration,
                "connect_timeout": v.positive_duration,
                "first_chunk_timeout": v.positive_duration,
                "idle_timeout": v.positive_duration,
                "max_response_size": parse_size,
                "headers": self.headers,
                "max_input_tokens": v.optional(v.positive_int),
                "weight": v.positive_number,
                "price": lambda raw: self.price(raw, v.join(path, "price")),
                "cooldown": lambda raw: self.cooldown(raw, v.join(path, "cooldown")),
            },
            name=name or None,  # without a name there is nothing to refer to: None
            provider=provider,
            model=self.field(data, "model", path, self.text, "") or "fake",  # a fake deployment needs none
            base_url=base_url,
            limits=self.limits(data, path),
            fake=fake,
            extra_params=self.extra_params(data, path, provider),
        )

    def extra_params(self, data: dict[str, Any], path: str, provider: str) -> frozenset[str] | None:
        if "extra_params" not in data:
            return None
        where = v.join(path, "extra_params")
        if provider and provider not in LITELLM_PROVIDERS:
            self.problem(
                where, "is only for providers served through litellm (native ones forward every field)"
            )
            return None
        names: tuple[str, ...] = self.field(data, "extra_params", path, v.name_list, ())
        for index, name in enumerate(names):
            if is_reserved(name):
                self.problem(
                    f"{where}[{index}]", f"{name!r} routes or authenticates calls and cannot be allowed"
                )
        return frozenset(names)

    def limits(self, data: dict[str, Any], path: str) -> Limits | None:
        limits = self.build(
            Limits,
            data,
            path,
            {
                "max_concurrency": v.optional(v.positive_int),
                "max_queue": v.non_negative_int,
                "queue_timeout": v.positive_duration,
                "rpm": v.optional(v.positive_int),
                "tpm": v.optional(v.positive_int),
                "limit_wait": parse_duration,
            },
        )
        if limits is not None and limits.max_concurrency is None:
            for key in ("max_queue", "queue_timeout"):
                if key in data:
                    self.problem(v.join(path, key), "needs max_concurrency")
        return limits

    def fake(self, value: Any, path: str) -> FakeSettings:
        return self.section(
            FakeSettings,
            value,
            path,
            {"latency": parse_duration, "chunk_delay": parse_duration, "reply": v.optional(self.text)},
        )

    def price(self, value: Any, path: str) -> Price | None:
        data = self.mapping(value, path, allowed=keys_of(Price), required=required_of(Price))
        if data is None:
            return None
        parse = v.non_negative_number
        return self.build(Price, data, path, {"input": parse, "output": parse})

    def cooldown(self, value: Any, path: str) -> CooldownSettings:
        return self.section(
            CooldownSettings,
            value,
            path,
            {
                "failures": v.positive_int,
                "window": v.positive_duration,
                "duration": v.positive_duration,
                "max_retry_after": v.positive_duration,
            },
        )

    def headers(self, value: Any) -> dict[str, Secret]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of header names to values, got {v.type_name(value)}")
        headers: dict[str, Secret] = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not isinstance(raw, str):
                raise ValueError("header names and values must be strings")
            if not v.is_header_name(name):
                raise ValueError(f"{name!r} is not a header name (letters, digits and !#$%&'*+-.^_`|~)")
            text = self.expand(raw)
            if not v.fits_a_header(text):
                raise ValueError(f"the value of {name!r} holds a line break or another control character")
            headers[name.lower()] = Secret(text)
        return headers

    def redis_url(self, value: Any) -> Secret:
        """A Redis URL; it may hold a password, so it is kept as a secret."""
        url = self.text(value)
        if not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return Secret(url)

    def url(self, value: Any) -> str:
        url = self.text(value).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return url

    def model_group(self, value: Any, path: str, deployments: Mapping[str, Deployment]) -> ModelGroup | None:
        data = self.mapping(value, path, allowed=keys_of(ModelGroup), required=required_of(ModelGroup))
        if data is None:
            return None
        name = self.field(data, "name", path, v.name, "")
        members: tuple[str, ...] = self.field(data, "deployments", path, v.name_list, ())
        for index, member in enumerate(members):
            if member not in deployments:
                self.problem(f"{path}.deployments[{index}]", f"undefined deployment {member!r}")
        if len(set(members)) != len(members):
            self.problem(v.join(path, "deployments"), "lists a deployment twice")
        strategy = self.field(data, "strategy", path, v.strategy, default_of(ModelGroup, "strategy"))
        self.check_pacing(data, path, pacing_of(strategy) if strategy in STRATEGIES else None)
        return self.build(
            ModelGroup,
            data,
            path,
            {
                "hedge_delay": v.hedge_delay,
                "hedge_min_delay": parse_duration,
                "max_parallel": v.optional(v.positive_int),
                "fallbacks": v.name_list,
                "retries": lambda raw: self.retries(raw, v.join(path, "retries")),
                "max_attempts": v.positive_int,
                "deadline": v.positive_duration,
                "cache": lambda raw: self.group_cache(raw, v.join(path, "cache")),
            },
            name=name or None,
            deployments=members or None,
            strategy=strategy,
        )

    def check_pacing(self, data: dict[str, Any], path: str, pacing: Pacing | None) -> None:
        """Keys that only mean something for strategies that start several calls."""
        staggered = sorted(name for name, kind in STRATEGIES.items() if kind.pacing is Pacing.STAGGERED)
        fanning = sorted(name for name, kind in STRATEGIES.items() if kind.pacing.fans_out)
        for key in ("hedge_delay", "hedge_min_delay"):
            if key in data and pacing is not Pacing.STAGGERED:
                self.problem(v.join(path, key), f"is only valid with strategy: {' or '.join(staggered)}")
        if "max_parallel" in data and pacing is not None and not pacing.fans_out:
            self.problem(v.join(path, "max_parallel"), f"is only valid with strategy: {' or '.join(fanning)}")

    def group_cache(self, value: Any, path: str) -> GroupCache | None:
        data = self.mapping(value, path, allowed=keys_of(GroupCache))
        if data is None:
            return None
        return self.build(
            GroupCache,
            data,
            path,
            {"mode": v.member_of(CacheMode), "ttl": v.optional(v.positive_duration), "shared": v.boolean},
        )

    def retries(self, value: Any, path: str) -> RetrySettings:
        return self.section(
            RetrySettings,
            value,
            path,
            {"attempts": v.non_negative_int, "backoff": parse_duration, "max_backoff": parse_duration},
        )

    def check_fallbacks(self, models: Mapping[str, ModelGroup]) -> None:
        for index, group in enumerate(models.values()):
            for position, target in enumerate(group.fallbacks):
                where = f"models[{index}].fallbacks[{position}]"
                if target == group.name:
                    self.problem(where, "a model cannot fall back to itself")
                elif target not in models:
                    self.problem(where, f"undefined model {target!r}")

    def route(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> Route | None:
        data = self.mapping(value, path, allowed=keys_of(Route), required=required_of(Route))
        if data is None:
            return None
        target = self.field(data, "to", path, v.name, "")
        if target and target not in models:
            self.problem(v.join(path, "to"), f"undefined model {target!r}")
        match = self.route_match(data.get("match"), v.join(path, "match"), models)
        return self.build(Route, data, path, {"name": v.name}, to=target or None, match=match)

    def route_match(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> RouteMatch | None:
        data = self.mapping(value, path, allowed=keys_of(RouteMatch))
        if data is None:
            return None
        match = self.build(
            RouteMatch,
            data,
            path,
            {
                "model": v.optional(v.name),
                "tags": lambda raw: frozenset(v.name_list(raw)),
                "user": v.optional(v.name),
                "min_prompt_tokens": v.optional(v.non_negative_int),
                "max_prompt_tokens": v.optional(v.non_negative_int),
            },
        )
        if match is not None and match.model is not None and match.model not in models:
            self.problem(v.join(path, "model"), f"undefined model {match.model!r}")
        return match

    def gateway_keys(self, root: dict[str, Any], models: Mapping[str, ModelGroup]) -> tuple[GatewayKey, ...]:
        keys: list[GatewayKey] = []
        for index, item in enumerate(self.listing(root.get("keys"), "keys")):
            path = f"keys[{index}]"
            key = self.gateway_key(item, path, models)
            if key is None:
                continue
            if any(k.name == key.name for k in keys):
                self.problem(v.join(path, "name"), f"duplicate key name {key.name!r}")
            if any(k.digest == key.digest for k in keys):
                self.problem(path, "the same key is used twice")
            keys.append(key)
        return tuple(keys)

    def gateway_key(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> GatewayKey | None:
        # The config holds the key itself (``key``) or only its hash (``key_sha256``).
        data = self.mapping(
            value,
            path,
            allowed=keys_of(GatewayKey) - {"secret", "digest"} | {"key", "key_sha256"},
            required=("name",),
        )
        if data is None:
            return None
        secret = self.field(data, "key", path, v.optional(self.gateway_secret), None)
        digest = self.field(data, "key_sha256", path, v.optional(v.sha256_hex), None)
        if ("key" in data) == ("key_sha256" in data):
            self.problem(path, "give exactly one of key (the key, e.g. ${ENV_VAR}) or key_sha256 (its hash)")
        allowed_models = self.field(data, "models", path, v.optional(v.name_list), None)
        for index, model in enumerate(allowed_models or ()):
            if model not in models:
                self.problem(f"{path}.models[{index}]", f"undefined model {model!r}")
        if secret is not None and digest is None:
            digest = key_digest(secret.reveal())
        return self.build(
            GatewayKey,
            data,
            path,
            {
                "name": v.name,
                "allow_override": v.boolean,
                "rpm": v.optional(v.positive_int),
                "tpm": v.optional(v.positive_int),
                "budget": lambda raw: self.budget(raw, v.join(path, "budget"), models),
            },
            digest=digest,
            secret=secret,
            models=None if allowed_models is None else frozenset(allowed_models),
        )

    def budget(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> Budget | None:
        data = self.mapping(value, path, allowed=keys_of(Budget))
        if data is None:
            return None
        if "daily" not in data and "monthly" not in data:
            self.problem(path, "needs daily or monthly (USD)")
        for target in ("downgrade_to", "exceeded_to"):
            group = data.get(target)
            if isinstance(group, str) and group not in models:
                self.problem(v.join(path, target), f"undefined model {group!r}")
        return self.build(
            Budget,
            data,
            path,
            {
                "daily": v.optional(v.positive_number),
                "monthly": v.optional(v.positive_number),
                "near": v.fraction,
                "downgrade_to": v.optional(v.name),
                "exceeded_to": v.optional(v.name),
            },
        )
