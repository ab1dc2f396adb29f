"""The HTTP endpoints: OpenAI's API surface plus health, readiness and metrics."""

from __future__ import annotations

import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.calls import Completion
from router.errors import GatewayError, InvalidRequest, PayloadTooLarge
from router.gateway import Gateway
from router.metrics import UNKNOWN_MODEL, Metrics, render
from router.responses import SSEResponse, error_response, json_response
from router.routing import RoutedRequest, route
from router.validation import chat_request, embeddings_request


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
    started = time.perf_counter()
    gateway = _gateway(request)
    metrics = _metrics(request)
    model_label = UNKNOWN_MODEL
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"))
        raw = await read_body(request, gateway.config.server.max_body_size)
        model, body = chat_request(raw)
        routed = route(gateway.config, model, body, key, request.headers)
        model_label = routed.requested
        if routed.stream:
            return await _stream(gateway, metrics, routed, body, started)
        completion = await gateway.dispatcher.chat(routed, body)
    except GatewayError as exc:
        _record(metrics, model_label, exc.status_code, started, None)
        return error_response(exc)
    return _completed(metrics, model_label, completion, started)


async def embeddings(request: Request) -> Response:
    started = time.perf_counter()
    gateway = _gateway(request)
    metrics = _metrics(request)
    model_label = UNKNOWN_MODEL
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"))
        raw = await read_body(request, gateway.config.server.max_body_size)
        model, body = embeddings_request(raw)
        routed = route(gateway.config, model, body, key, request.headers)
        model_label = routed.requested
        completion = await gateway.dispatcher.embeddings(routed, body)
    except GatewayError as exc:
        _record(metrics, model_label, exc.status_code, started, None)
        return error_response(exc)
    return _completed(metrics, model_label, completion, started)


def _completed(metrics: Metrics, model: str, completion: Completion, started: float) -> Response:
    overhead = max(0.0, time.perf_counter() - started - completion.upstream_seconds)
    _record(metrics, model, 200, started, overhead)
    return json_response(
        completion.body, _answer_headers(completion.deployment, completion.attempts, overhead)
    )


async def _stream(
    gateway: Gateway, metrics: Metrics, routed: RoutedRequest, body: dict[str, Any], started: float
) -> SSEResponse:
    model = routed.requested
    opened = await gateway.dispatcher.open_stream(routed, body)
    # Raceway's own time: everything before the winning call started.
    overhead = max(0.0, opened.upstream_started - started)

    def on_complete(ok: bool) -> None:
        _record(metrics, model, 200, started, overhead)

    return SSEResponse(opened, _answer_headers(opened.deployment, opened.attempts, overhead), on_complete)


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
    if gateway is None or not gateway.ready:
        return json_response(b'{"status":"not ready"}', status=503)
    return json_response(orjson.dumps({"status": "ready", "config": gateway.config.hash}))


async def metrics_endpoint(request: Request) -> Response:
    text, content_type = render(request.app.state.metrics_registry)
    return Response(text, media_type=content_type)
