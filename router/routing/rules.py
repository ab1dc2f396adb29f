"""Which model group serves a request: routing rules, then the group's strategy, then an override.

The three tiers follow VAPORA's LLM router: operator rules may send a request to another
group (by tags, user or prompt length); the group's strategy then picks deployments; and
a key that is allowed to may pin one deployment with the ``x-raceway-deployment`` header.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from router.config.gateway_keys import GatewayKey
from router.config.model import GatewayConfig
from router.config.model_groups import ModelGroup, RouteMatch
from router.errors import InvalidRequest, ModelNotFound, PermissionDenied
from router.providers.correlation import NO_HEADERS, anthropic_headers, trace_context
from router.routing.sessions import AffinityResult, Session

TAGS_HEADER = "x-raceway-tags"
OVERRIDE_HEADER = "x-raceway-deployment"
# ``1``: a stream continued after a break (``resume``) ends with an SSE comment saying so.
RESUME_COMMENT_HEADER = "x-raceway-resume-comment"


@dataclass(slots=True)
class Decided:
    """What the dispatcher decided about a request that its record reports (access log, traces)."""

    affinity: AffinityResult = AffinityResult.OFF
    alone: str | None = None  # why a race or hedge sent it to one deployment (``HedgeSkip``)


@dataclass(frozen=True, slots=True)
class RoutedRequest:
    group: ModelGroup
    requested: str  # the model name the client asked for
    prompt_tokens: int
    stream: bool
    rule: str | None = None  # the routing rule that chose the group, if any
    pinned: str | None = None  # a deployment pinned by override
    trace: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)  # the client's W3C trace context
    forwarded: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)  # anthropic-version, -beta
    session: Session | None = None  # its conversation, when a group on its way has affinity
    frugal: bool = False  # the key is near its budget: no hedges
    resume_comment: bool = False  # the client asked to be told of continuations (RESUME_COMMENT_HEADER)
    decided: Decided = field(default_factory=Decided)


def estimate_prompt_tokens(body: dict[str, Any]) -> int:
    """About four characters a token: enough to compare against a context window.

    Reads the text of every dialect's prompt whatever its shape: chat's and Anthropic's
    ``messages`` (and Anthropic's ``system``), the Responses API's ``instructions`` and ``input``
    items, legacy completions' ``prompt``, embeddings' ``input``, Gemini's ``contents`` and
    ``systemInstruction`` parts. Validation checks the fields
    of the endpoint called, so another endpoint's field (a stray ``messages`` in an embeddings
    request) may be anything; it is passed through, and counts only if well formed.
    """
    characters = _text_size(body.get("system")) + _text_size(body.get("instructions"))
    characters += _text_size(body.get("prompt"))
    messages = body.get("messages")
    for message in messages if type(messages) is list else ():
        if type(message) is dict:
            characters += _text_size(message.get("content"))
    for content in _gemini_contents(body):
        characters += _text_size(content.get("parts"))
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        characters += len(raw_input)
    elif isinstance(raw_input, list):
        for item in raw_input:
            if isinstance(item, str | list):
                characters += len(item)  # a text, or token ids
            elif type(item) is dict:  # a Responses input item
                characters += _text_size(item.get("content")) + _text_size(item.get("output"))
                characters += _text_size(item.get("arguments"))
            else:
                characters += 1
    return (characters + 3) // 4


def _gemini_contents(body: dict[str, Any]) -> list[dict[str, Any]]:
    """A Gemini request's contents and system instruction (each holding ``parts``)."""
    contents = body.get("contents")
    found = [c for c in contents if type(c) is dict] if type(contents) is list else []
    system = body.get("systemInstruction")
    return [*found, system] if type(system) is dict else found


def _text_size(content: Any) -> int:
    """Characters of a content value: a string, or parts and blocks holding ``text`` (or, for an
    Anthropic tool result, content of their own)."""
    if isinstance(content, str):
        return len(content)
    size = 0
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                size += len(part)
            elif isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    size += len(text)
                elif part.get("type") == "tool_result":
                    size += _text_size(part.get("content"))
    return size


def _matches(match: RouteMatch, model: str, tags: frozenset[str], user: object, prompt_tokens: int) -> bool:
    if match.model is not None and match.model != model:
        return False
    if match.tags and not match.tags & tags:
        return False
    if match.user is not None and not (isinstance(user, str) and fnmatchcase(user, match.user)):
        return False
    if match.min_prompt_tokens is not None and prompt_tokens < match.min_prompt_tokens:
        return False
    return match.max_prompt_tokens is None or prompt_tokens <= match.max_prompt_tokens


def route(
    config: GatewayConfig,
    model: str,
    body: dict[str, Any],
    key: GatewayKey | None,
    headers: Mapping[str, str],
    *,
    anthropic_client: bool = False,
) -> RoutedRequest:
    """Resolve the requested model to a group (and maybe a pinned deployment).

    ``anthropic_client``: the request came in Anthropic's dialect, so its ``anthropic-version``
    and ``anthropic-beta`` go to Anthropic deployments (a chat client's would describe a
    format its translation does not speak)."""
    group = config.models.get(model)
    if group is None:
        raise ModelNotFound(f"the model {model!r} does not exist", param="model")
    if key is not None and not key.allows(model):
        raise PermissionDenied(f"this key may not use the model {model!r}", param="model")
    prompt_tokens = estimate_prompt_tokens(body)
    rule_name = None
    if config.routes:
        raw_tags = headers.get(TAGS_HEADER, "")
        tags = frozenset(tag.strip() for tag in raw_tags.split(",") if tag.strip())
        for rule in config.routes:
            if _matches(rule.match, model, tags, body.get("user"), prompt_tokens):
                group, rule_name = config.models[rule.to], rule.name
                break
    pinned = headers.get(OVERRIDE_HEADER)
    if pinned is not None:
        if key is not None and not key.allow_override:
            raise PermissionDenied(
                f"this key may not pin deployments with {OVERRIDE_HEADER}", code="override_not_allowed"
            )
        if pinned not in group.deployments:
            raise InvalidRequest(
                f"{OVERRIDE_HEADER} names no deployment of the model {group.name!r}",
                param=OVERRIDE_HEADER,
                code="invalid_override",
            )
    return RoutedRequest(
        group=group,
        requested=model,
        prompt_tokens=prompt_tokens,
        stream=bool(body.get("stream")),
        rule=rule_name,
        pinned=pinned,
        trace=trace_context(headers),
        forwarded=anthropic_headers(headers) if anthropic_client else NO_HEADERS,
        resume_comment=headers.get(RESUME_COMMENT_HEADER) == "1",
    )
