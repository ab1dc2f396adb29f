"""create_app(): the Starlette application of one worker, its routes and lifespan."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from router.background import BackgroundWork
from router.config.model import GatewayConfig
from router.errors import GatewayError, InvalidRequest, MethodNotAllowed, RouteNotFound
from router.http import admin, endpoints, gemini, models, probes
from router.http.cors import Cors, cors_for
from router.http.responses import dialect_of_path, error_response
from router.runtime.gateway import Gateway
from router.runtime.reload import ConfigReloader
from router.runtime.worker import Supervision, Worker
from router.spend.book import SpendBook
from router.state import open_state
from router.status import routes as status_routes
from router.status.board import reload_facts
from router.status.service import StatusService
from router.telemetry import deferred_values
from router.telemetry.access_log import AccessLog
from router.telemetry.exchange import Recorder
from router.telemetry.looplag import watch_loop_lag
from router.telemetry.metrics import build_metrics
from router.telemetry.traces import start_tracing

logger = logging.getLogger("raceway.app")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    dialect = dialect_of_path(request.url.path)
    if exc.status_code == 404:
        return error_response(RouteNotFound(f"no route {request.method} {request.url.path}"), dialect)
    if exc.status_code == 405:
        return error_response(
            MethodNotAllowed(f"method {request.method} is not allowed on {request.url.path}"), dialect
        )
    return error_response(InvalidRequest(str(exc.detail)), dialect)


async def _gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc, dialect_of_path(request.url.path))


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    error = GatewayError("internal error in the gateway", code="internal_error")
    return error_response(error, dialect_of_path(request.url.path))


class RacewayApp(Starlette):
    """Starlette, with a typed ``worker`` (what it serves with) and hot routes that skip the
    middleware stack.

    Each layer (server errors, exception handlers, the router) wraps every ``send``; the
    chat and embeddings handlers answer every error themselves, so they are called
    directly. Every other route goes through Starlette as usual. CORS, when the config
    asks for it, wraps both.
    """

    def __init__(self, *args: Any, supervision: Supervision | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.supervision = supervision
        self.draining = False  # set on SIGTERM: /ready answers 503 while requests finish
        self._worker: Worker | None = None  # set by the lifespan, once the gateway is built
        self._cors_config: GatewayConfig | None = None  # the config ``_cors`` was built for
        self._cors: Cors | None = None  # None: no CORS (the app does not look further)

    def drain(self, grace: float) -> None:
        """Take no more work (``/ready`` answers 503) and, once ``grace`` has passed, answer what
        still runs instead of letting the server cut it: 503 for a request still waiting, an
        error event for a stream."""
        self.draining = True
        if self._worker is not None:
            asyncio.get_running_loop().call_later(grace, self._worker.drain.end)

    @property
    def started(self) -> bool:
        return self._worker is not None

    @property
    def worker(self) -> Worker:
        assert self._worker is not None, "the app's lifespan has not started"
        return self._worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        worker = self._worker
        if worker is not None and scope["type"] == "http":
            config = worker.gateway.config
            if config is not self._cors_config:  # a reload: ``server.cors`` may have changed
                self._cors_config, self._cors = config, cors_for(config.server.cors)
            if self._cors is not None:
                await self._cors(scope, receive, send, self._dispatch)
                return
        await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path: str = scope["path"]
        if path.endswith("/") and len(path) > 1:
            # The same route: SDKs do not follow the redirect Starlette would answer for a POST.
            scope["path"] = path = path.rstrip("/") or "/"
        handler = _HOT_ROUTES.get(path)
        if handler is None and (target := gemini.hot_target(path)) is not None:
            handler, scope["path_params"] = gemini.model_call, {"target": target}
        if handler is None or scope["method"] != "POST":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        request = Request(scope, receive, send)
        try:
            response = await handler(request)
        except Exception as exc:
            response = await _unexpected_error(request, exc)
        await response(scope, receive, send)


_HOT_ROUTES = {
    "/v1/chat/completions": endpoints.chat_completions,
    "/chat/completions": endpoints.chat_completions,
    "/v1/embeddings": endpoints.embeddings,
    "/embeddings": endpoints.embeddings,
    "/v1/messages": endpoints.messages,
    "/messages": endpoints.messages,
    "/v1/messages/count_tokens": endpoints.count_tokens,
    "/messages/count_tokens": endpoints.count_tokens,
    "/v1/responses": endpoints.responses,
    "/responses": endpoints.responses,
    "/v1/completions": endpoints.completions,
    "/completions": endpoints.completions,
}


def create_app(
    config: GatewayConfig,
    *,
    workers: int = 1,
    worker: int = 0,
    config_path: Path | None = None,
    supervision: Supervision | None = None,
) -> RacewayApp:
    """``workers``: how many processes serve this config (they split caps and rate limits);
    ``worker``: this one's index; ``config_path``: the file to watch for live edits;
    ``supervision``: set when a supervisor runs the workers (``raceway serve``)."""
    metrics, registry = build_metrics(worker, enabled=config.server.metrics)
    access_log = AccessLog(sys.stdout.buffer) if config.server.access_log else None
    recorder = Recorder(metrics, access_log=access_log)

    @asynccontextmanager
    async def lifespan(app: RacewayApp) -> AsyncIterator[None]:
        shared_dir = app.supervision.snapshot.parent if app.supervision is not None else None
        state = open_state(config, metrics, shared_dir)
        spend = SpendBook(state.spend, config.state.sync_interval, metrics=metrics)
        serving = Worker(
            Gateway.build(config, metrics, workers=workers, state=state, spend=spend),
            recorder,
            metrics,
            registry,
            supervision=app.supervision,
            tracing=start_tracing(config.telemetry.traces, metrics, worker=worker),
        )
        recorder.spend = spend
        status = serving.status = StatusService.open(
            config,
            serving.gateway,
            state,
            metrics,
            worker=worker,
            directory=app.supervision.snapshot.parent if app.supervision else None,
        )
        serving.tracing = status.journaling(serving.tracing, config)
        recorder.request_log = status.request_log
        await spend.start()
        metrics.show_config(config.hash)
        metrics.workers_up.set(1)
        background = BackgroundWork()
        lag = metrics.loop_lag.labels(metrics.worker)
        background.keep_running("loop lag", lambda: watch_loop_lag(lag, config.server.loop_lag_warning))
        background.keep_running("spend sync", spend.run)
        if status.request_log is not None:
            background.keep_running("request log", status.request_log.run)
        background.keep_running(
            "status board",
            lambda: status.board.run(lambda: (serving.gateway, reload_facts(serving.reloader))),
        )
        if serving.tracing.enabled and metrics.exemplars is not None:
            background.keep_running("exemplar files", metrics.exemplars.run)

        def adopt_cooldown(deployment: str, seconds: float) -> None:
            """A cooldown announced by another worker or instance: the fleet applies it."""
            member = serving.gateway.fleet.adopt_cooldown(deployment, seconds)
            if member is not None:
                serving.gateway.dispatcher.publish_state(member)

        for name, loop in state.background(lambda: serving.gateway.fleet.names(), adopt_cooldown).items():
            background.keep_running(name, loop)
        if config_path is not None:
            snapshot = app.supervision.snapshot if app.supervision else None
            announce = app.supervision.announce if app.supervision else None
            serving.reloader = ConfigReloader(
                config_path, serving, metrics, workers=workers, snapshot=snapshot, announce=announce
            )
            background.keep_running("config watch", serving.reloader.watch)
        app._worker = serving
        if app.supervision is not None:
            app.supervision.started()
        try:
            yield
        finally:
            await background.close()
            if serving.reloader is not None:
                await serving.reloader.close()
            await serving.gateway.close()
            await spend.flush()  # after the last request: every finished request's spend is written
            await status.close()  # and its request-log record
            if access_log is not None:
                access_log.flush()  # and its access-log line
            deferred_values.flush()  # and its metrics
            await state.close()
            await serving.tracing.close()  # after the last request's spans ended

    routes = [
        *(Route(path, handler, methods=["POST"]) for path, handler in _HOT_ROUTES.items()),
        Route("/v1/models", models.list_models, methods=["GET"]),
        Route("/models", models.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/models/{model:path}", models.retrieve_model, methods=["GET"]),
        Route("/v1beta/models", gemini.list_models, methods=["GET"]),
        Route("/v1beta/models/{target:path}", gemini.retrieve_model, methods=["GET"]),
        Route("/v1beta/models/{target:path}", gemini.model_call, methods=["POST"]),
        Route("/v1beta/{target:path}", gemini.model_call, methods=["POST"]),
        Route("/v1/models/{target:path}", gemini.model_call, methods=["POST"]),
        Route("/health", probes.health, methods=["GET"]),
        Route("/ready", probes.ready, methods=["GET"]),
        Route("/metrics", probes.metrics_endpoint, methods=["GET"]),
        Route("/admin/config", admin.config_status, methods=["GET"]),
        Route("/admin/reload", admin.reload_now, methods=["POST"]),
        Route("/status", status_routes.page, methods=["GET"]),
        Route("/status.json", status_routes.document, methods=["GET"]),
        Route("/status/requests", status_routes.requests, methods=["GET"]),
        Route("/status/events", status_routes.events, methods=["GET"]),
    ]
    app = RacewayApp(
        supervision=supervision,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: _http_error,
            GatewayError: _gateway_error,
            Exception: _unexpected_error,
        },
    )
    return app
