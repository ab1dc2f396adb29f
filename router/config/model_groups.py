"""The ``models`` and ``routes`` sections as frozen objects: the groups clients ask for (their
strategy, retries, cache, affinity, hedging and resumes) and the routing rules between them.

Parsing them is ``router.config.groups``; what a group's strategy does is ``router.routing.strategies``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class CacheMode(enum.StrEnum):
    """When a model group's answers may be served from the response cache."""

    DETERMINISTIC = "deterministic"  # only requests with temperature 0 (and embeddings)
    ALWAYS = "always"


@dataclass(frozen=True, kw_only=True)
class RetrySettings:
    """After every deployment of a group failed: ``attempts`` more rounds, with backoff."""

    attempts: int = 0
    backoff: float = 0.1  # first wait; doubles each round, with full jitter
    max_backoff: float = 2.0


@dataclass(frozen=True, kw_only=True)
class GroupCache:
    """A model group's use of the response cache."""

    mode: CacheMode = CacheMode.DETERMINISTIC
    ttl: float | None = None  # None: the cache's default
    shared: bool = False  # one namespace for every key (default: each key its own)


@dataclass(frozen=True, kw_only=True)
class Affinity:
    """A model group's sessions keep the deployment that served their last turn (its prompt cache)."""

    ttl: float = 300.0  # how long a pin outlives the session's last request (the provider's cache life)
    header: str = "x-session-id"  # the client's own session header, looked at first


@dataclass(frozen=True, kw_only=True)
class HedgeBudget:
    """How many of a ``hedge`` group's requests over the last minute may start a second call."""

    share: float = 0.1
    minimum: int = 3  # hedges a minute each worker may start whatever the share (a quiet group still hedges)


@dataclass(frozen=True, kw_only=True)
class Resume:
    """A group's streams that break after content continue on another deployment, spliced."""

    max_resumes: int = 2  # continuations one stream may take
    cache: bool = True  # a spliced answer may go into the answer cache (when the group caches)


@dataclass(frozen=True, kw_only=True)
class ModelGroup:
    name: str
    deployments: tuple[str, ...]
    strategy: str = "fallback"  # a ``router.config.strategies.StrategyName``
    hedge_delay: float | None = None  # None: auto (recent p95 latency, at least hedge_min_delay)
    hedge_min_delay: float = 0.05
    max_parallel: int | None = None  # race: all; hedge: 2
    fallbacks: tuple[str, ...] = ()
    retries: RetrySettings = field(default_factory=RetrySettings)
    max_attempts: int = 8  # upstream calls per request, over every round and fallback group
    deadline: float = 300.0  # for the whole request, whatever the retries
    cache: GroupCache | None = None  # None: never cached
    affinity: Affinity | None = None  # None: every turn placed afresh by the strategy
    hedge_budget: HedgeBudget = field(default_factory=HedgeBudget)  # hedge only
    resume: Resume | None = None  # None: a stream that breaks after content ends with an error event


@dataclass(frozen=True, kw_only=True)
class RouteMatch:
    """Conditions of a routing rule; all given ones must hold."""

    model: str | None = None
    tags: frozenset[str] = frozenset()  # any of them in the x-raceway-tags header
    user: str | None = None  # glob on the body's "user" field
    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None


@dataclass(frozen=True, kw_only=True)
class Route:
    name: str
    match: RouteMatch
    to: str
