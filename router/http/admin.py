"""Admin endpoints, behind ``server.admin_key``: the active config and an on-demand reload."""

from __future__ import annotations

import hmac

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.errors import AdminDisabled, AuthenticationFailed, TooManyAuthFailures
from router.http.responses import error_response, json_response
from router.runtime.keyring import AuthFailure
from router.runtime.reload import ConfigReloader, ReloadResult
from router.runtime.worker import Supervision, Worker


def _authorized(request: Request) -> ConfigReloader:
    """The worker's reloader, once the caller has shown the admin key."""
    worker: Worker = request.app.worker
    admin_key = worker.gateway.config.server.admin_key
    reloader = worker.reloader
    if admin_key is None or reloader is None:
        raise AdminDisabled("admin endpoints are disabled: set server.admin_key")
    keyring = worker.gateway.keyring
    keyring.screen(request.scope)
    presented = request.headers.get("authorization", "")
    expected = f"Bearer {admin_key.reveal()}"
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        keyring.record_failure(AuthFailure.ADMIN, request.scope)
        raise AuthenticationFailed("invalid admin key")
    return reloader


async def config_status(request: Request) -> Response:
    try:
        reloader = _authorized(request)
    except (AdminDisabled, AuthenticationFailed, TooManyAuthFailures) as exc:
        return error_response(exc)
    return json_response(orjson.dumps(reloader.status()))


async def reload_now(request: Request) -> Response:
    """Reload this worker now, and ask the supervisor to have every other worker do the same."""
    try:
        reloader = _authorized(request)
    except (AdminDisabled, AuthenticationFailed, TooManyAuthFailures) as exc:
        return error_response(exc)
    outcome = await reloader.check(force=True)
    supervision: Supervision | None = request.app.supervision
    if supervision is not None:
        supervision.announce()
    body = {"result": outcome.result, "hash": outcome.hash, "error": outcome.error, **reloader.status()}
    return json_response(orjson.dumps(body), status=422 if outcome.result is ReloadResult.INVALID else 200)
