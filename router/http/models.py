"""``GET /v1/models`` and ``GET /v1/models/{model}``: the public model names a key may use."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from router.errors import GatewayError, ModelNotFound
from router.http import gemini
from router.http.responses import error_response, json_response
from router.runtime.worker import worker_of


def _model_object(name: str) -> dict[str, Any]:
    """OpenAI's model object for a public model name."""
    return {"id": name, "object": "model", "created": 0, "owned_by": "raceway"}


async def list_models(request: Request) -> Response:
    if gemini.is_google_client(request):  # the same path in Google's API
        return await gemini.list_models(request)
    gateway = worker_of(request).gateway
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"), request.scope)
    except GatewayError as exc:
        return error_response(exc)
    data = [_model_object(name) for name in gateway.visible_models(key)]
    return json_response(orjson.dumps({"object": "list", "data": data}))


async def retrieve_model(request: Request) -> Response:
    """One model, as ``GET /v1/models`` lists it; a model the key may not use does not exist for it."""
    if gemini.is_google_client(request):
        return await gemini.retrieve_model(request)
    gateway = worker_of(request).gateway
    name: str = request.path_params["model"]
    try:
        key = gateway.keyring.authenticate(request.headers.get("authorization"), request.scope)
        if name not in gateway.config.models or (key is not None and not key.allows(name)):
            message = f"the model {name!r} does not exist or this key may not use it"
            raise ModelNotFound(message, param="model")
    except GatewayError as exc:
        return error_response(exc)
    return json_response(orjson.dumps(_model_object(name)))
