"""How an answer goes out: JSON from an upstream call, a replay from the cache, or a committed
stream relayed (and assembled for the cache on its way), each with Raceway's headers, and the
request's record finished when it is done.

A stream's record and its cache entry are two observers of the stream (``StreamObserver``):
``Recording`` finishes the request's record with the stream's result, ``Keeping`` feeds the
assembler and keeps the answer, or tells the requests waiting for it that there is none. Each
reads only the result, so neither depends on the other, nor on the attempt's bookkeeping.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.responses import Response

from router.answers.cache import CACHE_HEADER, CachedAnswer
from router.answers.dialects import Assembler, assembler_for, replay_in
from router.answers.reuse import Keeper
from router.dispatch.completion import Completion
from router.dispatch.opened_stream import Committed, OpenedStream
from router.dispatch.stream_end import StreamObserver, StreamResult
from router.errors import UpstreamError
from router.http.renaming import PublicModelName
from router.http.responses import SSEResponse, json_response
from router.providers.correlation import Correlation
from router.routing.budgets import BUDGET_HEADER
from router.runtime.drain import Drain
from router.telemetry.exchange import Exchange, Recorder
from router.telemetry.labels import StreamOutcome
from router.wire.dialect import Dialect
from router.wire.formats import FORMATS

UPSTREAM_REQUEST_ID_HEADER = "x-raceway-upstream-request-id"
AFFINITY_HEADER = "x-raceway-affinity"


def wants_usage(body: dict[str, Any]) -> bool:
    return bool((body.get("stream_options") or {}).get("include_usage"))


def answer_headers(exchange: Exchange, upstream: Correlation | None = None) -> dict[str, str]:
    """``upstream``: the call that made the answer (none for one from the cache or a shared call)."""
    headers = {
        "x-request-id": exchange.request_id,
        "x-raceway-deployment": exchange.deployment or "",
        "x-raceway-attempts": str(exchange.attempts),
        "x-raceway-overhead-ms": f"{(exchange.overhead or 0.0) * 1000:.3f}",
        AFFINITY_HEADER: exchange.decided.affinity if exchange.decided is not None else "off",
    }
    if not exchange.stream:  # a stream's cost is known only after its headers went out
        headers["x-raceway-cost-usd"] = f"{exchange.cost:.8f}"
    if upstream is not None and upstream.ratelimit:
        headers.update(upstream.ratelimit)  # the serving upstream's own limits, when relayed
    return headers | decision_headers(exchange)


def decision_headers(exchange: Exchange) -> dict[str, str]:
    """What the cache and the budget decided, and the upstream's id for the call; on answers
    and errors alike."""
    headers: dict[str, str] = {}
    if exchange.cache is not None:
        headers[CACHE_HEADER] = exchange.cache
    if exchange.budget_tier is not None:
        headers[BUDGET_HEADER] = exchange.budget_tier
    if exchange.upstream_request_id is not None:
        headers[UPSTREAM_REQUEST_ID_HEADER] = exchange.upstream_request_id
    return headers


def completed(
    recorder: Recorder, exchange: Exchange, completion: Completion, rename: PublicModelName | None
) -> Response:
    exchange.deployment = completion.deployment
    exchange.attempts = completion.attempts
    exchange.usage, exchange.cost = completion.usage, completion.cost
    exchange.overhead = max(0.0, time.perf_counter() - exchange.started - completion.upstream_seconds)
    upstream = completion.correlation
    exchange.upstream_request_id = upstream.request_id if upstream is not None else None
    recorder.finish(exchange, 200)
    body = completion.body if rename is None else rename(completion.body)
    return json_response(body, answer_headers(exchange, upstream))


def replayed(
    recorder: Recorder,
    exchange: Exchange,
    answer: CachedAnswer,
    body: dict[str, Any],
    dialect: Dialect,
    drain: Drain,
    rename: PublicModelName | None,
) -> Response | SSEResponse:
    """An answer served without an upstream call of its own: it costs nothing and uses no tokens."""
    exchange.deployment = answer.deployment
    exchange.overhead = time.perf_counter() - exchange.started
    if not exchange.stream:
        recorder.finish(exchange, 200)
        return json_response(answer.body if rename is None else rename(answer.body), answer_headers(exchange))
    exchange.first_token = exchange.overhead
    events = replay_in(dialect, answer.body, include_usage=wants_usage(body))
    recording = Recording(recorder, exchange, charged=False)  # a replay costs nothing
    stream = OpenedStream.replay(answer.deployment, events, FORMATS[dialect], observers=(recording,))
    return SSEResponse(stream, answer_headers(exchange), drain, rename)


def streaming(
    recorder: Recorder,
    exchange: Exchange,
    committed: Committed,
    keeper: Keeper,
    hide_usage: bool,
    drain: Drain,
    rename: PublicModelName | None,
) -> SSEResponse:
    """The relay of ``committed``; ``hide_usage``: the gateway asked for the usage chunk, not the
    client."""
    leg = committed.leg
    exchange.deployment, exchange.attempts = leg.deployment, committed.attempts
    upstream = leg.correlation
    exchange.upstream_request_id = upstream.request_id if upstream is not None else None
    # Raceway's own time: everything before the winning call started.
    exchange.overhead = max(0.0, leg.started - exchange.started)
    exchange.first_token = time.perf_counter() - exchange.started
    observers: list[StreamObserver] = [Recording(recorder, exchange)]
    if keeper.wanted:
        # An answer is kept only if the cache could hold it and the deployment may send it.
        deployment = keeper.gateway.config.deployments.get(leg.deployment)
        limit = keeper.gateway.cache.settings.max_bytes
        assembler = assembler_for(
            leg.client.dialect, max_bytes=min(limit, deployment.max_response_size) if deployment else limit
        )
        observers.append(Keeping(assembler, keeper, leg.deployment))
    stream = OpenedStream(committed, hide_usage=hide_usage, observers=observers)
    return SSEResponse(stream, answer_headers(exchange, upstream), drain, rename)


class Recording:
    """Finishes the request's record when its stream ends: how it ended, and (``charged``: for a
    stream an upstream served) its tokens, cost, calls and continuations."""

    __slots__ = ("_charged", "_exchange", "_recorder")

    def __init__(self, recorder: Recorder, exchange: Exchange, *, charged: bool = True) -> None:
        self._recorder = recorder
        self._exchange = exchange
        self._charged = charged

    def on_event(self, event: bytes) -> None:
        return None

    def on_end(self, result: StreamResult) -> None:
        exchange, outcome = self._exchange, result.outcome
        if self._charged:
            exchange.usage, exchange.cost = result.usage, result.cost
            exchange.attempts = result.attempts  # continuations included
            if result.resumed:
                exchange.resumed = list(result.resumed)
        exchange.stream_ended(outcome)
        # A stream's status went out with its first byte: 200, even if it ended badly.
        self._recorder.finish(exchange, 499 if outcome is StreamOutcome.ABANDONED else 200)


class Keeping:
    """Assembles the stream's answer for the cache and keeps it when the stream is complete.

    Once the assembler drops the stream (too large, malformed: the answer will not be kept), it
    is fed no more and the requests following this one lead themselves at once; the stream goes
    on for its client. A stream that ends without an answer tells them so: its cut is their
    error, any other end lets one of them lead."""

    __slots__ = ("_assembler", "_deployment", "_keeper")

    def __init__(self, assembler: Assembler, keeper: Keeper, deployment: str) -> None:
        self._assembler = assembler
        self._keeper = keeper
        self._deployment = deployment

    def on_event(self, event: bytes) -> None:
        assembler = self._assembler
        if assembler.dropped:
            return
        assembler.feed(event)
        if assembler.dropped and self._keeper.flight is not None:
            self._keeper.flight.abandon()

    def on_end(self, result: StreamResult) -> None:
        keeper, outcome = self._keeper, result.outcome
        kept = outcome is StreamOutcome.COMPLETE and result.keeps_answer  # spliced: unless its group says not
        answer = self._assembler.answer() if kept else None
        if answer is not None:
            keeper.keep(CachedAnswer(answer, self._deployment, result.usage))
        elif keeper.flight is not None and outcome is StreamOutcome.CUT:
            keeper.flight.fail(UpstreamError(f"the stream from deployment {self._deployment} ended early"))
        elif keeper.flight is not None:
            keeper.flight.abandon()  # the leading client left, the worker stopped, or no answer
