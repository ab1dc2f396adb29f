"""The gateway snapshot: what building one (at start, and at each reload) sets up in the metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from router.config.load import parse_config
from router.dispatch.attempt import outcome_label
from router.errors import Saturated, UpstreamError, UpstreamRateLimited, UpstreamRejected, UpstreamTimeout
from router.runtime.gateway import Gateway
from router.telemetry.labels import StreamOutcome, UpstreamOutcome
from router.telemetry.metrics import Metrics

CONFIG = b"""
deployments:
  - {name: a, provider: fake}
  - {name: b, provider: fake, max_concurrency: 2, max_queue: 1}
  - {name: c, provider: fake, rpm: 60}
models:
  - {name: chat, deployments: [a, b], strategy: hedge, fallbacks: [spare]}
  - {name: spare, deployments: [c], cache: {mode: always}}
keys:
  - {name: team, key: team-key-123, rpm: 10, budget: {daily: 5}}
"""


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_every_series_of_the_config_exists_at_zero_before_any_request() -> None:
    registry = CollectorRegistry()
    gateway = Gateway.build(parse_config(CONFIG, {}), Metrics(registry))
    try:
        for deployment in ("a", "b", "c"):
            assert sample(registry, "raceway_queue_depth", deployment=deployment) == 0
            assert sample(registry, "raceway_inflight", deployment=deployment) == 0
            assert sample(registry, "raceway_deployment_state", deployment=deployment) == 0
            assert sample(registry, "raceway_retries_total", deployment=deployment) == 0
            assert sample(registry, "raceway_upstream_duration_seconds_count", deployment=deployment) == 0
            for outcome in UpstreamOutcome:
                labels = {"deployment": deployment, "outcome": outcome}
                assert sample(registry, "raceway_upstream_requests_total", **labels) == 0
        assert sample(registry, "raceway_queue_wait_seconds_count", deployment="b") == 0
        assert sample(registry, "raceway_rejected_total", deployment="b", reason="queue_full") == 0
        assert sample(registry, "raceway_rejected_total", deployment="c", reason="rate_limited") == 0
        assert sample(registry, "raceway_rejected_total", deployment="a", reason="queue_full") is None
        for model in ("chat", "spare"):
            assert sample(registry, "raceway_requests_total", model=model, status_class="2xx") == 0
            assert sample(registry, "raceway_request_duration_seconds_count", model=model) == 0
        assert sample(registry, "raceway_tokens_total", model="chat", deployment="c", kind="prompt") == 0
        assert sample(registry, "raceway_cost_usd_total", model="chat", deployment="a") == 0
        assert (
            sample(registry, "raceway_fallbacks_total", model="chat", **{"from": "chat", "to": "spare"}) == 0
        )
        assert sample(registry, "raceway_race_outcomes_total", model="chat", winner="b") == 0
        assert sample(registry, "raceway_hedges_total", model="chat") == 0
        assert sample(registry, "raceway_coalesced_requests_total", model="spare") == 0
        assert sample(registry, "raceway_cache_lookups_total", result="hit") == 0
        assert sample(registry, "raceway_key_rejected_total", key="team", reason="rate_limited") == 0
        assert sample(registry, "raceway_budget_requests_total", key="team", tier="near") == 0
        assert sample(registry, "raceway_key_spend_usd", key="team", period="day") == 0
    finally:
        await gateway.close()


async def test_a_reload_declares_what_it_adds_and_keeps_what_was_counted() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    gateway = Gateway.build(parse_config(CONFIG, {}), metrics)
    metrics.queue_depth.labels("b").inc()
    metrics.upstream_requests.labels("a", "success").inc(3)
    changed = CONFIG.replace(
        b"models:", b"  - {name: d, provider: fake}\nmodels:\n  - {name: new, deployments: [d]}"
    )
    successor, _ = gateway.successor(parse_config(changed, {}), metrics)
    try:
        assert sample(registry, "raceway_queue_depth", deployment="d") == 0
        assert sample(registry, "raceway_requests_total", model="new", status_class="5xx") == 0
        assert sample(registry, "raceway_queue_depth", deployment="b") == 1
        assert sample(registry, "raceway_upstream_requests_total", deployment="a", outcome="success") == 3
    finally:
        await successor.close()


def test_every_upstream_outcome_the_dispatcher_records_is_declared() -> None:
    errors = [
        Saturated("full", reason="queue_full"),
        UpstreamTimeout("slow"),
        UpstreamRateLimited("429"),
        UpstreamRejected("400", status=400),
        UpstreamError("refused", code="upstream_connect_error"),
        UpstreamError("500"),
    ]
    recorded = {outcome_label(error) for error in errors} | {o.upstream_label for o in StreamOutcome}
    assert recorded | {"cancelled"} <= set(UpstreamOutcome)
