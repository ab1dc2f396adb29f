"""The config document's root and its server-wide sections: server, cache, state, telemetry; the
rest of the document is read by ``deployments``, ``groups`` and ``keys``."""

from __future__ import annotations

from typing import Any

from router.config import values as v
from router.config.deployments import deployment
from router.config.groups import check_fallbacks, model_group, route
from router.config.keys import gateway_keys
from router.config.model import (
    BackendKind,
    CacheSettings,
    CorsSettings,
    GatewayConfig,
    RequestLogSettings,
    ResponseModel,
    ServerSettings,
    StateSettings,
)
from router.config.reader import ConfigReader, keys_of, required_of
from router.config.telemetry import TelemetrySettings, TraceProtocol, TraceSettings
from router.config.units import parse_duration, parse_size


def read_config(r: ConfigReader, document: Any, config_hash: str) -> GatewayConfig | None:
    root = r.mapping(document, "(root)", allowed=keys_of(GatewayConfig) - {"hash"})
    if root is None:
        return None
    deployments = r.named(root, "deployments", lambda item, path: deployment(r, item, path))
    models = r.named(root, "models", lambda item, path: model_group(r, item, path, deployments))
    for section in ("deployments", "models"):
        if section not in root:
            r.problem(section, "is required")
    check_fallbacks(r, models)
    routes = tuple(
        rule
        for index, item in enumerate(r.listing(root.get("routes"), "routes"))
        if (rule := route(r, item, f"routes[{index}]", models)) is not None
    )
    return GatewayConfig(
        server=server(r, root.get("server"), "server"),
        deployments=deployments,
        models=models,
        keys=gateway_keys(r, root, models),
        routes=routes,
        cache=r.section(
            CacheSettings,
            root.get("cache"),
            "cache",
            {"max_entries": v.positive_int, "max_bytes": parse_size, "ttl": v.positive_duration},
        ),
        state=state_settings(r, root.get("state"), "state"),
        telemetry=telemetry_settings(r, root.get("telemetry"), "telemetry"),
        hash=config_hash,
    )


def state_settings(r: ConfigReader, value: Any, path: str) -> StateSettings:
    settings = r.section(
        StateSettings,
        value,
        path,
        {
            "backend": v.member_of(BackendKind),
            "url": v.optional(r.redis_url),
            "prefix": v.name,
            "cooldown_poll": v.positive_duration,
            "timeout": v.positive_duration,
            "ledger": r.file_path,
            "sync_interval": v.positive_duration,
        },
    )
    given = value if isinstance(value, dict) else {}
    if settings.backend is BackendKind.REDIS and "url" not in given:
        r.problem(v.join(path, "url"), "is required with backend: redis")
    if settings.backend is BackendKind.LOCAL and "url" in given:
        r.problem(v.join(path, "url"), "is only valid with backend: redis")
    return settings


def server(r: ConfigReader, value: Any, path: str) -> ServerSettings:
    return r.section(
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
            "admin_key": v.optional(r.gateway_secret),
            "auth_failures_per_minute": v.optional(v.positive_int),
            "cors": lambda raw: cors(r, raw, v.join(path, "cors")),
            "response_model": v.member_of(ResponseModel),
            "request_log": lambda raw: request_log(r, raw, v.join(path, "request_log")),
        },
    )


def request_log(r: ConfigReader, value: Any, path: str) -> RequestLogSettings:
    return r.section(
        RequestLogSettings,
        value,
        path,
        {
            "enabled": v.boolean,
            "path": r.file_path,
            "max_rows": v.positive_int,
            "max_age": v.positive_duration,
            "bodies": v.boolean,
            "max_pending": v.positive_int,
        },
    )


def cors(r: ConfigReader, value: Any, path: str) -> CorsSettings | None:
    data = r.mapping(value, path, allowed=keys_of(CorsSettings), required=required_of(CorsSettings))
    if data is None:
        return None
    return r.build(CorsSettings, data, path, {"origins": v.origin_list, "max_age": parse_duration})


def telemetry_settings(r: ConfigReader, value: Any, path: str) -> TelemetrySettings:
    data = r.mapping(value if value is not None else {}, path, allowed=keys_of(TelemetrySettings))
    if not data or data.get("traces") is None:
        return TelemetrySettings()
    traces_path = v.join(path, "traces")
    traces = r.mapping(data["traces"], traces_path, allowed=keys_of(TraceSettings))
    if traces is None:
        return TelemetrySettings()
    settings = r.build(
        TraceSettings,
        traces,
        traces_path,
        {
            "endpoint": r.url,
            "protocol": v.member_of(TraceProtocol),
            "sample_ratio": v.ratio,
            "headers": r.headers,
            "timeout": v.positive_duration,
            "capture_content": v.boolean,
        },
    )
    return TelemetrySettings(traces=settings)
