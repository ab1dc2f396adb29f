"""Google's Gemini API as a client dialect: ``POST {version}/models/{model}:{method}`` for
``generateContent``, ``streamGenerateContent?alt=sse`` and ``countTokens``, and the model list,
under ``/v1beta`` and ``/v1``.

The model comes from the path (``models/`` optional: ``/v1beta/{model}:{method}`` too), the
gateway key from ``x-goog-api-key`` or ``?key=`` (or ``Authorization: Bearer``), as Google's
clients send it. Everything else is every endpoint's path (``router.http.endpoints.serve``),
with answers and errors in Google's shapes.

``GET /v1/models`` is OpenAI's too: a Google client (one that sends ``x-goog-api-key``,
``x-goog-api-client`` or ``?key=``) gets Gemini's list there; on ``/v1beta`` everyone does.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.errors import GatewayError, InvalidRequest, ModelNotFound, RouteNotFound
from router.http.endpoints import Endpoint, serve
from router.http.gemini_validation import count_tokens_request, gemini_request
from router.http.responses import error_response, json_response
from router.runtime.worker import worker_of
from router.wire.dialect import Dialect

GENERATE = "generateContent"
STREAM = "streamGenerateContent"
COUNT = "countTokens"
_CACHE_PATH = "/gemini:generateContent"  # JSON and streams share their answers, as elsewhere
_METHODS = [GENERATE, STREAM, COUNT]


def gateway_key(request: Request) -> str | None:
    """The key a Google client sends: ``x-goog-api-key`` (empty when Gemini CLI uses external
    auth, which then sends a bearer) or the ``key`` query parameter."""
    return request.headers.get("x-goog-api-key") or request.query_params.get("key") or None


def _endpoint(model: str, method: str) -> Endpoint:
    if method == COUNT:
        return Endpoint(
            Dialect.GEMINI,
            partial(count_tokens_request, model),
            streams=False,
            count_tokens=True,
            api_key=gateway_key,
        )
    return Endpoint(
        Dialect.GEMINI,
        partial(gemini_request, model, method == STREAM),
        api_key=gateway_key,
        cache_path=_CACHE_PATH,
    )


def _target(request: Request) -> tuple[str, str]:
    """(model, method) from the path's ``{model}:{method}``."""
    target: str = request.path_params["target"]
    model, _, method = target.removeprefix("models/").rpartition(":")
    if not model or method not in _METHODS:
        raise RouteNotFound(f"no route {request.method} {request.url.path}")
    if method == STREAM and request.query_params.get("alt") != "sse":
        raise InvalidRequest(
            "streamGenerateContent is served as server-sent events only: add ?alt=sse", param="alt"
        )
    return model, method


def hot_target(path: str) -> str | None:
    """The ``{model}:{method}`` of a Gemini call's path, for the app's hot routes (None: not one)."""
    for prefix in _PREFIXES:
        if path.startswith(prefix) and ":" in path:
            return path[len(prefix) :]
    return None


_PREFIXES = ("/v1beta/models/", "/v1/models/")


async def model_call(request: Request) -> Response | Any:
    """``POST /v1beta/models/{model}:{method}`` (and ``/v1/...``)."""
    try:
        model, method = _target(request)
    except GatewayError as exc:
        return error_response(exc, Dialect.GEMINI)
    return await serve(request, _endpoint(model, method))


def is_google_client(request: Request) -> bool:
    headers = request.headers
    return "x-goog-api-key" in headers or "x-goog-api-client" in headers or "key" in request.query_params


def _model_object(name: str) -> dict[str, Any]:
    """Gemini's model object for a public model name."""
    return {
        "name": f"models/{name}",
        "baseModelId": name,
        "version": "raceway",
        "displayName": name,
        "supportedGenerationMethods": [GENERATE, STREAM, COUNT],
    }


async def list_models(request: Request) -> Response:
    gateway = worker_of(request).gateway
    try:
        key = gateway.keyring.authenticate(
            request.headers.get("authorization"), request.scope, api_key=gateway_key(request)
        )
    except GatewayError as exc:
        return error_response(exc, Dialect.GEMINI)
    models = [_model_object(name) for name in gateway.visible_models(key)]
    return json_response(orjson.dumps({"models": models}))


async def retrieve_model(request: Request) -> Response:
    """One model, as the list shows it; one the key may not use does not exist for it."""
    gateway = worker_of(request).gateway
    params = request.path_params  # ``target`` on /v1beta, ``model`` on OpenAI's /v1/models route
    name = str(params.get("target") or params.get("model") or "").removeprefix("models/")
    try:
        key = gateway.keyring.authenticate(
            request.headers.get("authorization"), request.scope, api_key=gateway_key(request)
        )
        if name not in gateway.config.models or (key is not None and not key.allows(name)):
            raise ModelNotFound(f"models/{name} is not found or this key may not use it", param="model")
    except GatewayError as exc:
        return error_response(exc, Dialect.GEMINI)
    return json_response(orjson.dumps(_model_object(name)))
