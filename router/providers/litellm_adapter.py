"""Adapter for providers whose API is not OpenAI's (Anthropic, Gemini, Bedrock...), via litellm.

litellm costs seconds to import and milliseconds of CPU per call, so it is imported only
when a deployment needs it and never sits on the OpenAI-compatible hot path.
"""

from __future__ import annotations

import importlib
import logging
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import orjson

from router.config.model import Deployment
from router.errors import GatewayError, UpstreamError, UpstreamTimeout
from router.providers.base import RequestBody
from router.providers.correlation import Correlation
from router.providers.litellm_params import CHAT, EMBEDDINGS, Surface, litellm_arguments
from router.providers.upstream_errors import Scrubber, error_from_status
from router.wire.dialect import Dialect
from router.wire.sse import DONE_EVENT, Batches

logger = logging.getLogger("raceway.litellm")

_PROVIDER_HEADER = "llm_provider-"  # how litellm names the upstream's own response headers


def load_litellm() -> ModuleType:
    """Import litellm with its price map read from the package, never from the network."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    module = importlib.import_module("litellm")
    logging.getLogger("LiteLLM").setLevel(logging.WARNING)  # it logs every call at INFO
    setattr(module, "telemetry", False)  # noqa: B010 (litellm's module-level switches)
    setattr(module, "suppress_debug_info", True)  # noqa: B010
    return module


@contextmanager
def translate_errors(
    settings: Deployment, scrubber: Scrubber, correlation: Correlation | None = None
) -> Iterator[None]:
    """The one place where litellm's exceptions (subclasses of openai's) become gateway errors."""
    import openai

    deployment = settings.name

    try:
        yield
    except GatewayError:
        raise
    except openai.APITimeoutError as exc:
        raise UpstreamTimeout(f"deployment {deployment} timed out", deployment=deployment) from exc
    except openai.APIConnectionError as exc:
        raise UpstreamError(
            f"cannot connect to deployment {deployment}", deployment=deployment, code="upstream_connect_error"
        ) from exc
    except Exception as exc:
        status = getattr(exc, "status_code", None)
        if not isinstance(status, int):
            # Its traceback may quote a key or a URL that carries one: logged scrubbed.
            trace = scrubber("".join(traceback.format_exception(exc)))
            logger.error("litellm adapter failed for deployment %s:\n%s", deployment, trace)
            raise UpstreamError(
                f"deployment {deployment} failed in its adapter", deployment=deployment
            ) from exc
        # litellm keeps the upstream's own headers aside; its ``response`` may be a stand-in.
        response = getattr(exc, "response", None)
        headers = dict(
            getattr(exc, "litellm_response_headers", None) or getattr(response, "headers", None) or {}
        )
        if correlation is not None:
            correlation.answered(headers)
        body = orjson.dumps({"error": {"message": str(getattr(exc, "message", exc))}})
        raise error_from_status(
            status,
            body,
            headers,
            deployment=deployment,
            scrubber=scrubber,
            max_retry_after=settings.cooldown.max_retry_after,
        ) from exc


class LiteLLMProvider:
    """One deployment called through ``litellm.acompletion`` and translated back to OpenAI's format."""

    wire = Dialect.CHAT

    def __init__(self, deployment: Deployment, litellm: ModuleType, scrubber: Scrubber | None = None) -> None:
        """``scrubber``: what to remove from upstream errors (default: this deployment's own secrets)."""
        self.deployment = deployment
        self._litellm = litellm
        self._model = f"{deployment.provider}/{deployment.model}"
        own = [value.reveal() for value in deployment.headers.values()]
        own += [deployment.api_key.reveal()] if deployment.api_key else []
        self._scrubber = scrubber if scrubber is not None else Scrubber(own)

    def _arguments(
        self, body: RequestBody, surface: Surface, correlation: Correlation | None
    ) -> dict[str, Any]:
        """The client's allowed fields; the model, its key, address and headers from the config only
        (and, with them, the client's trace context: two fixed names, checked values)."""
        arguments = litellm_arguments(body, surface, self.deployment)
        arguments["model"] = self._model
        arguments["timeout"] = self.deployment.timeout
        arguments["num_retries"] = 0  # retries are the router's decision, not the adapter's
        if self.deployment.api_key is not None:
            arguments["api_key"] = self.deployment.api_key.reveal()
        if self.deployment.base_url is not None:
            arguments["api_base"] = self.deployment.base_url
        headers = {k: v.reveal() for k, v in self.deployment.headers.items()}
        if correlation is not None:
            headers = correlation.headers(headers)
        if headers:
            arguments["extra_headers"] = headers
        return arguments

    async def complete(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        arguments = self._arguments(body, CHAT, correlation)
        with translate_errors(self.deployment, self._scrubber, correlation):
            response = await self._litellm.acompletion(messages=body["messages"], **arguments)
            _answered(correlation, response)
            return orjson.dumps(response.model_dump(exclude_none=True))

    async def stream(self, body: RequestBody, correlation: Correlation | None = None) -> Batches:
        arguments = self._arguments(body, CHAT, correlation)
        with translate_errors(self.deployment, self._scrubber, correlation):
            stream = await self._litellm.acompletion(messages=body["messages"], stream=True, **arguments)
            _answered(correlation, stream)
            async for chunk in stream:  # litellm hands on its chunks one at a time
                yield [b"data: " + orjson.dumps(chunk.model_dump(exclude_none=True)) + b"\n\n"]
        yield [DONE_EVENT]

    async def embeddings(self, body: RequestBody, correlation: Correlation | None = None) -> bytes:
        arguments = self._arguments(body, EMBEDDINGS, correlation)
        with translate_errors(self.deployment, self._scrubber, correlation):
            response = await self._litellm.aembedding(input=body["input"], **arguments)
            _answered(correlation, response)
            return orjson.dumps(response.model_dump(exclude_none=True))

    async def close(self) -> None:
        return None


def _answered(correlation: Correlation | None, answer: Any) -> None:
    """Tell ``correlation`` the upstream's response headers, which litellm keeps in its answer's
    hidden params (each prefixed ``llm_provider-``, and OpenAI's rate-limit headers also bare)."""
    hidden = getattr(answer, "_hidden_params", None)
    headers = hidden.get("additional_headers") if isinstance(hidden, dict) else None
    if correlation is not None and isinstance(headers, dict):
        correlation.answered(
            {str(name).removeprefix(_PROVIDER_HEADER): value for name, value in headers.items()}
        )
