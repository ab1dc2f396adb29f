"""What orchestrators and Prometheus ask a worker: is it alive, is it ready, its metrics."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.http.responses import json_response
from router.runtime.worker import worker_of
from router.telemetry.exposition import render


async def health(request: Request) -> Response:
    return json_response(b'{"status":"ok"}')


async def ready(request: Request) -> Response:
    if request.app.draining:
        return json_response(b'{"status":"draining"}', status=503)
    if not request.app.started or not (gateway := worker_of(request).gateway).ready:
        return json_response(b'{"status":"not ready"}', status=503)
    return json_response(orjson.dumps({"status": "ready", "config": gateway.config.hash}))


async def metrics_endpoint(request: Request) -> Response:
    worker = worker_of(request)
    text, content_type = render(
        worker.registry, accept=request.headers.get("accept", ""), exemplars=worker.tracing.enabled
    )
    return Response(text, media_type=content_type)
