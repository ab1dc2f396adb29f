"""A config's ``keys``: gateway keys, what each may use, its rate limits and budget."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.config import values as v
from router.config.gateway_keys import Budget, GatewayKey, key_digest
from router.config.model_groups import ModelGroup
from router.config.reader import ConfigReader, keys_of


def gateway_keys(
    r: ConfigReader, root: dict[str, Any], models: Mapping[str, ModelGroup]
) -> tuple[GatewayKey, ...]:
    keys: list[GatewayKey] = []
    for index, item in enumerate(r.listing(root.get("keys"), "keys")):
        path = f"keys[{index}]"
        key = gateway_key(r, item, path, models)
        if key is None:
            continue
        twin = next((i for i, k in enumerate(keys) if k.name == key.name), None)
        if twin is not None:
            r.problem(v.join(path, "name"), f"is already the name of keys[{twin}]")
        if any(k.digest == key.digest for k in keys):
            r.problem(path, "the same key is used twice")
        keys.append(key)
    return tuple(keys)


def gateway_key(
    r: ConfigReader, value: Any, path: str, models: Mapping[str, ModelGroup]
) -> GatewayKey | None:
    # The config holds the key itself (``key``) or only its hash (``key_sha256``).
    data = r.mapping(
        value,
        path,
        allowed=keys_of(GatewayKey) - {"secret", "digest"} | {"key", "key_sha256"},
        required=("name",),
    )
    if data is None:
        return None
    secret = r.field(data, "key", path, v.optional(r.gateway_secret), None)
    digest = r.field(data, "key_sha256", path, v.optional(v.sha256_hex), None)
    if ("key" in data) == ("key_sha256" in data):
        r.problem(path, "give exactly one of key (the key, e.g. ${ENV_VAR}) or key_sha256 (its hash)")
    allowed_models = r.field(data, "models", path, v.optional(v.name_list), None)
    for index, model in enumerate(allowed_models or ()):
        if model not in models:
            r.problem(f"{path}.models[{index}]", f"no model has this name{v.suggestion(models, model)}")
    if secret is not None and digest is None:
        digest = key_digest(secret.reveal())
    return r.build(
        GatewayKey,
        data,
        path,
        {
            "name": v.name,
            "allow_override": v.boolean,
            "rpm": v.optional(v.positive_int),
            "tpm": v.optional(v.positive_int),
            "budget": lambda raw: budget(r, raw, v.join(path, "budget"), models),
        },
        digest=digest,
        secret=secret,
        models=None if allowed_models is None else frozenset(allowed_models),
    )


def budget(r: ConfigReader, value: Any, path: str, models: Mapping[str, ModelGroup]) -> Budget | None:
    data = r.mapping(value, path, allowed=keys_of(Budget))
    if data is None:
        return None
    if "daily" not in data and "monthly" not in data:
        r.problem(path, "needs daily or monthly (USD)")
    for target in ("downgrade_to", "exceeded_to"):
        group = data.get(target)
        if isinstance(group, str) and group not in models:
            r.problem(v.join(path, target), f"no model has this name{v.suggestion(models, group)}")
    return r.build(
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
