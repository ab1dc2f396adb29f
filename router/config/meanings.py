"""What every config key means, for the reference page (``router.config.reference``): one entry
per key of each section, keyed as the YAML writes them.

Defaults are not written here: the page shows the model's (``router.config.model``). Words
stand in for a default only where the model has no value to show (``None``, a required key,
a path worked out on the machine). Table cells: no ``|``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


class Unit(enum.Enum):
    """How a default is written: as it is, as a duration (``30s``) or as a size (``10MiB``)."""

    PLAIN = "plain"
    DURATION = "duration"
    SIZE = "size"


@dataclass(frozen=True)
class Key:
    meaning: str
    unit: Unit = Unit.PLAIN
    default: str | None = None  # words for a default the model leaves unset
    note: str = ""  # after the model's default


def _d(meaning: str, default: str | None = None) -> Key:
    return Key(meaning, Unit.DURATION, default)


def _s(meaning: str) -> Key:
    return Key(meaning, Unit.SIZE)


_SAME_AS_KEYS = "(for the whole gateway; each worker enforces its share)"

MEANINGS: Mapping[str, Mapping[str, Key]] = {
    "server": {
        "bind": Key("`HOST:PORT` to listen on (`--bind` overrides)."),
        "workers": Key("worker processes (`--workers` overrides).", default="one per CPU core"),
        "max_body_size": _s("larger request bodies are refused with 413."),
        "body_timeout": _d(
            "a request's whole body must arrive within this long after its headers; a client that "
            "stalls or trickles it gets 408 and its connection is closed."
        ),
        "graceful_timeout": _d(
            "on SIGTERM, how long in-flight requests and streams may take to finish; then requests "
            "still waiting get 503 and streams still running end with an error event."
        ),
        "keep_alive_timeout": _d(
            "idle time before a client connection is closed; also the longest a connection may take "
            "to send a request's headers (hypercorn's timer; h11 caps a head at 16 KiB)."
        ),
        "backlog": Key("listen backlog of each worker's socket."),
        "loop_lag_warning": _d(
            "log a warning when a worker's event loop wakes up this late (`raceway_event_loop_lag_seconds`)."
        ),
        "access_log": Key("one JSON line per request on stdout."),
        "metrics": Key("record Prometheus metrics (switch off only to measure what they cost)."),
        "admin_key": Key(
            "enables `GET /admin/config` and `POST /admin/reload` for `Authorization: Bearer <admin_key>`; "
            "at least 8 characters, prefer `${ENV_VAR}`.",
            default="none (no admin endpoints)",
        ),
        "auth_failures_per_minute": Key(
            "failed authentications allowed per client address and minute; past them the address gets "
            "429 `too_many_auth_failures` with `Retry-After`, whatever key it sends. Each worker "
            "enforces its share. Off by default: behind a proxy every client has the proxy's address.",
            default="none (no limit)",
        ),
        "cors": Key(
            "browser pages on these origins may call the gateway (see `server.cors` below).",
            default="none (no CORS headers; `OPTIONS` is 405)",
        ),
        "request_log": Key(
            "every request's access-log record also kept in a bounded store for the status page and "
            "`GET /status/requests` (`server.request_log` below, [status.md](status.md))."
        ),
        "response_model": Key(
            "what the `model` field of answers says: `upstream`, the upstream's name as it sent it; "
            "`public`, the name the client asked for (JSON answers, every stream chunk, cache replays)."
        ),
        "relay_ratelimit_headers": Key(
            "pass the serving upstream's `x-ratelimit-*` headers on to the client (they describe the "
            "provider account the gateway shares, not the client's own limits)."
        ),
    },
    "server.request_log": {
        "enabled": Key("keep the request log (off: nothing is written, the page shows no recent requests)."),
        "path": Key(
            "the SQLite file all workers of the instance write (local backend; Redis uses a capped stream).",
            default="`$XDG_STATE_HOME/raceway/requests.sqlite3` (`~/.local/state/...`)",
        ),
        "max_rows": Key("records kept; past it the oldest go."),
        "max_age": _d("how long a record is kept."),
        "bodies": Key("keep each request's body too, scrubbed of secrets and key-shaped strings."),
        "max_pending": Key("records a worker holds while its writes lag; past it they are dropped, counted."),
    },
    "server.cors": {
        "origins": Key(
            "`scheme://host[:port]` of each origin allowed, as a browser sends `Origin` (`*`: any). "
            "Preflights from others get 403 `origin_not_allowed`; credentials are never allowed."
        ),
        "max_age": _d("how long a browser may reuse the answer to a preflight."),
    },
    "deployments[]": {
        "name": Key(
            "unique name; models refer to it, metrics and `x-raceway-deployment` show it "
            "(printable ASCII, spaces only inside)."
        ),
        "provider": Key(
            "`fake` (built in); an OpenAI-compatible API (`openai`, `vllm`, `ollama`, `groq`, `together`, "
            "`mistral`, `deepseek`, `fireworks`, `openrouter`, `xai`) or `anthropic`, spoken natively; "
            "or one served through litellm (`gemini`, `vertex_ai`, `bedrock`, `cohere`, `azure`, "
            "`huggingface`)."
        ),
        "model": Key(
            "the upstream's model name; the client's `model` is rewritten to it.",
            default="required (not for `fake`)",
        ),
        "base_url": Key(
            "OpenAI-compatible providers: the API root ending in `/v1`; `anthropic`: the root without "
            "`/v1` (as each SDK takes it); litellm-served providers: litellm's `api_base`.",
            default="the provider's own (required for `vllm`)",
        ),
        "api_key": Key(
            "`${ENV_VAR}` only, never inline; sent as `Authorization: Bearer` (Anthropic: `x-api-key`).",
            default="none",
        ),
        "timeout": _d("the whole upstream call, JSON or stream."),
        "connect_timeout": _d("time to open the upstream connection."),
        "first_chunk_timeout": _d(
            "streams: time from the request to the first content event, headers included "
            "([upstream-timeouts.md](upstream-timeouts.md))."
        ),
        "idle_timeout": _d("native streams, once content has begun: longest silence between two reads."),
        "max_output_tokens": Key(
            "the model's output limit: a translated request's `max_tokens` (and its kin) is clamped "
            "to it ([dialects-clamping.md](dialects-clamping.md)).",
            default="litellm's bundled table, else none",
        ),
        "reasoning": Key(
            "whether the model takes reasoning parameters; `false` drops them (and reasoning history) "
            "from translated requests.",
            default="litellm's bundled table (`supports_reasoning`), else true",
        ),
        "max_response_size": _s(
            "the most a deployment may send: for native providers (the only ones that may set it), "
            "a JSON answer or error body (decoded) or one stream event; for every provider, what a "
            "stream sends before its first content. Past it the call fails, retryable "
            "(`upstream_response_too_large`), and its connection is closed."
        ),
        "max_concurrency": Key(
            "calls in flight at once (each worker its share); more wait in a queue.", default="none (no cap)"
        ),
        "max_queue": Key(
            "requests that may wait for a slot; when full the deployment is skipped (or the answer is "
            "429). Needs `max_concurrency`."
        ),
        "queue_timeout": _d(
            "longest wait for a slot before giving up the same way. Needs `max_concurrency`."
        ),
        "rpm": Key(f"requests per minute {_SAME_AS_KEYS}.", default="none"),
        "tpm": Key(
            f"tokens per minute {_SAME_AS_KEYS}: estimated before the call, corrected with the reported "
            "usage; a request larger than a minute of it is refused.",
            default="none",
        ),
        "limit_wait": _d(
            "how long a request may wait for rate-limit capacity before the deployment counts as saturated."
        ),
        "headers": Key(
            "extra headers sent upstream (values may be `${ENV}`; no line breaks); they win over "
            "forwarded client headers."
        ),
        "max_input_tokens": Key("the context window: longer prompts skip this deployment.", default="none"),
        "weight": Key("share of traffic under `strategy: weighted`."),
        "price": Key(
            "USD per million tokens (`deployments[].price` below), for `strategy: cost` and cost accounting.",
            default="litellm's bundled price table",
        ),
        "cooldown": Key("the circuit breaker (`deployments[].cooldown` below)."),
        "fake": Key(
            "`provider: fake` only: its behaviour (`deployments[].fake` below).",
            default="the fake's defaults",
        ),
        "extra_params": Key(
            "litellm-served providers only: request fields passed on besides the documented ones "
            "(`[top_k]`); names that route or authenticate are refused."
        ),
        "api": Key(
            "the wire API the deployment speaks: `chat`, `responses` (OpenAI-compatible providers may "
            "declare it) or `messages` (`anthropic`'s only one). Other dialects are translated.",
            note="(`messages` for `anthropic`)",
        ),
        "adapter": Key(
            "`litellm` sends a native provider's calls through litellm's adapter instead "
            "(it then speaks `chat`)."
        ),
        "continues": Key(
            "how it can continue a broken stream's partial answer for a group with `resume` "
            "([stream-resume.md](stream-resume.md)): `prefill` (`api: messages`: the text as a final "
            "assistant message), `prefix` (`api: chat` servers that continue a final assistant message: "
            "vLLM's `continue_final_message`, DeepSeek's and Mistral's `prefix: true`) or `none` "
            "(never asked to continue).",
            default="`prefill` for `api: messages`, else `none`",
        ),
    },
    "deployments[].price": {
        "input": Key("USD per million prompt tokens."),
        "output": Key("USD per million completion tokens."),
        "cache_read": Key("USD per million prompt-cache reads.", default="`input`"),
        "cache_write": Key("USD per million prompt-cache writes.", default="`input`"),
    },
    "deployments[].cooldown": {
        "failures": Key("retryable failures within `window` that take the deployment out of rotation."),
        "window": _d("how far back failures count."),
        "duration": _d("how long it stays out; then one request at a time probes it (half-open)."),
        "max_retry_after": _d(
            "the longest a 429's `Retry-After` may take it out (and what clients are told)."
        ),
    },
    "deployments[].fake": {
        "latency": _d("wait before the answer (or a stream's first event)."),
        "chunk_delay": _d("wait between stream events."),
        "reply": Key("fixed answer text.", default="echoes the last user message"),
    },
    "models[]": {
        "name": Key("the public model name clients send."),
        "deployments": Key("the deployments that serve it, in order of preference."),
        "strategy": Key("how to pick and call them: see Strategies below."),
        "hedge_delay": _d(
            "`hedge` only: how long the first call may go unanswered before the next starts.",
            default="auto: the deployment's recent p95 (time to first content for streams), "
            "at least `hedge_min_delay`; until it has 20 samples, the median p95 of the group's "
            "other deployments that have them, else 4 x `hedge_min_delay` (200 ms by default)",
        ),
        "hedge_min_delay": _d("`hedge` only: the floor of the automatic delay."),
        "max_parallel": Key(
            "`race` and `hedge` only: calls in flight at once.", default="race: all; hedge: 2"
        ),
        "fallbacks": Key("other model groups to try, in order, once this one is exhausted."),
        "retries": Key("more rounds once every usable deployment failed (`models[].retries` below)."),
        "max_attempts": Key("upstream calls one request may make in all (rounds, hedges, fallback groups)."),
        "deadline": _d("the whole request's time limit, whatever the retries; past it, 504."),
        "cache": Key(
            "serve repeated requests from the response cache (`models[].cache` below).", default="none"
        ),
        "affinity": Key(
            "keep each session on the deployment that served its last turn, where its prompt cache is "
            "warm (`models[].affinity` below, [affinity.md](affinity.md)).",
            default="none: every turn placed afresh",
        ),
        "hedge_budget": Key(
            "`hedge` only: how many requests over the last minute may start a second call "
            "(`models[].hedge_budget` below)."
        ),
        "resume": Key(
            "a stream that breaks after content (text, or between complete tool calls) continues on "
            "another deployment that can, of the group or its fallbacks "
            "(`models[].resume` below, [stream-resume.md](stream-resume.md)).",
            default="none: it ends with the error event",
        ),
    },
    "models[].resume": {
        "max_resumes": Key(
            "continuations one stream may take before it ends with the error event (they count "
            "against `max_attempts` too)."
        ),
        "cache": Key(
            "whether a spliced answer (one a continuation completed) may be stored in the answer "
            "cache when the group caches; `false` keeps only unbroken answers."
        ),
    },
    "models[].affinity": {
        "ttl": _d("how long a pin outlives the session's last request (the provider's cache lifetime)."),
        "header": Key("the client's own session header, looked at before the agents' and the body's keys."),
    },
    "models[].hedge_budget": {
        "share": Key("the share of the group's requests over the last minute that may start a second call."),
        "minimum": Key("second calls a minute each worker may start whatever the share."),
    },
    "models[].retries": {
        "attempts": Key("rounds after the first."),
        "backoff": _d("before round n, a random wait up to `backoff * 2^(n-1)`."),
        "max_backoff": _d("the cap of that wait."),
    },
    "models[].cache": {
        "mode": Key(
            "`deterministic`: only requests with `temperature: 0` (and embeddings); `always`: every one."
        ),
        "ttl": _d("how long an answer stays.", default="`cache.ttl`"),
        "shared": Key("one namespace for every key (otherwise each key sees only its own entries)."),
    },
    "routes[]": {
        "name": Key("the rule's name (in logs)."),
        "match": Key("the conditions, all of which must hold (`routes[].match` below)."),
        "to": Key("the model group that serves matching requests."),
    },
    "routes[].match": {
        "model": Key("the requested model.", default="any"),
        "tags": Key("any of these in the comma-separated `x-raceway-tags` request header."),
        "user": Key('a glob on the body\'s `user` field, e.g. `"batch-*"`.', default="any"),
        "min_prompt_tokens": Key(
            "the estimated prompt (about 4 characters a token) at least this long.", default="none"
        ),
        "max_prompt_tokens": Key("the estimated prompt at most this long.", default="none"),
    },
    "keys[]": {
        "name": Key("who the key belongs to (logs and metrics show it, never the key)."),
        "key": Key(
            "the key, at least 8 characters; prefer `${ENV_VAR}`.", default="one of `key`, `key_sha256`"
        ),
        "key_sha256": Key(
            "the key's SHA-256 in hex, so the config holds no secret (`raceway keys create` prints it).",
            default="one of `key`, `key_sha256`",
        ),
        "models": Key("the public models this key may use.", default="all"),
        "allow_override": Key("may pin a deployment with the `x-raceway-deployment` header."),
        "rpm": Key(
            f"the key's own requests per minute {_SAME_AS_KEYS}; over it, 429 at once.", default="none"
        ),
        "tpm": Key(f"the key's own tokens per minute {_SAME_AS_KEYS}.", default="none"),
        "budget": Key(
            "spending limits and where requests go near them (`keys[].budget` below).", default="none"
        ),
    },
    "keys[].budget": {
        "daily": Key("USD per UTC day (one of `daily`, `monthly` at least).", default="none"),
        "monthly": Key("USD per UTC month.", default="none"),
        "near": Key("from this fraction of a limit on, requests go to `downgrade_to`."),
        "downgrade_to": Key("a cheaper model group for the `near` tier.", default="none (route normally)"),
        "exceeded_to": Key("the model group once a budget is spent.", default="none (429 `budget_exceeded`)"),
    },
    "cache": {
        "max_entries": Key("answers each worker's cache holds (over all instances with Redis)."),
        "max_bytes": _s("bytes it holds; past a bound the least recently used entries go."),
        "ttl": _d("how long an answer stays, unless its group says otherwise."),
    },
    "state": {
        "backend": Key(
            "`local`: per-worker limits, cache and coalescing, an SQLite ledger; `redis`: shared."
        ),
        "url": Key(
            "with `backend: redis`: `redis://[:password@]host:port/db` (or `rediss://`, `unix://`); "
            "usually `${RACEWAY_REDIS_URL}`.",
            default="required with `redis`",
        ),
        "prefix": Key("of every Redis key, so several gateways can share one Redis."),
        "ledger": Key(
            "the spend ledger's file (local backend); opened only when keys exist.",
            default="`$XDG_STATE_HOME/raceway/ledger.sqlite3` (`~/.local/state/...`)",
        ),
        "sync_interval": _d("how often a worker writes its spend and reads everyone's."),
        "cooldown_poll": _d("redis backend: how often a worker looks for cooldowns announced elsewhere."),
        "timeout": _d(
            "redis backend: how long a connection or command may take; past it that worker serves "
            "with local state for a second."
        ),
    },
    "telemetry.traces": {
        "endpoint": Key(
            "the collector (OTLP/HTTP): a base URL gets `/v1/traces` appended; a URL ending in it "
            "is used as is.",
            default="`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT`, "
            "else `http://localhost:4318`",
        ),
        "protocol": Key("the only one installed (the gRPC exporter would add grpcio)."),
        "sample_ratio": Key(
            "share of requests traced, 0 to 1, when the client sent no `traceparent` "
            "(its sampled flag decides)."
        ),
        "headers": Key(
            "sent to the collector only (values may be `${ENV}`).",
            note="(else `OTEL_EXPORTER_OTLP_*HEADERS`)",
        ),
        "timeout": _d("of one export request.", default="`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, else 10 s"),
        "capture_content": Key(
            "put prompts (`gen_ai.input.messages`) and JSON answers' completions (`gen_ai.output.messages`) "
            "on the attempt spans."
        ),
    },
}
