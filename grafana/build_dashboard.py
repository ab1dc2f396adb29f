"""Builds grafana/dashboards/raceway.json from the panel list below (run after editing it).

    python grafana/build_dashboard.py

Keeping the panels as data makes every PromQL expression easy to check: the tests
validate each one with promtool and run each one against a real Prometheus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "dashboards" / "raceway.json"
RATE = "$__rate_interval"


def quantile(q: str, histogram: str, by: str = "") -> str:
    """The q-th quantile (``q`` as digits: "99") of a histogram over the rate window."""
    group = f"le, {by}" if by else "le"
    return f"histogram_quantile(0.{q}, sum by ({group}) (rate({histogram}_bucket[{RATE}])))"


# (row, title, unit, [(legend, expr)], width)
PANELS: list[tuple[str, str, str, list[tuple[str, str]], int]] = [
    (
        "Traffic",
        "Requests per second by model",
        "reqps",
        [
            (
                "{{model}} {{status_class}}",
                f"sum by (model, status_class) (rate(raceway_requests_total[{RATE}]))",
            ),
        ],
        12,
    ),
    (
        "Traffic",
        "Error ratio by model (non-2xx)",
        "percentunit",
        [
            (
                "{{model}}",
                f'sum by (model) (rate(raceway_requests_total{{status_class!="2xx"}}[{RATE}]))'
                f" / sum by (model) (rate(raceway_requests_total[{RATE}]))",
            ),
        ],
        12,
    ),
    (
        "Traffic",
        "Requests by client dialect and the API that served them (translated when they differ)",
        "reqps",
        [
            (
                "{{dialect}} -> {{upstream_api}}",
                f"sum by (dialect, upstream_api) (rate(raceway_dialect_requests_total[{RATE}]))",
            ),
        ],
        12,
    ),
    (
        "Latency",
        "Request latency p50 / p95 / p99",
        "s",
        [
            (
                f"p{q} {{{{model}}}}",
                quantile(q, "raceway_request_duration_seconds", "model"),
            )
            for q in ("50", "95", "99")
        ],
        8,
    ),
    (
        "Latency",
        "Time to first token p50 / p95",
        "s",
        [
            (
                f"p{q} {{{{model}}}}",
                quantile(q, "raceway_time_to_first_token_seconds", "model"),
            )
            for q in ("50", "95")
        ],
        8,
    ),
    (
        "Latency",
        "Gateway overhead p50 / p99",
        "s",
        [
            (
                f"p{q}",
                quantile(q, "raceway_overhead_seconds"),
            )
            for q in ("50", "99")
        ],
        8,
    ),
    (
        "Upstreams",
        "Upstream latency p95 by deployment",
        "s",
        [
            (
                "{{deployment}}",
                quantile("95", "raceway_upstream_duration_seconds", "deployment"),
            ),
        ],
        8,
    ),
    (
        "Upstreams",
        "Upstream calls by outcome",
        "reqps",
        [
            (
                "{{deployment}} {{outcome}}",
                f"sum by (deployment, outcome) (rate(raceway_upstream_requests_total[{RATE}]))",
            ),
        ],
        8,
    ),
    (
        "Upstreams",
        "Deployment health (0 healthy, 1 half-open, 2 cooled down)",
        "none",
        [
            ("{{deployment}}", "max by (deployment) (raceway_deployment_state)"),
        ],
        8,
    ),
    (
        "Load",
        "Queue depth by deployment",
        "none",
        [
            ("{{deployment}}", "sum by (deployment) (raceway_queue_depth)"),
        ],
        8,
    ),
    (
        "Load",
        "In flight by deployment",
        "none",
        [
            ("{{deployment}}", "sum by (deployment) (raceway_inflight)"),
        ],
        8,
    ),
    (
        "Load",
        "Rejections by deployment and reason",
        "reqps",
        [
            (
                "{{deployment}} {{reason}}",
                f"sum by (deployment, reason) (rate(raceway_rejected_total[{RATE}]))",
            ),
        ],
        8,
    ),
    (
        "Routing",
        "Race and hedge winners",
        "reqps",
        [
            ("{{model}} → {{winner}}", f"sum by (model, winner) (rate(raceway_race_outcomes_total[{RATE}]))"),
        ],
        8,
    ),
    (
        "Routing",
        "Hedged calls",
        "reqps",
        [
            ("{{model}}", f"sum by (model) (rate(raceway_hedges_total[{RATE}]))"),
        ],
        8,
    ),
    (
        "Routing",
        "Fallbacks between model groups",
        "reqps",
        [
            (
                "{{model}}: {{from}} → {{to}}",
                f"sum by (model, from, to) (rate(raceway_fallbacks_total[{RATE}]))",
            ),
        ],
        8,
    ),
    (
        "Runtime",
        "Event loop lag p99 by worker",
        "s",
        [
            (
                "worker {{worker}}",
                quantile("99", "raceway_event_loop_lag_seconds", "worker"),
            ),
        ],
        8,
    ),
    ("Runtime", "Workers up", "none", [("workers", "sum(raceway_workers_up)")], 8),
    (
        "Runtime",
        "Shared state up (Redis; 0 = local fallback)",
        "none",
        [("{{backend}}", "min by (backend) (raceway_state_backend_up)")],
        8,
    ),
    (
        "Runtime",
        "Active config by hash (workers)",
        "none",
        [
            ("{{hash}}", "sum by (hash) (raceway_config_info > 0)"),
        ],
        8,
    ),
    (
        "Runtime",
        "Failed authentications by reason",
        "reqps",
        [
            ("{{reason}}", f"sum by (reason) (rate(raceway_auth_failures_total[{RATE}]))"),
        ],
        8,
    ),
    (
        "Tokens and cost",
        "Tokens per second",
        "short",
        [
            ("{{model}} {{kind}}", f"sum by (model, kind) (rate(raceway_tokens_total[{RATE}]))"),
        ],
        12,
    ),
    (
        "Tokens and cost",
        "Cost per hour (USD)",
        "currencyUSD",
        [
            (
                "{{model}} via {{deployment}}",
                f"sum by (model, deployment) (rate(raceway_cost_usd_total[{RATE}])) * 3600",
            ),
        ],
        12,
    ),
    (
        "Cache and budgets",
        "Cache lookups and coalesced requests",
        "reqps",
        [
            ("{{result}}", f"sum by (result) (rate(raceway_cache_lookups_total[{RATE}]))"),
            ("coalesced", f"sum(rate(raceway_coalesced_requests_total[{RATE}]))"),
        ],
        8,
    ),
    (
        "Cache and budgets",
        "Cache hit ratio",
        "percentunit",
        [
            (
                "hits",
                f'sum(rate(raceway_cache_lookups_total{{result="hit"}}[{RATE}]))'
                f" / sum(rate(raceway_cache_lookups_total[{RATE}]))",
            ),
        ],
        8,
    ),
    (
        "Cache and budgets",
        "Cache size (bytes) and evictions",
        "short",
        [
            ("bytes", "sum(raceway_cache_bytes)"),
            ("evicted/s {{reason}}", f"sum by (reason) (rate(raceway_cache_evictions_total[{RATE}]))"),
        ],
        8,
    ),
    (
        "Cache and budgets",
        "Requests by key and budget tier",
        "reqps",
        [("{{key}} {{tier}}", f"sum by (key, tier) (rate(raceway_budget_requests_total[{RATE}]))")],
        12,
    ),
    (
        "Cache and budgets",
        "Key spend today and this month (USD)",
        "currencyUSD",
        [
            (
                "{{key}} {{period}}",
                "max by (key, period) (raceway_key_spend_usd)",
            ),
        ],
        12,
    ),
    (
        "Prompt cache and affinity",
        "Prompt tokens read from the prompt cache, share by deployment",
        "percentunit",
        [
            (
                "{{deployment}}",
                f'sum by (deployment) (rate(raceway_tokens_total{{kind="cache_read"}}[{RATE}]))'
                f' / sum by (deployment) (rate(raceway_tokens_total{{kind="prompt"}}[{RATE}]))',
            ),
        ],
        8,
    ),
    (
        "Prompt cache and affinity",
        "Affinity: share of turns served by their pinned deployment (hit) and moves",
        "percentunit",
        [
            (
                "hit {{model}}",
                f'sum by (model) (rate(raceway_affinity_total{{result="hit"}}[{RATE}]))'
                f" / sum by (model) (rate(raceway_affinity_total[{RATE}]))",
            ),
            (
                "moved {{model}}",
                f'sum by (model) (rate(raceway_affinity_total{{result="moved"}}[{RATE}]))'
                f" / sum by (model) (rate(raceway_affinity_total[{RATE}]))",
            ),
        ],
        8,
    ),
    (
        "Prompt cache and affinity",
        "Hedges per request (against hedge_budget) and second calls skipped",
        "short",
        [
            (
                "hedged share {{model}}",
                f"sum by (model) (rate(raceway_hedges_total[{RATE}]))"
                f" / sum by (model) (rate(raceway_requests_total[{RATE}]))",
            ),
            (
                "skipped/s {{model}} {{reason}}",
                f"sum by (model, reason) (rate(raceway_hedges_skipped_total[{RATE}]))",
            ),
        ],
        8,
    ),
]


def expressions() -> list[str]:
    return [expr for _, _, _, targets, _ in PANELS for _, expr in targets]


def build() -> dict[str, Any]:
    panels: list[dict[str, Any]] = []
    y = 0
    x = 0
    row_title = None
    panel_id = 1
    for row, title, unit, targets, width in PANELS:
        if row != row_title:
            if x:
                y += 8
                x = 0
            panels.append(
                {
                    "type": "row",
                    "title": row,
                    "id": panel_id,
                    "collapsed": False,
                    "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                }
            )
            panel_id += 1
            y += 1
            row_title = row
        if x + width > 24:
            y += 8
            x = 0
        panels.append(
            {
                "type": "timeseries",
                "title": title,
                "id": panel_id,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": width, "x": x, "y": y},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {
                        "refId": chr(ord("A") + index),
                        "expr": expr,
                        "legendFormat": legend,
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                    }
                    for index, (legend, expr) in enumerate(targets)
                ],
            }
        )
        panel_id += 1
        x += width
    return {
        "title": "Raceway",
        "uid": "raceway-gateway",
        "tags": ["raceway", "llm"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                    "refresh": 1,
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    OUTPUT.parent.mkdir(exist_ok=True)
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT} ({len(PANELS)} panels, {len(expressions())} queries)")
