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

from router.calls import Completion, OpenedStream, Usage
from router.config import GatewayKey
from router.errors import ClientGone, GatewayError, InvalidRequest, PayloadTooLarge
from router.gateway import Gateway
from router.limits import Saturated
from router.metrics import UNKNOWN_MODEL, Metrics, render
from router.responses import SSEResponse, error_response, json_response
from router.routing import RoutedRequest, route
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


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def _answer_headers(deployment: str, attempts: int, overhead: float) -> dict[str, str]:
    return {
        "x-raceway-deployment": deployment,
        "x-raceway-attempts": str(attempts),
        "x-raceway-overhead-ms": f"{overhead * 1000:.3f}",
    }


def _record(metrics: Metrics, model: str, status: int, started: float, overhead: float | None) -> None:
    metrics.requests.labels(model, f"{status // 100}xx").inc()
    metrics.request_duration.labels(model).observe(time.perf_counter() - started)
    if overhead is not None:
        metrics.overhead.observe(overhead)


async def chat_completions(request: Request) -> Response | SSEResponse:
    return await _serve(request, chat_request, stream_allowed=True)


async def embeddings(request: Request) -> Response | SSEResponse:
    return await _serve(request, embeddings_request, stream_allowed=False)


async def _serve(
    request: Request, parse: Callable[[bytes], tuple[str, dict[str, Any]]], *, stream_allowed: bool
) -> Response | SSEResponse:
    started = time.perf_counter()
    gateway = _gateway(request)
    metrics = _metrics(request)
    model_label = UNKNOWN_MODEL
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"))
        raw = await read_body(request, gateway.config.server.max_body_size)
        # Parsing megabytes of JSON takes milliseconds: keep it off the event loop.
        model, body = await asyncio.to_thread(parse, raw) if len(raw) > _BIG_BODY else parse(raw)
        routed = route(gateway.config, model, body, key, request.headers)
        model_label = routed.requested
        await _admit_key(gateway, metrics, key, routed.prompt_tokens)
        if stream_allowed and routed.stream:
            opened = await unless_disconnected(request, gateway.dispatcher.open_stream(routed, body))
            return _streaming(metrics, routed, opened, started)
        dispatch = gateway.dispatcher.chat if stream_allowed else gateway.dispatcher.embeddings
        completion = await unless_disconnected(request, dispatch(routed, body))
    except GatewayError as exc:
        _record(metrics, model_label, exc.status_code, started, None)
        return error_response(exc)
    return _completed(metrics, model_label, completion, started)


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Run ``work``, but cancel it (and its upstream calls) if the client goes away meanwhile."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request.receive))
    try:
        await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait((task,))
    if task.cancelled():
        raise ClientGone("the client closed the connection")
    return task.result()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _admit_key(gateway: Gateway, metrics: Metrics, key: GatewayKey | None, tokens: int) -> None:
    """The caller's own rate limit (its share in this worker): over it, 429 at once."""
    if key is None or key.name not in gateway.key_limits:
        return
    try:
        await gateway.key_limits[key.name].admit(tokens, owner=f"key {key.name}")
    except Saturated as exc:
        metrics.rejected.labels(f"key:{key.name}", exc.reason).inc()
        raise


def _completed(metrics: Metrics, model: str, completion: Completion, started: float) -> Response:
    overhead = max(0.0, time.perf_counter() - started - completion.upstream_seconds)
    _record(metrics, model, 200, started, overhead)
    _record_usage(metrics, model, completion.deployment, completion.usage, completion.cost)
    return json_response(
        completion.body, _answer_headers(completion.deployment, completion.attempts, overhead)
    )


def _streaming(metrics: Metrics, routed: RoutedRequest, opened: OpenedStream, started: float) -> SSEResponse:
    model = routed.requested
    # Raceway's own time: everything before the winning call started.
    overhead = max(0.0, opened.upstream_started - started)
    metrics.first_token.labels(model).observe(time.perf_counter() - started)

    def on_complete(ok: bool) -> None:
        _record(metrics, model, 200, started, overhead)
        _record_usage(metrics, model, opened.deployment, opened.usage, opened.cost)

    return SSEResponse(opened, _answer_headers(opened.deployment, opened.attempts, overhead), on_complete)


def _record_usage(metrics: Metrics, model: str, deployment: str, usage: Usage | None, cost: float) -> None:
    if usage is None:
        return
    metrics.tokens.labels(model, deployment, "prompt").inc(usage.prompt_tokens)
    metrics.tokens.labels(model, deployment, "completion").inc(usage.completion_tokens)
    if cost:
        metrics.cost.labels(model, deployment).inc(cost)


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
