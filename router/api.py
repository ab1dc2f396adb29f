"""The HTTP endpoints: OpenAI's API surface plus health, readiness and metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive

from router.calls import Completion, OpenedStream
from router.config import GatewayKey
from router.errors import ClientGone, GatewayError, InvalidRequest, PayloadTooLarge
from router.exchange import Exchange, Recorder, request_id_from
from router.gateway import Gateway
from router.limits import Saturated
from router.metrics import Metrics, render
from router.responses import SSEResponse, client_disconnected, error_response, json_response
from router.routing import route
from router.validation import chat_request, embeddings_request

T = TypeVar("T")

_BIG_BODY = 1024 * 1024


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        except ValueError as exc:
            raise InvalidRequest("invalid Content-Length header") from exc
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def _answer_headers(exchange: Exchange) -> dict[str, str]:
    return {
        "x-request-id": exchange.request_id,
        "x-raceway-deployment": exchange.deployment or "",
        "x-raceway-attempts": str(exchange.attempts),
        "x-raceway-overhead-ms": f"{(exchange.overhead or 0.0) * 1000:.3f}",
    }


async def chat_completions(request: Request) -> Response | SSEResponse:
    return await _serve(request, chat_request, stream_allowed=True)


async def embeddings(request: Request) -> Response | SSEResponse:
    return await _serve(request, embeddings_request, stream_allowed=False)


async def _serve(
    request: Request, parse: Callable[[bytes], tuple[str, dict[str, Any]]], *, stream_allowed: bool
) -> Response | SSEResponse:
    gateway = _gateway(request)
    recorder: Recorder = request.app.state.recorder
    exchange = Exchange(request_id_from(request.headers.get("x-request-id")), request.url.path)
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"))
        exchange.key = key.name if key else None
        raw = await read_body(request, gateway.config.server.max_body_size)
        # Parsing megabytes of JSON takes milliseconds: keep it off the event loop.
        model, body = await asyncio.to_thread(parse, raw) if len(raw) > _BIG_BODY else parse(raw)
        routed = route(gateway.config, model, body, key, request.headers)
        exchange.model = routed.requested
        await _admit_key(gateway, request.app.state.metrics, key, routed.prompt_tokens)
        if stream_allowed and routed.stream:
            exchange.stream = True
            opened = await unless_disconnected(request, gateway.dispatcher.open_stream(routed, body))
            return _streaming(recorder, exchange, opened)
        dispatch = gateway.dispatcher.chat if stream_allowed else gateway.dispatcher.embeddings
        completion = await unless_disconnected(request, dispatch(routed, body))
    except GatewayError as exc:
        exchange.error = exc.code
        recorder.finish(exchange, exc.status_code)
        response = error_response(exc)
        response.headers["x-request-id"] = exchange.request_id
        return response
    return _completed(recorder, exchange, completion)


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Run ``work``, but cancel it (and its upstream calls) if the client goes away meanwhile.

    The work runs in this task; a watcher task cancels it when the client disconnects.
    """
    current = asyncio.current_task()
    assert current is not None
    watcher = asyncio.ensure_future(_cancel_when_disconnected(request.receive, current))
    try:
        return await work
    except asyncio.CancelledError:
        if watcher.done() and not watcher.cancelled():
            current.uncancel()  # our own doing, not a shutdown: report it as such
            raise ClientGone("the client closed the connection") from None
        raise
    finally:
        watcher.cancel()


async def _cancel_when_disconnected(receive: Receive, task: asyncio.Task[object]) -> None:
    await client_disconnected(receive)
    task.cancel()


async def _admit_key(gateway: Gateway, metrics: Metrics, key: GatewayKey | None, tokens: int) -> None:
    """The caller's own rate limit (its share in this worker): over it, 429 at once."""
    if key is None or key.name not in gateway.key_limits:
        return
    try:
        await gateway.key_limits[key.name].admit(tokens, owner=f"key {key.name}")
    except Saturated as exc:
        metrics.key_rejected.labels(key.name, exc.reason).inc()
        raise


def _completed(recorder: Recorder, exchange: Exchange, completion: Completion) -> Response:
    exchange.deployment = completion.deployment
    exchange.attempts = completion.attempts
    exchange.usage, exchange.cost = completion.usage, completion.cost
    exchange.overhead = max(0.0, time.perf_counter() - exchange.started - completion.upstream_seconds)
    recorder.finish(exchange, 200)
    return json_response(completion.body, _answer_headers(exchange))


def _streaming(recorder: Recorder, exchange: Exchange, opened: OpenedStream) -> SSEResponse:
    exchange.deployment, exchange.attempts = opened.deployment, opened.attempts
    # Raceway's own time: everything before the winning call started.
    exchange.overhead = max(0.0, opened.upstream_started - exchange.started)
    exchange.first_token = time.perf_counter() - exchange.started

    def on_complete(outcome: str) -> None:
        exchange.usage, exchange.cost = opened.usage, opened.cost
        if outcome == "cut":
            exchange.error = "stream_cut"
        elif outcome == "client_gone":
            exchange.error = "client_closed_request"
        # A stream's status went out with its first byte: 200, even if it ended badly.
        recorder.finish(exchange, 499 if outcome == "client_gone" else 200)

    return SSEResponse(opened, _answer_headers(exchange), on_complete)


async def list_models(request: Request) -> Response:
    gateway = _gateway(request)
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"))
    except GatewayError as exc:
        return error_response(exc)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "raceway"}
        for name in gateway.visible_models(key)
    ]
    return json_response(orjson.dumps({"object": "list", "data": data}))


async def health(request: Request) -> Response:
    return json_response(b'{"status":"ok"}')


async def ready(request: Request) -> Response:
    gateway: Gateway | None = getattr(request.app.state, "gateway", None)
    if getattr(request.app.state, "draining", False):
        return json_response(b'{"status":"draining"}', status=503)
    if gateway is None or not gateway.ready:
        return json_response(b'{"status":"not ready"}', status=503)
    return json_response(orjson.dumps({"status": "ready", "config": gateway.config.hash}))


async def metrics_endpoint(request: Request) -> Response:
    text, content_type = render(request.app.state.metrics_registry)
    return Response(text, media_type=content_type)
