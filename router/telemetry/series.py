"""Every series a config can have, created at 0 when a worker starts serving it and at each
reload: the config's names, and beside them every value of their labels' enums
(``router.telemetry.labels``, and the routing's own: tiers, affinity results, cache statuses).
"""

from __future__ import annotations

import itertools

from router.answers.cache import CacheStatus
from router.config.model import GatewayConfig
from router.config.strategies import Pacing, pacing_of
from router.limits import QUEUE_REASONS, RATE_LIMIT_REASONS
from router.routing.budgets import Tier
from router.routing.sessions import AffinityResult
from router.telemetry.labels import Eviction, HedgeSkip, SpendPeriod, StatusClass, TokenKind, UpstreamOutcome
from router.telemetry.metrics import Metrics


def declare_series(config: GatewayConfig, metrics: Metrics) -> None:
    """Create, at 0, every series that ``config``'s deployments, models and keys can have.

    Prometheus cannot tell a series that stayed at 0 from one that does not exist, so without
    this a dashboard shows "No data" until the first request of each kind. ``labels()`` only
    creates: a series that exists already (an unchanged deployment's, across a reload) keeps
    its value. Series of what a config no longer names stay until the worker restarts (a
    counter must not go back, and prometheus-client's multiprocess files cannot drop one).
    """
    for deployment in config.deployments.values():
        name, limits = deployment.name, deployment.limits
        for gauge in (metrics.inflight, metrics.queue_depth, metrics.deployment_state):
            gauge.labels(name)
        for histogram in (metrics.upstream_duration, metrics.upstream_first_chunk):
            histogram.labels(name)
        metrics.retries.labels(name)
        for outcome in UpstreamOutcome:
            metrics.upstream_requests.labels(name, outcome)
        if limits.max_concurrency is not None:
            metrics.queue_wait.labels(name)
            for reason in QUEUE_REASONS:
                metrics.rejected.labels(name, reason)
        if limits.rpm is not None or limits.tpm is not None:
            for reason in RATE_LIMIT_REASONS:
                metrics.rejected.labels(name, reason)
    for group in config.models.values():
        name = group.name
        for status_class in StatusClass:
            metrics.requests.labels(name, status_class)
        for histogram in (metrics.request_duration, metrics.first_token):
            histogram.labels(name)
        chain = config.served_by(group)
        for served_by in chain:  # what a request for ``name`` can be served by, without routing rules
            for member in served_by.deployments:
                for kind in TokenKind:
                    metrics.tokens.labels(name, member, kind)
                metrics.cost.labels(name, member)
        for previous, following in itertools.pairwise(chain):
            metrics.fallbacks.labels(name, previous.name, following.name)
        pacing = pacing_of(group.strategy)
        if pacing.fans_out:
            for member in group.deployments:
                metrics.race_outcomes.labels(name, member)
        if pacing is Pacing.STAGGERED:
            metrics.hedges.labels(name)
            for skip in HedgeSkip:
                metrics.hedges_skipped.labels(name, skip)
        elif pacing is Pacing.ALL_AT_ONCE and group.affinity is not None:
            metrics.hedges_skipped.labels(name, HedgeSkip.WARM)
        if group.affinity is not None:
            for placed in (AffinityResult.HIT, AffinityResult.NEW, AffinityResult.MOVED):
                metrics.affinity.labels(name, placed)
        if group.cache is not None:
            metrics.coalesced.labels(name)
    if any(group.cache is not None for group in config.models.values()):
        for result in (CacheStatus.HIT, CacheStatus.MISS):
            metrics.cache_lookups.labels(result)
        for eviction in Eviction:
            metrics.cache_evictions.labels(eviction)
    for key in config.keys:
        if key.rpm is not None or key.tpm is not None:
            for reason in RATE_LIMIT_REASONS:
                metrics.key_rejected.labels(key.name, reason)
        if key.budget is not None:
            for tier in Tier:
                metrics.budget_requests.labels(key.name, tier)
            for period in SpendPeriod:
                metrics.key_spend.labels(key.name, period)
