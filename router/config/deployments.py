"""A config's ``deployments``: each upstream the gateway can call, its limits and cooldown."""

from __future__ import annotations

from typing import Any

from router.config import values as v
from router.config.model import (
    FAKE_PROVIDER,
    LITELLM_PROVIDERS,
    NATIVE_PROVIDERS,
    WIRE_APIS,
    Adapter,
    Continues,
    CooldownSettings,
    Deployment,
    FakeSettings,
    Limits,
    Price,
)
from router.config.reader import ConfigReader, keys_of, required_of
from router.config.reserved import is_reserved
from router.config.units import parse_duration, parse_size
from router.wire.dialect import Dialect


def deployment(r: ConfigReader, value: Any, path: str) -> Deployment | None:
    """The deployment, with every key checked whatever else is wrong with it.

    One with a missing or unknown provider (reported) still comes back, with an empty
    provider, so references to its name resolve instead of adding a false "undefined
    deployment"; the config it belongs to is refused for that problem. Checks that
    depend on the provider are skipped when it is not known.
    """
    # The admission limits are written beside the other keys, not in a section of their own.
    data = r.mapping(
        value,
        path,
        allowed=keys_of(Deployment) - {"limits"} | keys_of(Limits),
        required=("name", "provider"),
    )
    if data is None:
        return None
    name = r.field(data, "name", path, v.deployment_name, "")
    provider = r.field(data, "provider", path, v.provider, "")
    if provider and provider != FAKE_PROVIDER and "model" not in data:
        r.problem(v.join(path, "model"), "is required")
    adapter = r.field(data, "adapter", path, v.member_of(Adapter), Adapter.NATIVE)
    if adapter is Adapter.LITELLM and provider not in NATIVE_PROVIDERS:
        r.problem(v.join(path, "adapter"), "is only for native providers (the others always use litellm)")
        adapter = Adapter.NATIVE
    base_url = r.field(data, "base_url", path, v.optional(r.url), None)
    if base_url is None and provider in NATIVE_PROVIDERS:
        # Through litellm, its own default applies.
        base_url = NATIVE_PROVIDERS[provider] if adapter is Adapter.NATIVE else None
        if NATIVE_PROVIDERS[provider] is None:
            r.problem(v.join(path, "base_url"), f"is required for provider {provider!r}")
    if "max_response_size" in data and (provider not in NATIVE_PROVIDERS or adapter is Adapter.LITELLM):
        r.problem(
            v.join(path, "max_response_size"),
            "is only for native providers, whose answers Raceway reads itself",
        )
    api = wire_api(r, data, path, provider, adapter)
    continues = continuation(r, data, path, api)
    if continues not in (None, Continues.NONE) and (
        provider in LITELLM_PROVIDERS or adapter is Adapter.LITELLM
    ):
        r.problem(
            v.join(path, "continues"), "is only for native providers (litellm forwards no continuation)"
        )
        continues = None
    fake = None
    if "fake" in data:
        if provider and provider != FAKE_PROVIDER:
            r.problem(v.join(path, "fake"), "is only valid with provider: fake")
        fake = fake_settings(r, data["fake"], v.join(path, "fake"))
    elif provider == FAKE_PROVIDER:
        fake = FakeSettings()
    return r.build(
        Deployment,
        data,
        path,
        {
            "api_key": v.optional(r.env_secret),
            "timeout": v.positive_duration,
            "connect_timeout": v.positive_duration,
            "first_chunk_timeout": v.positive_duration,
            "idle_timeout": v.positive_duration,
            "max_response_size": parse_size,
            "headers": r.headers,
            "max_input_tokens": v.optional(v.positive_int),
            "max_output_tokens": v.optional(v.positive_int),
            "reasoning": v.optional(v.boolean),
            "weight": v.positive_number,
            "price": lambda raw: price(r, raw, v.join(path, "price")),
            "cooldown": lambda raw: cooldown(r, raw, v.join(path, "cooldown")),
        },
        name=name or None,  # without a name there is nothing to refer to: None
        provider=provider,
        model=r.field(data, "model", path, r.text, "") or "fake",  # a fake deployment needs none
        base_url=base_url,
        limits=limits(r, data, path),
        fake=fake,
        extra_params=extra_params(r, data, path, provider),
        api=api,
        adapter=adapter,
        continues=continues,
    )


def wire_api(r: ConfigReader, data: dict[str, Any], path: str, provider: str, adapter: Adapter) -> Dialect:
    """The wire API the deployment speaks: its provider's default, or another it also serves
    (through litellm, chat only)."""
    allowed = WIRE_APIS.get(provider, (Dialect.CHAT,)) if adapter is Adapter.NATIVE else (Dialect.CHAT,)
    if "api" not in data:
        return allowed[0]
    api = r.field(data, "api", path, v.member_of(Dialect), allowed[0])
    if api not in allowed:
        choices = ", ".join(repr(str(choice)) for choice in allowed)
        through = " through litellm" if adapter is Adapter.LITELLM else ""
        r.problem(v.join(path, "api"), f"provider {provider!r} speaks {choices}{through}, not {str(api)!r}")
        return allowed[0]
    return api


def continuation(r: ConfigReader, data: dict[str, Any], path: str, api: Dialect) -> Continues | None:
    """How the deployment continues a partial answer: ``prefill`` is Messages', ``prefix`` chat's."""
    continues = r.field(data, "continues", path, v.optional(v.member_of(Continues)), None)
    fits = {Continues.PREFILL: Dialect.MESSAGES, Continues.PREFIX: Dialect.CHAT}
    if continues in fits and fits[continues] is not api:
        r.problem(v.join(path, "continues"), f"{continues} is only for api: {fits[continues]}")
        return None
    return continues


def extra_params(r: ConfigReader, data: dict[str, Any], path: str, provider: str) -> frozenset[str] | None:
    if "extra_params" not in data:
        return None
    where = v.join(path, "extra_params")
    if provider and provider not in LITELLM_PROVIDERS and data.get("adapter") != Adapter.LITELLM:
        r.problem(where, "is only for providers served through litellm (native ones forward every field)")
        return None
    names: tuple[str, ...] = r.field(data, "extra_params", path, v.name_list, ())
    for index, name in enumerate(names):
        if is_reserved(name):
            r.problem(
                f"{where}[{index}]", "names a field that routes or authenticates calls: it cannot be allowed"
            )
    return frozenset(names)


def limits(r: ConfigReader, data: dict[str, Any], path: str) -> Limits | None:
    limits = r.build(
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
                r.problem(v.join(path, key), "needs max_concurrency")
    return limits


def fake_settings(r: ConfigReader, value: Any, path: str) -> FakeSettings:
    return r.section(
        FakeSettings,
        value,
        path,
        {"latency": parse_duration, "chunk_delay": parse_duration, "reply": v.optional(r.text)},
    )


def price(r: ConfigReader, value: Any, path: str) -> Price | None:
    data = r.mapping(value, path, allowed=keys_of(Price), required=required_of(Price))
    if data is None:
        return None
    parse = v.non_negative_number
    optional = v.optional(parse)
    return r.build(
        Price, data, path, {"input": parse, "output": parse, "cache_read": optional, "cache_write": optional}
    )


def cooldown(r: ConfigReader, value: Any, path: str) -> CooldownSettings:
    return r.section(
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
