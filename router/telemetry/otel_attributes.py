"""Tracing on: what goes on an attempt's span, read from its deployment and its answer (the GenAI
semantic conventions' ``gen_ai.*``, ``server.*`` and ``error.type``)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from router.errors import GatewayError

if TYPE_CHECKING:
    from router.wire.usage import Usage

# ``gen_ai.provider.name``: the conventions' well-known values; other providers keep their name.
_PROVIDER_NAMES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure.ai.openai",
    "bedrock": "aws.bedrock",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "gemini": "gcp.gemini",
    "groq": "groq",
    "mistral": "mistral_ai",
    "vertex_ai": "gcp.vertex_ai",
    "xai": "x_ai",
}


def provider_name(provider: str) -> str:
    """``gen_ai.provider.name`` of a deployment's provider."""
    return _PROVIDER_NAMES.get(provider, provider)


@functools.lru_cache(maxsize=1024)
def server_of(base_url: str | None) -> tuple[tuple[str, str | int], ...]:
    """``server.address`` and ``server.port`` of the upstream (never its path, query or
    credentials), as attribute pairs; a deployment's are worked out once."""
    if not base_url:
        return ()
    parts = urlsplit(base_url)
    if parts.hostname is None:
        return ()
    address = ("server.address", parts.hostname)
    try:
        port = parts.port
    except ValueError:
        return (address,)
    return (address, ("server.port", port or (443 if parts.scheme == "https" else 80)))


def operation_of(path: str) -> str:
    """``gen_ai.operation.name`` of an endpoint (the conventions' names; count_tokens is ours)."""
    if path.endswith("/embeddings"):
        return "embeddings"
    if path.endswith("/count_tokens"):
        return "count_tokens"
    if path.endswith("/completions") and not path.endswith("/chat/completions"):
        return "text_completion"
    return "chat"  # chat completions, Messages, Responses


def response_attributes(document: Any) -> dict[str, Any]:
    """Model and id of an answer, or of the first event of a stream that names them (chat's
    chunks; Messages' ``message_start`` and Responses' ``response.created`` hold them inside)."""
    if not isinstance(document, dict):
        return {}
    for inner in ("message", "response"):
        if isinstance(nested := document.get(inner), dict) and "model" in nested:
            document = nested
    attributes: dict[str, Any] = {}
    model, ident = document.get("model"), document.get("id")
    if isinstance(model, str):
        attributes["gen_ai.response.model"] = model
    if isinstance(ident, str):
        attributes["gen_ai.response.id"] = ident
    return attributes


def usage_attributes(usage: Usage | None) -> dict[str, int]:
    """Token counts as the conventions name them, whatever the dialect (``Usage`` is the same
    for all: input tokens include the prompt cache's reads and writes, as the conventions ask)."""
    if usage is None:
        return {}
    found = {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }
    if usage.cache_read:
        found["gen_ai.usage.cache_read.input_tokens"] = usage.cache_read
    if usage.cache_write:
        found["gen_ai.usage.cache_creation.input_tokens"] = usage.cache_write
    return found


def reasoning_attributes(document: dict[str, Any]) -> dict[str, int]:
    """``gen_ai.usage.reasoning.output_tokens``, from chat's or Responses' usage details."""
    usage = document.get("usage")
    if not isinstance(usage, dict):
        return {}
    for details in ("completion_tokens_details", "output_tokens_details"):
        found = usage.get(details)
        if isinstance(found, dict) and isinstance(reasoning := found.get("reasoning_tokens"), int):
            return {"gen_ai.usage.reasoning.output_tokens": reasoning}
    return {}


def error_type(error: BaseException) -> str:
    """``error.type``: the gateway's error code, else the exception's class (never its message,
    which may quote an upstream)."""
    if isinstance(error, GatewayError) and error.code:
        return error.code
    return type(error).__qualname__
