"""Validation of the parsed YAML: builds the typed config and collects every problem with its path."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from router.config import values as v
from router.config.model import (
    CACHE_MODES,
    FAKE_PROVIDER,
    LITELLM_PROVIDERS,
    NATIVE_PROVIDERS,
    STATE_BACKENDS,
    Budget,
    CacheSettings,
    CooldownSettings,
    Deployment,
    FakeSettings,
    GatewayConfig,
    GatewayKey,
    GroupCache,
    Limits,
    ModelGroup,
    Price,
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

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_NO_KEYS: frozenset[str] = frozenset()
_NO_NAMES: tuple[str, ...] = ()


class ConfigReader:
    """Walks the parsed YAML, building typed objects and collecting problems."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    # -- generic shapes -------------------------------------------------------

    def mapping(
        self, value: Any, path: str, *, allowed: set[str], required: frozenset[str] = _NO_KEYS
    ) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"expected a mapping, got {v.type_name(value)}")
            return None
        for key in value:
            if key not in allowed:
                self.problem(v.join(path, str(key)), f"unknown key (allowed: {', '.join(sorted(allowed))})")
        for key in sorted(required - value.keys()):
            self.problem(v.join(path, key), "is required")
        return value

    def listing(self, value: Any, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(path, f"expected a list, got {v.type_name(value)}")
            return []
        return value

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
        return Secret(self.expand(value.strip()))

    def gateway_secret(self, value: Any) -> Secret:
        """A key clients present to the gateway: inline or from the environment, 8 characters at least."""
        secret = Secret(self.text(value))
        if len(secret.reveal()) < 8:
            raise ValueError("a gateway key must be at least 8 characters")
        return secret

    # -- sections -------------------------------------------------------------

    def config(self, document: Any, config_hash: str) -> GatewayConfig | None:
        root = self.mapping(
            document,
            "(root)",
            allowed={"server", "deployments", "models", "routes", "keys", "cache", "state"},
        )
        if root is None:
            return None
        server = self.server(root.get("server") or {}, "server")
        deployments = self.named(root, "deployments", self.deployment)
        if "deployments" not in root:
            self.problem("deployments", "is required")
        models = self.named(root, "models", lambda item, path: self.model_group(item, path, deployments))
        if "models" not in root:
            self.problem("models", "is required")
        self.check_fallbacks(models)
        routes = tuple(
            route
            for index, item in enumerate(self.listing(root.get("routes"), "routes"))
            if (route := self.route(item, f"routes[{index}]", models)) is not None
        )
        keys = self.gateway_keys(root, models)
        return GatewayConfig(
            server=server,
            deployments=deployments,
            models=models,
            keys=keys,
            routes=routes,
            cache=self.cache_settings(root.get("cache") or {}, "cache"),
            state=self.state_settings(root.get("state") or {}, "state"),
            hash=config_hash,
        )

    def cache_settings(self, value: Any, path: str) -> CacheSettings:
        data = self.mapping(value, path, allowed={"max_entries", "max_bytes", "ttl"})
        defaults = CacheSettings()
        if data is None:
            return defaults
        return CacheSettings(
            max_entries=self.field(data, "max_entries", path, v.positive_int, defaults.max_entries),
            max_bytes=self.field(data, "max_bytes", path, parse_size, defaults.max_bytes),
            ttl=self.field(data, "ttl", path, v.positive_duration, defaults.ttl),
        )

    def state_settings(self, value: Any, path: str) -> StateSettings:
        data = self.mapping(
            value, path, allowed={"backend", "url", "prefix", "ledger", "sync_interval", "cooldown_poll"}
        )
        defaults = StateSettings()
        if data is None:
            return defaults
        backend = self.field(data, "backend", path, v.one_of(STATE_BACKENDS), defaults.backend)
        url = self.field(data, "url", path, v.optional(self.redis_url), None)
        if backend == "redis" and url is None and "url" not in data:
            self.problem(v.join(path, "url"), "is required with backend: redis")
        if backend == "local" and "url" in data:
            self.problem(v.join(path, "url"), "is only valid with backend: redis")
        return StateSettings(
            backend=backend,
            url=url,
            prefix=self.field(data, "prefix", path, v.name, defaults.prefix),
            cooldown_poll=self.field(
                data, "cooldown_poll", path, v.positive_duration, defaults.cooldown_poll
            ),
            ledger=self.field(
                data, "ledger", path, lambda raw: Path(self.text(raw)).expanduser(), defaults.ledger
            ),
            sync_interval=self.field(
                data, "sync_interval", path, v.positive_duration, defaults.sync_interval
            ),
        )

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
        data = self.mapping(
            value,
            path,
            allowed={
                "bind",
                "workers",
                "max_body_size",
                "graceful_timeout",
                "keep_alive_timeout",
                "backlog",
                "loop_lag_warning",
                "access_log",
                "metrics",
                "admin_key",
            },
        )
        defaults = ServerSettings()
        if data is None:
            return defaults
        return ServerSettings(
            bind=self.field(data, "bind", path, v.bind, defaults.bind),
            workers=self.field(data, "workers", path, v.optional(v.positive_int), defaults.workers),
            max_body_size=self.field(data, "max_body_size", path, parse_size, defaults.max_body_size),
            graceful_timeout=self.field(
                data, "graceful_timeout", path, parse_duration, defaults.graceful_timeout
            ),
            keep_alive_timeout=self.field(
                data, "keep_alive_timeout", path, parse_duration, defaults.keep_alive_timeout
            ),
            backlog=self.field(data, "backlog", path, v.positive_int, defaults.backlog),
            loop_lag_warning=self.field(
                data, "loop_lag_warning", path, v.positive_duration, defaults.loop_lag_warning
            ),
            access_log=self.field(data, "access_log", path, v.boolean, defaults.access_log),
            metrics=self.field(data, "metrics", path, v.boolean, defaults.metrics),
            admin_key=self.field(data, "admin_key", path, v.optional(self.gateway_secret), None),
        )

    def deployment(self, value: Any, path: str) -> Deployment | None:
        data = self.mapping(
            value,
            path,
            allowed={
                "name", "provider", "model", "base_url", "api_key", "timeout", "connect_timeout",
                "first_chunk_timeout", "idle_timeout", "headers", "max_input_tokens", "weight", "price",
                "cooldown", "fake", "max_concurrency", "max_queue", "queue_timeout", "rpm", "tpm",
                "limit_wait", "extra_params",
            },
            required=frozenset({"name", "provider"}),
        )  # fmt: skip
        if data is None:
            return None
        name = self.field(data, "name", path, v.name, "")
        provider = self.field(data, "provider", path, v.provider, "")
        if not name or not provider:
            return None
        if provider != FAKE_PROVIDER and "model" not in data:
            self.problem(v.join(path, "model"), "is required")
        model = self.field(data, "model", path, self.text, "fake")
        base_url = self.field(data, "base_url", path, v.optional(self.url), None)
        if base_url is None and provider in NATIVE_PROVIDERS:
            base_url = NATIVE_PROVIDERS[provider]
            if base_url is None:
                self.problem(v.join(path, "base_url"), f"is required for provider {provider!r}")
        fake = None
        if "fake" in data:
            if provider != FAKE_PROVIDER:
                self.problem(v.join(path, "fake"), "is only valid with provider: fake")
            fake = self.fake(data["fake"], v.join(path, "fake"))
        elif provider == FAKE_PROVIDER:
            fake = FakeSettings()
        extra_params = self.extra_params(data, path, provider)
        return Deployment(
            name=name,
            provider=provider,
            model=model,
            base_url=base_url,
            api_key=self.field(data, "api_key", path, v.optional(self.env_secret), None),
            timeout=self.field(data, "timeout", path, v.positive_duration, 120.0),
            connect_timeout=self.field(data, "connect_timeout", path, v.positive_duration, 5.0),
            first_chunk_timeout=self.field(data, "first_chunk_timeout", path, v.positive_duration, 60.0),
            idle_timeout=self.field(data, "idle_timeout", path, v.positive_duration, 30.0),
            limits=self.limits(data, path),
            headers=self.field(data, "headers", path, self.headers, {}),
            max_input_tokens=self.field(data, "max_input_tokens", path, v.optional(v.positive_int), None),
            weight=self.field(data, "weight", path, v.positive_number, 1.0),
            price=self.price(data["price"], v.join(path, "price")) if "price" in data else None,
            cooldown=self.cooldown(data.get("cooldown", {}), v.join(path, "cooldown")),
            fake=fake,
            extra_params=extra_params,
        )

    def extra_params(self, data: dict[str, Any], path: str, provider: str) -> frozenset[str]:
        if "extra_params" not in data:
            return frozenset()
        where = v.join(path, "extra_params")
        if provider not in LITELLM_PROVIDERS:
            self.problem(
                where, "is only for providers served through litellm (native ones forward every field)"
            )
            return frozenset()
        names: tuple[str, ...] = self.field(data, "extra_params", path, v.name_list, ())
        for index, name in enumerate(names):
            if is_reserved(name):
                self.problem(
                    f"{where}[{index}]", f"{name!r} routes or authenticates calls and cannot be allowed"
                )
        return frozenset(names)

    def limits(self, data: dict[str, Any], path: str) -> Limits:
        defaults = Limits()
        limits = Limits(
            max_concurrency=self.field(data, "max_concurrency", path, v.optional(v.positive_int), None),
            max_queue=self.field(data, "max_queue", path, v.non_negative_int, defaults.max_queue),
            queue_timeout=self.field(
                data, "queue_timeout", path, v.positive_duration, defaults.queue_timeout
            ),
            rpm=self.field(data, "rpm", path, v.optional(v.positive_int), None),
            tpm=self.field(data, "tpm", path, v.optional(v.positive_int), None),
            limit_wait=self.field(data, "limit_wait", path, parse_duration, defaults.limit_wait),
        )
        if limits.max_concurrency is None:
            for key in ("max_queue", "queue_timeout"):
                if key in data:
                    self.problem(v.join(path, key), "needs max_concurrency")
        return limits

    def fake(self, value: Any, path: str) -> FakeSettings:
        data = self.mapping(value, path, allowed={"latency", "chunk_delay", "reply"})
        if data is None:
            return FakeSettings()
        return FakeSettings(
            latency=self.field(data, "latency", path, parse_duration, 0.0),
            chunk_delay=self.field(data, "chunk_delay", path, parse_duration, 0.0),
            reply=self.field(data, "reply", path, v.optional(self.text), None),
        )

    def price(self, value: Any, path: str) -> Price | None:
        data = self.mapping(value, path, allowed={"input", "output"}, required=frozenset({"input", "output"}))
        if data is None:
            return None
        return Price(
            input=self.field(data, "input", path, v.non_negative_number, 0.0),
            output=self.field(data, "output", path, v.non_negative_number, 0.0),
        )

    def cooldown(self, value: Any, path: str) -> CooldownSettings:
        data = self.mapping(value, path, allowed={"failures", "window", "duration"})
        defaults = CooldownSettings()
        if data is None:
            return defaults
        return CooldownSettings(
            failures=self.field(data, "failures", path, v.positive_int, defaults.failures),
            window=self.field(data, "window", path, v.positive_duration, defaults.window),
            duration=self.field(data, "duration", path, v.positive_duration, defaults.duration),
        )

    def headers(self, value: Any) -> dict[str, Secret]:
        if not isinstance(value, dict):
            raise ValueError(f"expected a mapping of header names to values, got {v.type_name(value)}")
        headers: dict[str, Secret] = {}
        for name, raw in value.items():
            if not isinstance(name, str) or not isinstance(raw, str):
                raise ValueError("header names and values must be strings")
            headers[name.lower()] = Secret(self.expand(raw))
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
        data = self.mapping(
            value,
            path,
            allowed={
                "name", "deployments", "strategy", "hedge_delay", "hedge_min_delay", "max_parallel",
                "fallbacks", "retries", "max_attempts", "deadline", "cache",
            },
            required=frozenset({"name", "deployments"}),
        )  # fmt: skip
        if data is None:
            return None
        name = self.field(data, "name", path, v.name, "")
        members: tuple[str, ...] = self.field(data, "deployments", path, v.name_list, ())
        for index, member in enumerate(members):
            if member not in deployments:
                self.problem(f"{path}.deployments[{index}]", f"undefined deployment {member!r}")
        if len(set(members)) != len(members):
            self.problem(v.join(path, "deployments"), "lists a deployment twice")
        strategy = self.field(data, "strategy", path, v.strategy, "fallback")
        pacing = pacing_of(strategy) if strategy in STRATEGIES else None
        staggered = sorted(name for name, kind in STRATEGIES.items() if kind.pacing is Pacing.STAGGERED)
        fanning = sorted(name for name, kind in STRATEGIES.items() if kind.pacing.fans_out)
        for key in ("hedge_delay", "hedge_min_delay"):
            if key in data and pacing is not Pacing.STAGGERED:
                self.problem(v.join(path, key), f"is only valid with strategy: {' or '.join(staggered)}")
        if "max_parallel" in data and pacing is not None and not pacing.fans_out:
            self.problem(v.join(path, "max_parallel"), f"is only valid with strategy: {' or '.join(fanning)}")
        if not name or not members:
            return None
        return ModelGroup(
            name=name,
            deployments=members,
            strategy=strategy,
            hedge_delay=self.field(data, "hedge_delay", path, v.hedge_delay, None),
            hedge_min_delay=self.field(data, "hedge_min_delay", path, parse_duration, 0.05),
            max_parallel=self.field(data, "max_parallel", path, v.optional(v.positive_int), None),
            fallbacks=self.field(data, "fallbacks", path, v.name_list, _NO_NAMES),
            retries=self.retries(data.get("retries", {}), v.join(path, "retries")),
            max_attempts=self.field(data, "max_attempts", path, v.positive_int, 8),
            deadline=self.field(data, "deadline", path, v.positive_duration, 300.0),
            cache=self.group_cache(data["cache"], v.join(path, "cache")) if "cache" in data else None,
        )

    def group_cache(self, value: Any, path: str) -> GroupCache | None:
        data = self.mapping(value, path, allowed={"mode", "ttl", "shared"})
        if data is None:
            return None
        defaults = GroupCache()
        return GroupCache(
            mode=self.field(data, "mode", path, v.one_of(CACHE_MODES), defaults.mode),
            ttl=self.field(data, "ttl", path, v.optional(v.positive_duration), None),
            shared=self.field(data, "shared", path, v.boolean, defaults.shared),
        )

    def retries(self, value: Any, path: str) -> RetrySettings:
        data = self.mapping(value, path, allowed={"attempts", "backoff", "max_backoff"})
        defaults = RetrySettings()
        if data is None:
            return defaults
        return RetrySettings(
            attempts=self.field(data, "attempts", path, v.non_negative_int, defaults.attempts),
            backoff=self.field(data, "backoff", path, parse_duration, defaults.backoff),
            max_backoff=self.field(data, "max_backoff", path, parse_duration, defaults.max_backoff),
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
        data = self.mapping(
            value, path, allowed={"name", "match", "to"}, required=frozenset({"name", "match", "to"})
        )
        if data is None:
            return None
        name = self.field(data, "name", path, v.name, "")
        target = self.field(data, "to", path, v.name, "")
        if target and target not in models:
            self.problem(v.join(path, "to"), f"undefined model {target!r}")
        match = self.route_match(data.get("match"), v.join(path, "match"), models)
        if not name or not target or match is None:
            return None
        return Route(name=name, match=match, to=target)

    def route_match(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> RouteMatch | None:
        data = self.mapping(
            value, path, allowed={"model", "tags", "user", "min_prompt_tokens", "max_prompt_tokens"}
        )
        if data is None:
            return None
        model = self.field(data, "model", path, v.optional(v.name), None)
        if model is not None and model not in models:
            self.problem(v.join(path, "model"), f"undefined model {model!r}")
        tags: tuple[str, ...] = self.field(data, "tags", path, v.name_list, ())
        return RouteMatch(
            model=model,
            tags=frozenset(tags),
            user=self.field(data, "user", path, v.optional(v.name), None),
            min_prompt_tokens=self.field(
                data, "min_prompt_tokens", path, v.optional(v.non_negative_int), None
            ),
            max_prompt_tokens=self.field(
                data, "max_prompt_tokens", path, v.optional(v.non_negative_int), None
            ),
        )

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
        data = self.mapping(
            value,
            path,
            allowed={"name", "key", "key_sha256", "models", "allow_override", "rpm", "tpm", "budget"},
            required=frozenset({"name"}),
        )
        if data is None:
            return None
        name = self.field(data, "name", path, v.name, "")
        secret = self.field(data, "key", path, v.optional(self.gateway_secret), None)
        digest = self.field(data, "key_sha256", path, v.optional(v.sha256_hex), None)
        if ("key" in data) == ("key_sha256" in data):
            self.problem(path, "give exactly one of key (the key, e.g. ${ENV_VAR}) or key_sha256 (its hash)")
        allowed_models = self.field(data, "models", path, v.optional(v.name_list), None)
        for index, model in enumerate(allowed_models or ()):
            if model not in models:
                self.problem(f"{path}.models[{index}]", f"undefined model {model!r}")
        budget = self.budget(data["budget"], v.join(path, "budget"), models) if "budget" in data else None
        if not name or (secret is None and digest is None):
            return None
        return GatewayKey(
            name=name,
            digest=digest or key_digest(secret.reveal() if secret else ""),
            secret=secret,
            models=None if allowed_models is None else frozenset(allowed_models),
            allow_override=self.field(data, "allow_override", path, v.boolean, False),
            rpm=self.field(data, "rpm", path, v.optional(v.positive_int), None),
            tpm=self.field(data, "tpm", path, v.optional(v.positive_int), None),
            budget=budget,
        )

    def budget(self, value: Any, path: str, models: Mapping[str, ModelGroup]) -> Budget | None:
        data = self.mapping(value, path, allowed={"daily", "monthly", "near", "downgrade_to", "exceeded_to"})
        if data is None:
            return None
        if "daily" not in data and "monthly" not in data:
            self.problem(path, "needs daily or monthly (USD)")
        for target in ("downgrade_to", "exceeded_to"):
            group = data.get(target)
            if isinstance(group, str) and group not in models:
                self.problem(v.join(path, target), f"undefined model {group!r}")
        return Budget(
            daily=self.field(data, "daily", path, v.optional(v.positive_number), None),
            monthly=self.field(data, "monthly", path, v.optional(v.positive_number), None),
            near=self.field(data, "near", path, v.fraction, 0.8),
            downgrade_to=self.field(data, "downgrade_to", path, v.optional(v.name), None),
            exceeded_to=self.field(data, "exceeded_to", path, v.optional(v.name), None),
        )
