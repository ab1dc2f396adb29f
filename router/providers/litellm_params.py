"""Which fields of a client's request may reach litellm: an allow-list, never the raw body.

litellm's ``acompletion`` takes routing and credentials as keyword arguments (``model_list``,
``fallbacks``, ``api_base``, ``extra_headers``, ``mock_response``, callbacks...), and the set
grows with its releases; a body handed over whole could send a deployment's key to any
host. So the arguments litellm gets are built from the documented request parameters of
the endpoint the client called (OpenAI's API reference), plus a deployment's own
``extra_params`` (provider extras such as ``top_k``); the model, key, base URL and headers
come from the config alone. A request carrying any other field is refused with 400 before
any deployment is called, by ``LiteLLMFieldPolicy``, and again by the adapter itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.config.model import Deployment, GatewayConfig
from router.errors import InvalidRequest


@dataclass(frozen=True, slots=True)
class Surface:
    """One endpoint's request fields: the adapter's own, and the documented parameters."""

    name: str
    own: frozenset[str]  # passed by the adapter itself (the model always from the config)
    parameters: frozenset[str]


CHAT = Surface(
    "chat completions",
    own=frozenset({"model", "messages", "stream"}),
    # OpenAI's Chat Completions request body, less ``metadata``: litellm reads that as its own
    # routing and logging metadata (a ``model_group`` in it changes what litellm does).
    parameters=frozenset(
        {
            "audio",
            "frequency_penalty",
            "function_call",
            "functions",
            "logit_bias",
            "logprobs",
            "max_completion_tokens",
            "max_tokens",
            "modalities",
            "n",
            "parallel_tool_calls",
            "prediction",
            "presence_penalty",
            "prompt_cache_key",
            "prompt_cache_retention",
            "reasoning_effort",
            "response_format",
            "safety_identifier",
            "seed",
            "service_tier",
            "stop",
            "store",
            "stream_options",
            "temperature",
            "tool_choice",
            "tools",
            "top_logprobs",
            "top_p",
            "user",
            "verbosity",
            "web_search_options",
        }
    ),
)
EMBEDDINGS = Surface(
    "embeddings",
    own=frozenset({"model", "input"}),
    parameters=frozenset({"dimensions", "encoding_format", "user"}),
)


def unlisted_field(body: Mapping[str, Any], surface: Surface, deployment: Deployment) -> str | None:
    """The first field of ``body`` that ``deployment`` may not pass to litellm, if any."""
    for name in body:
        if name not in surface.own and name not in surface.parameters and name not in deployment.extra_params:
            return name
    return None


def refuse(name: str, surface: Surface, deployment: Deployment) -> InvalidRequest:
    return InvalidRequest(
        f"the field {name!r} is not a {surface.name} parameter that deployment {deployment.name!r} "
        "accepts (it is served through litellm, which takes only documented parameters and the "
        "deployment's extra_params)",
        param=name,
        code="unsupported_field",
    )


def litellm_arguments(body: Mapping[str, Any], surface: Surface, deployment: Deployment) -> dict[str, Any]:
    """The client's part of litellm's arguments: its allowed fields, or ``InvalidRequest``."""
    name = unlisted_field(body, surface, deployment)
    if name is not None:
        raise refuse(name, surface, deployment)
    return {key: value for key, value in body.items() if key not in surface.own}


class LiteLLMFieldPolicy:
    """Refuses, before any call, a request with a field a litellm-served deployment it may reach
    would not accept, so the answer does not depend on which deployment happens to serve it."""

    __slots__ = ("_deployments", "_reach")

    def __init__(self, config: GatewayConfig) -> None:
        self._deployments = config.deployments
        self._reach: dict[str, tuple[Deployment, ...]] = {}
        for group in config.models.values():
            names = [name for served_by in config.served_by(group) for name in served_by.deployments]
            served = tuple(
                config.deployments[name]
                for name in dict.fromkeys(names)
                if config.deployments[name].uses_litellm
            )
            if served:
                self._reach[group.name] = served

    def check(self, group: str, pinned: str | None, body: Mapping[str, Any], surface: Surface) -> None:
        if pinned is not None:
            reachable: tuple[Deployment, ...] = (self._deployments[pinned],)
            if not reachable[0].uses_litellm:
                return
        else:
            found = self._reach.get(group)
            if found is None:
                return
            reachable = found
        for deployment in reachable:
            name = unlisted_field(body, surface, deployment)
            if name is not None:
                raise refuse(name, surface, deployment)
