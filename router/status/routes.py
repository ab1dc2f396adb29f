"""The status endpoints: the page, its document, the request log, and a stream of documents.

| route | answers |
|---|---|
| ``GET /status`` | the page (``page.html``: plain HTML, CSS and a script; nothing loaded from elsewhere) |
| ``GET /status.json`` | the whole instance now (``overview``) |
| ``GET /status/requests?model=&status=&deployment=&since=&limit=`` | the request log, newest first |
| ``GET /status/events`` | ``/status.json`` as server-sent events, one a second |

Who may see them: ``access``. Errors have OpenAI's shape, like every other route's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import cache

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from router.errors import GatewayError, RouteNotFound
from router.http.responses import error_response, json_response
from router.runtime.worker import Worker, worker_of
from router.status import access
from router.status.board import reload_facts
from router.status.query import RequestQuery
from router.status.service import StatusService
from router.status.store import RequestLogUnavailable

EVENT_INTERVAL = 1.0
_NO_STORE = {"cache-control": "no-store"}
# The page's own policy: nothing but this origin, so nothing external can load even by mistake.
_PAGE_HEADERS = {
    **_NO_STORE,
    "content-security-policy": "default-src 'self'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
}


@cache
def _page() -> bytes:
    """``page.html``, read when first asked for (importlib.resources costs a worker's start ~10 ms)."""
    from importlib.resources import files

    return files("router.status").joinpath("page.html").read_bytes()


def _service(worker: Worker) -> StatusService:
    if worker.status is None:
        raise RouteNotFound("the status page is not served by this worker")
    return worker.status


def _allowed(request: Request) -> tuple[Worker, StatusService]:
    """The worker and its status service, for a caller allowed to read them (else the refusal)."""
    worker = worker_of(request)
    service = _service(worker)
    access.check(request, worker)
    return worker, service


async def page(request: Request) -> Response:
    """The page itself holds no data: it is shown wherever the data may be asked for (with a key)."""
    worker = worker_of(request)
    try:
        _service(worker)
        if worker.gateway.config.server.admin_key is None:
            access.check(request, worker)
    except GatewayError as exc:
        return error_response(exc)
    return Response(_page(), media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)


async def document(request: Request) -> Response:
    try:
        worker, service = _allowed(request)
    except GatewayError as exc:
        return error_response(exc)
    body = await service.document(worker.gateway, reload_facts(worker.reloader))
    return json_response(orjson.dumps(body), _NO_STORE)


async def requests(request: Request) -> Response:
    try:
        _, service = _allowed(request)
        query = RequestQuery.from_params(request.query_params)
        log = service.request_log
        if log is None:
            raise RouteNotFound("the request log is off (server.request_log.enabled: false)")
    except GatewayError as exc:
        return error_response(exc)
    try:
        found = await log.read(query)
    except RequestLogUnavailable as exc:
        error = GatewayError(f"the request log cannot be read: {exc}", code="request_log_unavailable")
        return error_response(error)
    return json_response(orjson.dumps({"object": "list", "data": found}), _NO_STORE)


async def events(request: Request) -> Response:
    try:
        worker, service = _allowed(request)
    except GatewayError as exc:
        return error_response(exc)

    async def documents() -> AsyncIterator[bytes]:
        while not request.app.draining:  # a drain ends the stream, so it never holds up a stop
            body = await service.document(worker.gateway, reload_facts(worker.reloader))
            yield b"data: " + orjson.dumps(body) + b"\n\n"
            await asyncio.sleep(EVENT_INTERVAL)

    return StreamingResponse(documents(), media_type="text/event-stream", headers=_NO_STORE)
