"""The API endpoints that carry traffic, from the request's body to its answer (JSON, a stream,
or a replay from the cache), in the client's own dialect: Chat Completions, embeddings,
Anthropic Messages (and its ``count_tokens``), the Responses API and legacy Completions (and,
through ``router.http.gemini``, whose endpoints depend on the path, Gemini's ``generateContent``).

Every endpoint takes the same path (``_serve``): authentication, the body read and checked,
routing, budgets, limits, the cache; only the ``Endpoint`` differs — how its body is checked,
what its answers look like (``WireFormat``), and how a deployment is called (``Call``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from router.answers.cache import CachedAnswer, CachePlan, plan_for
from router.answers.reuse import Keeper, ground, look_up
from router.config.gateway_keys import GatewayKey
from router.config.model import GatewayConfig, ResponseModel
from router.dispatch.completion import EMBEDDINGS, Answers, Call
from router.dispatch.preparation import Conversation, CountTokens, Embeddings, GeminiCountTokens, prepared
from router.errors import BudgetExceeded, GatewayError, Saturated, ShuttingDown
from router.http.answering import completed, decision_headers, replayed, streaming, wants_usage
from router.http.bodies import drop_body, read_body
from router.http.connection import while_connected
from router.http.dialect_validation import (
    completions_request,
    count_tokens_request,
    messages_request,
    responses_request,
)
from router.http.renaming import PublicModelName
from router.http.responses import SSEResponse, error_response
from router.http.validation import chat_request, embeddings_request
from router.providers.litellm_params import CHAT, Surface
from router.providers.litellm_params import EMBEDDINGS as EMBEDDINGS_SURFACE
from router.routing.budgets import KeyBudget, Tier, steer
from router.routing.rules import RoutedRequest, route
from router.routing.sessions import session_of
from router.runtime.drain import DrainEnded
from router.runtime.gateway import Gateway
from router.runtime.worker import worker_of
from router.telemetry.exchange import Exchange, request_id_from
from router.telemetry.labels import UpstreamApi
from router.telemetry.metrics import Metrics
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS, WireFormat

T = TypeVar("T")

_BIG_BODY = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What differs between the endpoints that carry traffic."""

    dialect: Dialect  # of its requests, answers and errors
    parse: Callable[[bytes], tuple[str, dict[str, Any]]]  # (model, body), or InvalidRequest
    # The fields litellm may get (chat's and embeddings' own; the translators write only
    # documented chat fields for the other dialects).
    surface: Surface | None = None
    streams: bool = True
    embeddings: bool = False
    count_tokens: bool = False
    # The gateway key where the dialect's clients put it besides the bearer and x-api-key headers.
    api_key: Callable[[Request], str | None] | None = None
    # The endpoint in cache keys when its path varies by request (Gemini's names the model).
    cache_path: str | None = None

    @property
    def wire_format(self) -> WireFormat:
        return FORMATS[self.dialect]

    @property
    def answers(self) -> Answers:
        if self.embeddings:
            return EMBEDDINGS
        if self.count_tokens:
            return _GEMINI_TOKEN_COUNTS if self.dialect is Dialect.GEMINI else _TOKEN_COUNTS
        return self.wire_format

    def call(self, body: dict[str, Any]) -> Call:
        if self.embeddings:
            return Embeddings(body)
        if self.count_tokens:
            return GeminiCountTokens(body) if self.dialect is Dialect.GEMINI else CountTokens(body)
        return Conversation(self.dialect, body)


class _TokenCounts:
    described = "a token count"

    def holds_answer(self, document: Any) -> bool:
        return isinstance(document, dict) and isinstance(document.get("input_tokens"), int)

    def answer_usage(self, document: Any) -> None:
        return None


_TOKEN_COUNTS = _TokenCounts()


class _GeminiTokenCounts(_TokenCounts):
    def holds_answer(self, document: Any) -> bool:
        return isinstance(document, dict) and isinstance(document.get("totalTokens"), int)


_GEMINI_TOKEN_COUNTS = _GeminiTokenCounts()

CHAT_ENDPOINT = Endpoint(Dialect.CHAT, chat_request, CHAT)
EMBEDDINGS_ENDPOINT = Endpoint(
    Dialect.CHAT, embeddings_request, EMBEDDINGS_SURFACE, streams=False, embeddings=True
)
MESSAGES_ENDPOINT = Endpoint(Dialect.MESSAGES, messages_request)
COUNT_TOKENS_ENDPOINT = Endpoint(Dialect.MESSAGES, count_tokens_request, streams=False, count_tokens=True)
RESPONSES_ENDPOINT = Endpoint(Dialect.RESPONSES, responses_request)
COMPLETIONS_ENDPOINT = Endpoint(Dialect.COMPLETIONS, completions_request)


def _served(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response | SSEResponse]]:
    """The route handler of an endpoint that its path alone names."""

    async def handler(request: Request) -> Response | SSEResponse:
        return await _serve(request, endpoint)

    return handler


chat_completions = _served(CHAT_ENDPOINT)
embeddings = _served(EMBEDDINGS_ENDPOINT)
messages = _served(MESSAGES_ENDPOINT)
count_tokens = _served(COUNT_TOKENS_ENDPOINT)
responses = _served(RESPONSES_ENDPOINT)
completions = _served(COMPLETIONS_ENDPOINT)


async def _serve(request: Request, endpoint: Endpoint) -> Response | SSEResponse:
    worker = worker_of(request)
    gateway, recorder = worker.gateway, worker.recorder
    path = request.scope["path"]  # not request.url: building the URL costs ~4 µs a request
    exchange = Exchange(request_id_from(request.headers.get("x-request-id")), path)
    exchange.dialect = "embeddings" if endpoint.embeddings else endpoint.dialect
    exchange.trace = worker.tracing.begin(request.headers, exchange.request_id, exchange.path)
    body_read = False  # an answer sent before the whole body came closes the connection under it
    try:
        server = gateway.config.server
        headers = request.headers
        try:
            api_key = headers.get("x-api-key") or (endpoint.api_key(request) if endpoint.api_key else None)
            key = gateway.keyring.authenticate(headers.get("authorization"), request.scope, api_key=api_key)
        except GatewayError:  # refused: the body is read all the same, and dropped as it comes
            body_read = await drop_body(request, server.max_body_size, server.body_timeout, worker.deadlines)
            raise
        exchange.key = key.name if key else None
        raw = await read_body(request, server.max_body_size, server.body_timeout, worker.deadlines)
        body_read = True
        # Parsing megabytes of JSON takes milliseconds: keep it off the event loop.
        parse = endpoint.parse
        model, body = await asyncio.to_thread(parse, raw) if len(raw) > _BIG_BODY else parse(raw)
        exchange.trace.request_body(body)
        routed = route(
            gateway.config, model, body, key, headers, anthropic_client=endpoint.dialect is Dialect.MESSAGES
        )
        exchange.model = routed.requested
        if key is not None and key.budget is not None:
            routed = _steer_by_budget(gateway, exchange, routed, key)
        if not (endpoint.embeddings or endpoint.count_tokens):
            routed = _with_session(gateway.config, routed, endpoint.dialect, headers, body, exchange)
        if endpoint.surface is not None:
            gateway.litellm_fields.check(routed.group.name, routed.pinned, body, endpoint.surface)
        await _admit_key(gateway, worker.metrics, key, routed.prompt_tokens)
        exchange.stream = endpoint.streams and routed.stream
        plan = plan_for(
            routed,
            endpoint.cache_path or exchange.path,
            body,
            key,
            headers.get("cache-control"),
            gateway.config.cache.ttl,
        )
        exchange.cache = plan.status
        return await _answer(request, gateway, exchange, routed, body, plan, endpoint, key)
    except GatewayError as exc:
        exchange.failed(exc)
        recorder.finish(exchange, exc.status_code)
        response = error_response(exc, endpoint.dialect)
        response.headers["x-request-id"] = exchange.request_id
        response.headers.update(decision_headers(exchange))
        if not body_read:  # the rest of the body is not read: the connection cannot carry another request
            response.headers["connection"] = "close"
        return response


serve = _serve  # for the endpoints that depend on the path (``router.http.gemini``)


async def _answer(
    request: Request,
    gateway: Gateway,
    exchange: Exchange,
    routed: RoutedRequest,
    body: dict[str, Any],
    plan: CachePlan,
    endpoint: Endpoint,
    key: GatewayKey | None,
) -> Response | SSEResponse:
    """From the cache, from an identical request's call, or from upstream (and then into the cache);
    a stream that breaks asks ``key``'s budget again before it is continued."""
    worker = worker_of(request)
    recorder = worker.recorder
    rename = (
        PublicModelName(exchange.model)
        if gateway.config.server.response_model is ResponseModel.PUBLIC
        else None
    )
    flight = None
    if plan.read:
        found = await unless_disconnected(request, look_up(gateway, plan, exchange, routed.group.deadline))
        if isinstance(found, CachedAnswer):
            return replayed(recorder, exchange, found, body, endpoint.dialect, worker.drain, rename)
        flight = found
    dispatcher = gateway.dispatcher
    try:
        if exchange.stream:
            upstream_body = body
            if endpoint.dialect is Dialect.CHAT:  # the usage chunk is how a stream's tokens are known
                upstream_body = {
                    **body,
                    "stream_options": {**(body.get("stream_options") or {}), "include_usage": True},
                }
            call = prepared(endpoint.call(upstream_body), gateway.config, routed)
            budget = None
            if key is not None and key.budget is not None:
                budget = KeyBudget(gateway.config, key, gateway.spend.spent)
            opening = dispatcher.open_stream(routed, upstream_body, call, endpoint.wire_format, budget=budget)
            committed = await unless_disconnected(request, opening)
            exchange.upstream_api = _api_of(gateway, committed.leg.deployment)
            keeper = Keeper(gateway, plan, flight)
            hide_usage = not wants_usage(body)
            return streaming(recorder, exchange, committed, keeper, hide_usage, worker.drain, rename)
        completion = await unless_disconnected(
            request,
            dispatcher.complete(
                routed, body, prepared(endpoint.call(body), gateway.config, routed), endpoint.answers
            ),
        )
    except BaseException as exc:
        if flight is not None:
            ground(flight, exc)
        raise
    Keeper(gateway, plan, flight).keep(CachedAnswer(completion.body, completion.deployment, completion.usage))
    exchange.upstream_api = _api_of(gateway, completion.deployment)
    return completed(recorder, exchange, completion, rename)


def _api_of(gateway: Gateway, deployment: str) -> UpstreamApi:
    found = gateway.config.deployments.get(deployment)
    return found.api if found is not None else "none"


def _with_session(
    config: GatewayConfig,
    routed: RoutedRequest,
    dialect: Dialect,
    headers: Mapping[str, str],
    body: dict[str, Any],
    exchange: Exchange,
) -> RoutedRequest:
    """``routed`` with its session, when a group it may be served by has affinity, and without
    hedges when its key is near its budget."""
    exchange.decided = routed.decided
    frugal = exchange.budget_tier is Tier.NEAR
    affinity = next((g.affinity for g in config.served_by(routed.group) if g.affinity is not None), None)
    if affinity is None or routed.pinned is not None:
        return dataclasses.replace(routed, frugal=True) if frugal else routed
    session = session_of(dialect, headers, body, affinity.header)
    if session is not None:
        exchange.session = session.hex
    return dataclasses.replace(routed, session=session, frugal=frugal)


def _steer_by_budget(
    gateway: Gateway, exchange: Exchange, routed: RoutedRequest, key: GatewayKey
) -> RoutedRequest:
    try:
        routed, exchange.budget_tier = steer(gateway.config, routed, key, gateway.spend.spent(key.name))
    except BudgetExceeded:
        exchange.budget_tier = Tier.EXCEEDED
        raise
    return routed


async def unless_disconnected(request: Request, work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``, but cancel it (and its upstream calls) if the client goes away meanwhile
    (``ClientGone``), or if the worker's drain ends first (then the answer is 503, while one can
    still be sent): ``router.http.connection.while_connected``."""
    try:
        return await while_connected(work, request.receive, worker_of(request).drain)
    except DrainEnded:
        raise ShuttingDown("the gateway is shutting down: its drain ended before the answer") from None


async def _admit_key(gateway: Gateway, metrics: Metrics, key: GatewayKey | None, tokens: int) -> None:
    """The caller's own rate limit (its share in this worker): over it, 429 at once."""
    if key is None or key.name not in gateway.key_limits:
        return
    try:
        await gateway.key_limits[key.name].admit(tokens, owner=f"key {key.name}")
    except Saturated as exc:
        metrics.key_rejected.labels(key.name, exc.reason).inc()
        raise
