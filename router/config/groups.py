"""A config's ``models`` (the groups clients ask for, their strategy, retries and cache) and
``routes`` (the rules that send requests to another group)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.config import values as v
from router.config.model import Deployment
from router.config.model_groups import (
    Affinity,
    CacheMode,
    GroupCache,
    HedgeBudget,
    ModelGroup,
    Resume,
    RetrySettings,
    Route,
    RouteMatch,
)
from router.config.reader import ConfigReader, default_of, keys_of, required_of
from router.config.strategies import STRATEGY_NAMES, Pacing, StrategyName, pacing_of
from router.config.units import parse_duration


def model_group(
    r: ConfigReader, value: Any, path: str, deployments: Mapping[str, Deployment]
) -> ModelGroup | None:
    data = r.mapping(value, path, allowed=keys_of(ModelGroup), required=required_of(ModelGroup))
    if data is None:
        return None
    name = r.field(data, "name", path, v.name, "")
    members: tuple[str, ...] = r.field(data, "deployments", path, v.name_list, ())
    for index, member in enumerate(members):
        if member not in deployments:
            r.problem(
                f"{path}.deployments[{index}]",
                f"no deployment has this name{v.suggestion(deployments, member)}",
            )
    if len(set(members)) != len(members):
        r.problem(v.join(path, "deployments"), "lists a deployment twice")
    strategy = r.field(data, "strategy", path, v.strategy, default_of(ModelGroup, "strategy"))
    check_pacing(r, data, path, pacing_of(strategy) if strategy in STRATEGY_NAMES else None)
    return r.build(
        ModelGroup,
        data,
        path,
        {
            "hedge_delay": v.hedge_delay,
            "hedge_min_delay": parse_duration,
            "max_parallel": v.optional(v.positive_int),
            "fallbacks": v.name_list,
            "retries": lambda raw: retries(r, raw, v.join(path, "retries")),
            "max_attempts": v.positive_int,
            "deadline": v.positive_duration,
            "cache": lambda raw: group_cache(r, raw, v.join(path, "cache")),
            "affinity": lambda raw: affinity(r, raw, v.join(path, "affinity")),
            "hedge_budget": lambda raw: hedge_budget(r, raw, v.join(path, "hedge_budget")),
            "resume": lambda raw: resume(r, raw, v.join(path, "resume")),
        },
        name=name or None,
        deployments=members or None,
        strategy=strategy,
    )


def check_pacing(r: ConfigReader, data: dict[str, Any], path: str, pacing: Pacing | None) -> None:
    """Keys that only mean something for strategies that start several calls."""
    staggered = sorted(name for name in StrategyName if name.pacing is Pacing.STAGGERED)
    fanning = sorted(name for name in StrategyName if name.pacing.fans_out)
    for key in ("hedge_delay", "hedge_min_delay", "hedge_budget"):
        if key in data and pacing is not Pacing.STAGGERED:
            r.problem(v.join(path, key), f"is only valid with strategy: {' or '.join(staggered)}")
    if "max_parallel" in data and pacing is not None and not pacing.fans_out:
        r.problem(v.join(path, "max_parallel"), f"is only valid with strategy: {' or '.join(fanning)}")


def group_cache(r: ConfigReader, value: Any, path: str) -> GroupCache | None:
    data = r.mapping(value, path, allowed=keys_of(GroupCache))
    if data is None:
        return None
    return r.build(
        GroupCache,
        data,
        path,
        {"mode": v.member_of(CacheMode), "ttl": v.optional(v.positive_duration), "shared": v.boolean},
    )


def affinity(r: ConfigReader, value: Any, path: str) -> Affinity | None:
    data = r.mapping(value, path, allowed=keys_of(Affinity))
    if data is None:
        return None
    return r.build(Affinity, data, path, {"ttl": v.positive_duration, "header": _header_name})


def _header_name(value: Any) -> str:
    text = v.name(value)
    if not v.is_header_name(text):
        raise ValueError(f"{text!r} is not an HTTP header name")
    return text.lower()


def hedge_budget(r: ConfigReader, value: Any, path: str) -> HedgeBudget:
    return r.section(HedgeBudget, value, path, {"share": v.ratio, "minimum": v.non_negative_int})


def resume(r: ConfigReader, value: Any, path: str) -> Resume:
    return r.section(Resume, value, path, {"max_resumes": v.positive_int, "cache": v.boolean})


def retries(r: ConfigReader, value: Any, path: str) -> RetrySettings:
    return r.section(
        RetrySettings,
        value,
        path,
        {"attempts": v.non_negative_int, "backoff": parse_duration, "max_backoff": parse_duration},
    )


def check_fallbacks(r: ConfigReader, models: Mapping[str, ModelGroup]) -> None:
    for index, group in enumerate(models.values()):
        for position, target in enumerate(group.fallbacks):
            where = f"models[{index}].fallbacks[{position}]"
            if target == group.name:
                r.problem(where, "a model cannot fall back to itself")
            elif target not in models:
                r.problem(where, f"no model has this name{v.suggestion(models, target)}")


def route(r: ConfigReader, value: Any, path: str, models: Mapping[str, ModelGroup]) -> Route | None:
    data = r.mapping(value, path, allowed=keys_of(Route), required=required_of(Route))
    if data is None:
        return None
    target = r.field(data, "to", path, v.name, "")
    if target and target not in models:
        r.problem(v.join(path, "to"), f"no model has this name{v.suggestion(models, target)}")
    match = route_match(r, data.get("match"), v.join(path, "match"), models)
    return r.build(Route, data, path, {"name": v.name}, to=target or None, match=match)


def route_match(
    r: ConfigReader, value: Any, path: str, models: Mapping[str, ModelGroup]
) -> RouteMatch | None:
    data = r.mapping(value, path, allowed=keys_of(RouteMatch))
    if data is None:
        return None
    match = r.build(
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
        r.problem(v.join(path, "model"), f"no model has this name{v.suggestion(models, match.model)}")
    return match
