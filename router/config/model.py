"""The gateway's configuration as frozen, typed objects: ``GatewayConfig`` and its ``server``,
``deployments``, ``cache`` and ``state`` sections. The other sections have modules of their own:
``models`` and ``routes`` (``model_groups``), ``keys`` (``gateway_keys``), ``telemetry``.

Reading and validating YAML into them is ``router.config.load`` (with ``reader``): every
problem is collected with its key path (``deployments[1].timeout: ...``), unknown keys
are errors, and secrets come only from ``${ENV}`` references.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from router.config.gateway_keys import GatewayKey
from router.config.model_groups import ModelGroup, Route
from router.config.secret import Secret
from router.config.telemetry import TelemetrySettings
from router.wire.dialect import Dialect

# Providers Raceway calls itself over pooled aiohttp, with their default base URL: OpenAI-compatible
# APIs (the base URL ends in ``/v1``, as the openai SDK's does), Anthropic and Google's Gemini API
# (without a version, as their SDKs take it).
NATIVE_PROVIDERS: Mapping[str, str | None] = {
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "openai": "https://api.openai.com/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral": "https://api.mistral.ai/v1",
    "ollama": "http://127.0.0.1:11434/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "together": "https://api.together.xyz/v1",
    "vllm": None,
    "xai": "https://api.x.ai/v1",
}
# Providers whose wire format Raceway does not speak itself: served through litellm.
LITELLM_PROVIDERS = frozenset({"azure", "bedrock", "cohere", "vertex_ai", "huggingface"})
FAKE_PROVIDER = "fake"


class Continues(enum.StrEnum):
    """How a deployment can be asked to continue a partial answer of its own (a broken stream's
    resume target, ``router.dispatch.resume``)."""

    PREFILL = "prefill"  # Anthropic Messages: the partial text as a final assistant message
    # OpenAI-compatible servers that continue a final assistant message: vLLM's
    # ``continue_final_message`` (DeepSeek and Mistral: ``prefix: true`` on that message)
    PREFIX = "prefix"
    NONE = "none"  # cannot continue exactly: never a resume target


# Providers whose prefix continuation is the message's ``prefix: true`` (the others: vLLM's flags).
PREFIX_ON_MESSAGE = frozenset({"deepseek", "mistral"})


class Adapter(enum.StrEnum):
    """Who speaks to a native provider: Raceway itself, or litellm's adapter."""

    NATIVE = "native"
    LITELLM = "litellm"


# The wire APIs a deployment may declare, by provider: the first is its default.
WIRE_APIS: Mapping[str, tuple[Dialect, ...]] = {
    "anthropic": (Dialect.MESSAGES,),
    "gemini": (Dialect.GEMINI,),
    **{
        name: (Dialect.CHAT, Dialect.RESPONSES)
        for name in NATIVE_PROVIDERS
        if name not in ("anthropic", "gemini")
    },
}


class ResponseModel(enum.StrEnum):
    """The ``model`` of answers: the upstream's, as it sent it, or the public name asked for."""

    UPSTREAM = "upstream"
    PUBLIC = "public"


# What the ``model`` field of an answer says: the upstream's name, or the one the client asked for.


class ConfigError(Exception):
    """The config is invalid; ``problems`` lists each one as ``key.path: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class CorsSettings:
    """Browsers on these origins may call the gateway (``*``: any origin)."""

    origins: tuple[str, ...]  # scheme://host[:port], as a browser sends them in Origin
    max_age: float = 600.0  # how long a browser may reuse the answer to a preflight


def _default_request_log() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state_home) / "raceway" / "requests.sqlite3"


@dataclass(frozen=True, kw_only=True)
class RequestLogSettings:
    """Every request's access-log record also kept in a bounded store, for ``GET /status/requests``
    and the status page: the SQLite file at ``path`` (shared by the instance's workers), or a
    capped Redis stream with ``state.backend: redis``; written off the request path in batches."""

    enabled: bool = True
    path: Path = field(default_factory=_default_request_log)
    max_rows: int = 100_000
    max_age: float = 7 * 86400.0
    bodies: bool = False  # keep each request's body too (scrubbed of secrets and key-shaped strings)
    max_pending: int = 10_000  # records a worker holds while its writes lag; past it they are dropped


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    bind: str = "127.0.0.1:8080"
    workers: int | None = None  # None: one per CPU core
    max_body_size: int = 10 * 1024 * 1024
    body_timeout: float = 30.0  # from a request's headers to the end of its body
    graceful_timeout: float = 30.0
    keep_alive_timeout: float = 75.0
    backlog: int = 2048
    loop_lag_warning: float = 0.1  # log a warning when the event loop wakes up this late
    access_log: bool = True  # one JSON line per request on stdout
    metrics: bool = True  # record Prometheus metrics (off only to measure their cost)
    admin_key: Secret | None = None  # enables /admin/config and /admin/reload
    # Failed authentications allowed per client address and minute (None: no limit); past
    # them, the address is refused with 429 until it falls back under the limit.
    auth_failures_per_minute: int | None = None
    cors: CorsSettings | None = None  # None: no CORS headers, OPTIONS is 405
    # The ``model`` of answers: the upstream's (as it sent it) or the public name the client asked for.
    response_model: ResponseModel = ResponseModel.UPSTREAM
    relay_ratelimit_headers: bool = False  # pass the serving upstream's x-ratelimit-* to the client
    request_log: RequestLogSettings = field(default_factory=RequestLogSettings)


@dataclass(frozen=True, kw_only=True)
class FakeSettings:
    """Behaviour of the built-in in-process fake provider."""

    latency: float = 0.0
    chunk_delay: float = 0.0
    reply: str | None = None  # None: echo the last user message


@dataclass(frozen=True, kw_only=True)
class CooldownSettings:
    """Circuit breaker: ``failures`` within ``window`` cool a deployment down for ``duration``.

    A 429's ``Retry-After`` cools it down that long at once, but never longer than
    ``max_retry_after``: then it is probed again, whatever the upstream asked for."""

    failures: int = 3
    window: float = 30.0
    duration: float = 30.0
    max_retry_after: float = 60.0


@dataclass(frozen=True, kw_only=True)
class Price:
    """USD per million tokens; prompt-cache reads and writes at ``input`` unless given."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Per-deployment admission: a concurrency cap with a bounded queue, and rate limits.

    Rate limits are for the whole gateway; each of the N workers enforces 1/N of them.
    """

    max_concurrency: int | None = None  # None: no cap
    max_queue: int = 0  # requests that may wait for a slot
    queue_timeout: float = 30.0
    rpm: int | None = None
    tpm: int | None = None
    limit_wait: float = 0.0  # how long a request may wait for rate-limit capacity


@dataclass(frozen=True, kw_only=True)
class Deployment:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key: Secret | None = None
    # Each timer governs its own phase of a call (``router.providers.http``).
    timeout: float = 120.0  # the whole call, JSON or stream
    connect_timeout: float = 5.0
    first_chunk_timeout: float = 60.0  # streams: until the headers and the first content
    idle_timeout: float = 30.0  # native streams, once content has begun: longest silence between chunks
    # Native providers: the largest answer read (JSON or error body, decoded) or stream event;
    # every provider: the most a stream may send before its first content.
    max_response_size: int = 32 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    headers: Mapping[str, Secret] = field(default_factory=dict)
    max_input_tokens: int | None = None
    # What its model accepts, for requests translated from another dialect (a request in the
    # deployment's own wire API goes as the client sent it). ``max_output_tokens``: the output
    # token fields above it are clamped to it; None: litellm's table's, if it knows the model.
    max_output_tokens: int | None = None
    # Whether the model takes reasoning parameters (reasoning_effort, thinking, reasoning) and
    # reasoning in its history; None: the table's supports_reasoning when it knows the model
    # (without it: false), else true.
    reasoning: bool | None = None
    weight: float = 1.0
    price: Price | None = None  # None: litellm's bundled price table
    cooldown: CooldownSettings = field(default_factory=CooldownSettings)
    fake: FakeSettings | None = None
    # litellm-served only: provider-specific request fields passed on besides the documented ones.
    extra_params: frozenset[str] = frozenset()
    api: Dialect = Dialect.CHAT  # the wire API it speaks (see ``WIRE_APIS``)
    # A native provider may be reached through litellm's adapter instead (it then speaks chat).
    adapter: Adapter = Adapter.NATIVE
    # How it continues a partial answer; None: its wire API's default (``prefill`` for ``messages``,
    # else ``none``: plain OpenAI cannot continue an assistant message exactly).
    continues: Continues | None = None

    @property
    def continuation(self) -> Continues:
        """How it continues a partial answer, declared or by default."""
        if self.continues is not None:
            return self.continues
        return Continues.PREFILL if self.api is Dialect.MESSAGES else Continues.NONE

    @property
    def is_native(self) -> bool:
        return self.provider in NATIVE_PROVIDERS and self.adapter is Adapter.NATIVE

    @property
    def uses_litellm(self) -> bool:
        return self.provider in LITELLM_PROVIDERS or self.adapter is Adapter.LITELLM


@dataclass(frozen=True, kw_only=True)
class CacheSettings:
    """The response cache of each worker: bounded by entries and bytes, entries expire after ``ttl``."""

    max_entries: int = 10_000
    max_bytes: int = 256 * 1024 * 1024
    ttl: float = 3600.0


def _default_ledger() -> Path:
    state_home = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state_home) / "raceway" / "ledger.sqlite3"


class BackendKind(enum.StrEnum):
    """Where state shared beyond one worker lives (see ``StateSettings``)."""

    LOCAL = "local"
    REDIS = "redis"


@dataclass(frozen=True, kw_only=True)
class StateSettings:
    """Where state shared beyond one worker lives.

    ``local`` (the default): each worker enforces its share of every rate limit, caches and
    coalesces on its own, and spend goes to an SQLite ledger shared by the machine's
    workers. ``redis``: rate limits, cooldowns, the response cache, coalescing and spend
    are shared by every worker of every instance through Redis at ``url``, with the local
    behaviour as the fallback whenever Redis cannot be reached.
    """

    backend: BackendKind = BackendKind.LOCAL
    url: Secret | None = None  # redis://[:password@]host:port/db, usually ${RACEWAY_REDIS_URL}
    prefix: str = "raceway"  # of every Redis key, so gateways can share one Redis
    ledger: Path = field(default_factory=_default_ledger)
    # How often a worker writes the spend it recorded and reads back every worker's total.
    sync_interval: float = 0.25
    # How often a worker looks for cooldowns announced by others (redis backend).
    cooldown_poll: float = 0.5
    # How long a Redis connection or command may take before that worker serves locally.
    timeout: float = 0.25


@dataclass(frozen=True, kw_only=True)
class GatewayConfig:
    server: ServerSettings
    deployments: Mapping[str, Deployment]
    models: Mapping[str, ModelGroup]
    keys: tuple[GatewayKey, ...]
    hash: str
    routes: tuple[Route, ...] = ()
    cache: CacheSettings = field(default_factory=CacheSettings)
    state: StateSettings = field(default_factory=StateSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)

    @property
    def needs_litellm(self) -> bool:
        return any(d.uses_litellm for d in self.deployments.values())

    def served_by(self, group: ModelGroup) -> tuple[ModelGroup, ...]:
        """The groups a request for ``group`` may be served by, in the order they are tried: the
        group itself, then its ``fallbacks`` (each one a group: the config's validation sees to it)."""
        return (group, *(self.models[name] for name in group.fallbacks))

    def secrets(self) -> Iterator[str]:
        """Every secret value in the config, to scrub from anything shown to clients."""
        for deployment in self.deployments.values():
            if deployment.api_key is not None:
                yield deployment.api_key.reveal()
            for value in deployment.headers.values():
                yield value.reveal()
        for key in self.keys:
            if key.secret is not None:
                yield key.secret.reveal()
        if self.state.url is not None:
            yield self.state.url.reveal()
