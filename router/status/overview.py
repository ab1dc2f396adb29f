"""The document of ``GET /status.json``: the whole instance at one moment, merged over its workers.

Built from what is already kept: the metric families (totals now, rates and quantiles over
the last minute: ``figures``), the workers' boards (breakers, last errors, reloads), the
spend store's totals, and the request log's last minute (cache hits by model group). Totals
(``*_total``, ``in_flight``, ``queue_depth``) are the numbers ``/metrics`` shows at the same
moment; ``null`` means "not known yet" (a rate before a second snapshot, a quantile of a
minute without calls).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.config.gateway_keys import GatewayKey
from router.config.model import Deployment, GatewayConfig
from router.config.strategies import Pacing, pacing_of
from router.routing.budgets import tier_of
from router.spend.ledger import Spent
from router.status.board import STATE_NAMES
from router.status.figures import Window
from router.telemetry.labels import StatusClass

# Upstream outcomes that are not the deployment's failure (of raceway_upstream_requests_total).
_NOT_ERRORS = frozenset({"success", "cancelled"})
_WORST_FIRST = ("cooling down", "half-open", "usable")
_BY_METRIC = {float(state.value): name for state, name in STATE_NAMES.items()}


@dataclass(frozen=True, slots=True)
class Sources:
    config: GatewayConfig
    window: Window
    boards: list[dict[str, Any]]  # every live worker's facts (``board.WorkerBoard.facts``)
    spend: Mapping[str, Spent] | None  # None: the spend store could not be read
    recent: list[dict[str, Any]]  # the request log's last minute (newest first)
    version: str
    now: float


def overview(sources: Sources) -> dict[str, Any]:
    return {
        "at": round(sources.now, 3),
        "window_s": None if sources.window.seconds is None else round(sources.window.seconds, 3),
        "gateway": gateway_part(sources),
        "deployments": [deployment_part(sources, d) for d in sources.config.deployments.values()],
        "models": [model_part(sources, name) for name in sources.config.models],
        "keys": [key_part(sources, key) for key in sources.config.keys],
    }


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 3)


def deployment_part(sources: Sources, deployment: Deployment) -> dict[str, Any]:
    window, name = sources.window, deployment.name
    now = window.now
    outcomes = now.by("raceway_upstream_requests_total", "outcome", deployment=name)
    errors = sorted(outcome for outcome in outcomes if outcome not in _NOT_ERRORS)
    error_rates = [window.rate("raceway_upstream_requests_total", deployment=name, outcome=o) for o in errors]
    calls_rate = window.rate("raceway_upstream_requests_total", deployment=name)
    seen = [board["deployments"][name] for board in sources.boards if name in board["deployments"]]
    state, until, last_error = _merged_breaker(seen, now.total("raceway_deployment_state", deployment=name))
    limits = deployment.limits
    tokens_rate = window.rate("raceway_tokens_total", deployment=name)
    return {
        "name": name,
        "provider": deployment.provider,
        "api": deployment.api.value,
        "state": state,
        "cooling_until": until,
        "in_flight": now.total("raceway_inflight", deployment=name),
        "queue_depth": now.total("raceway_queue_depth", deployment=name),
        "calls_total": sum(outcomes.values()),
        "errors_total": sum(outcomes[outcome] for outcome in errors),
        "outcomes_total": {outcome: outcomes[outcome] for outcome in sorted(outcomes)},
        "calls_per_s": _round(calls_rate),
        "errors_per_s": None if calls_rate is None else _round(sum(r or 0.0 for r in error_rates)),
        "latency_p50_ms": _ms(window.quantile(0.5, "raceway_upstream_duration_seconds", deployment=name)),
        "latency_p95_ms": _ms(window.quantile(0.95, "raceway_upstream_duration_seconds", deployment=name)),
        "ttft_p50_ms": _ms(
            window.quantile(0.5, "raceway_upstream_time_to_first_token_seconds", deployment=name)
        ),
        "ttft_p95_ms": _ms(
            window.quantile(0.95, "raceway_upstream_time_to_first_token_seconds", deployment=name)
        ),
        "rate_limits": {
            "rpm": limits.rpm,
            "rpm_headroom": None
            if limits.rpm is None or calls_rate is None
            else round(limits.rpm - calls_rate * 60, 1),
            "tpm": limits.tpm,
            "tpm_headroom": None
            if limits.tpm is None or tokens_rate is None
            else round(limits.tpm - tokens_rate * 60, 1),
            "max_concurrency": limits.max_concurrency,
        },
        "last_error": last_error,
    }


def _merged_breaker(
    seen: list[dict[str, Any]], metric: float
) -> tuple[str, float | None, dict[str, Any] | None]:
    """The worst state any worker sees, the latest end of a cooldown, the newest error."""
    if not seen:  # no worker's board yet: the metric (worst over workers) says it
        return _BY_METRIC.get(metric, "usable"), None, None
    state = min((entry["state"] for entry in seen), key=_WORST_FIRST.index)
    ends = [entry["until"] for entry in seen if entry.get("until") is not None]
    errors = [entry["last_error"] for entry in seen if entry.get("last_error")]
    return state, max(ends) if ends else None, max(errors, key=lambda e: e["at"]) if errors else None


def model_part(sources: Sources, name: str) -> dict[str, Any]:
    window, group = sources.window, sources.config.models[name]
    now = window.now
    by_status = now.by("raceway_requests_total", "status_class", model=name)
    requests_rate = window.rate("raceway_requests_total", model=name)
    pacing = pacing_of(group.strategy)
    part: dict[str, Any] = {
        "name": name,
        "strategy": group.strategy,
        "deployments": list(group.deployments),
        "fallbacks": list(group.fallbacks),
        "requests_total": sum(by_status.values()),
        "status_total": {status.value: by_status.get(status, 0.0) for status in StatusClass},
        "requests_per_s": _round(requests_rate),
        "errors_per_s": _round(
            None
            if requests_rate is None
            else sum(
                window.rate("raceway_requests_total", model=name, status_class=status) or 0.0
                for status in ("4xx", "5xx")
            )
        ),
        "latency_p50_ms": _ms(window.quantile(0.5, "raceway_request_duration_seconds", model=name)),
        "latency_p95_ms": _ms(window.quantile(0.95, "raceway_request_duration_seconds", model=name)),
        "fallbacks_total": {
            f"{hop['from']} -> {hop['to']}": value
            for hop, value in _pairs(now.samples.get("raceway_fallbacks_total", {}), model=name)
        },
        "cache_hit_rate": _cache_hit_rate(sources.recent, name) if group.cache is not None else None,
    }
    if group.affinity is not None:
        placed = now.by("raceway_affinity_total", "result", model=name)
        part["affinity_total"] = placed
        turns = sum(placed.values())
        part["affinity_hit_rate"] = round(placed.get("hit", 0.0) / turns, 4) if turns else None
    if pacing.fans_out:
        part["race_wins_total"] = now.by("raceway_race_outcomes_total", "winner", model=name)
    if pacing is Pacing.STAGGERED:
        hedges = now.total("raceway_hedges_total", model=name)
        part["hedges_total"] = hedges
        part["hedged_share"] = round(hedges / part["requests_total"], 4) if part["requests_total"] else None
    return part


def _pairs(
    series: Mapping[tuple[tuple[str, str], ...], float], **wanted: str
) -> list[tuple[dict[str, str], float]]:
    found = []
    for key, value in sorted(series.items()):
        labels = dict(key)
        if all(labels.get(name) == want for name, want in wanted.items()):
            found.append((labels, value))
    return found


def _cache_hit_rate(recent: list[dict[str, Any]], model: str) -> float | None:
    """Hits among the last minute's cache lookups of ``model`` (from the request log)."""
    looked = [r["cache"] for r in recent if r.get("model") == model and r.get("cache") in ("hit", "miss")]
    return round(looked.count("hit") / len(looked), 4) if looked else None


def key_part(sources: Sources, key: GatewayKey) -> dict[str, Any]:
    spent = sources.spend.get(key.name, Spent()) if sources.spend is not None else None
    budget = key.budget
    return {
        "name": key.name,
        "spend_today_usd": None if spent is None else round(spent.day, 6),
        "spend_month_usd": None if spent is None else round(spent.month, 6),
        "requests_month": None if spent is None else spent.requests,
        "budget_daily_usd": budget.daily if budget else None,
        "budget_monthly_usd": budget.monthly if budget else None,
        "tier": tier_of(budget, spent).value if budget is not None and spent is not None else None,
    }


def gateway_part(sources: Sources) -> dict[str, Any]:
    window, config = sources.window, sources.config
    started = min((board["started"] for board in sources.boards), default=sources.now)
    backend = config.state.backend.value
    up = True
    if backend == "redis":
        up = window.now.total("raceway_state_backend_up", backend="redis") >= 1
    return {
        "version": sources.version,
        "uptime_s": round(sources.now - started, 1),
        "config_hash": config.hash,
        "state_backend": {"kind": backend, "up": up},
        "request_log": {
            "written_total": window.now.total("raceway_request_log_written_total"),
            "dropped_total": window.now.by("raceway_request_log_dropped_total", "reason"),
        },
        "workers": [
            {
                "index": board["index"],
                "pid": board["pid"],
                "started": board["started"],
                "config_hash": board["config_hash"],
                "reload": board["reload"],
                "loop_lag_p95_ms": _ms(
                    window.quantile(0.95, "raceway_event_loop_lag_seconds", worker=str(board["index"]))
                ),
                "loop_lag_mean_ms": _ms(
                    window.mean("raceway_event_loop_lag_seconds", worker=str(board["index"]))
                ),
            }
            for board in sources.boards
        ],
    }
