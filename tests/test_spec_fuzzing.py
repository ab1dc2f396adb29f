"""Property: every request the providers' specifications call valid is answered as they would.

Bodies are drawn from the official request schemas (``tests/spec_bodies.py``): OpenAI's
chat, legacy completions, embeddings and Responses, Anthropic's Messages (the SDK's
``MessageCreateParams``), Google's ``generateContent`` (google-genai's types, JSON and
streamed). Each goes through the real application in-process to a deployment
of its own wire API on the scripted upstream (a pass-through route; completions through
chat, the only way Raceway serves them), and:

- no answer is a 5xx;
- every refusal is an error of the client's dialect (its official error schema);
- every request is answered 2xx unless the README documents its refusal (``DOCUMENTED``), the
  provider itself refuses it (``PROVIDER_RULES``), or it is a known bug (``PENDING_FIXES``);
- every 2xx answer, JSON or each stream event, is valid against the dialect's schema, and
  every request that reached the upstream against the upstream's request schema;
- Gemini's bodies also go to the other wires, translated: a refusal there is what the
  translation table says cannot cross, so only its shape is checked, and every request that
  goes upstream is one the target's own schema accepts.

Derandomized and bounded like ``tests/test_request_properties.py``, at a fraction of its budget.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from router.config.load import parse_config
from router.http.app import create_app
from tests.bodies import PROPERTY
from tests.oracles import DIALECTS, Dialect, Shape, request_shape, violations
from tests.spec_bodies import bodies
from tests.upstream import FakeUpstream
from tests.wire_tap import Exchange

EXAMPLES = settings(PROPERTY, max_examples=150)


@dataclass(frozen=True)
class Refusal:
    """A 400 the README documents for a request the specification allows."""

    why: str  # where the README says so
    applies: Callable[[dict[str, Any]], bool]  # the request is one of those
    message: str  # a regular expression the error's message matches


def _prompt_is_not_one_text(body: dict[str, Any]) -> bool:
    prompt = body.get("prompt")
    return not (
        isinstance(prompt, str)
        or (isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str))
    )


DOCUMENTED: dict[str, tuple[Refusal, ...]] = {
    "responses": (
        Refusal(
            "Endpoints: stateless, the whole conversation goes in `input`",
            lambda body: body.get("input") is None,
            r"'input' is required",
        ),
        Refusal(
            "Endpoints: `previous_response_id`, `store: true` and `background` are refused with 400",
            lambda body: (
                body.get("previous_response_id") is not None
                or body.get("store") is True
                or bool(body.get("background"))
            ),
            r"Raceway stores no responses",
        ),
    ),
    "completions": (
        Refusal(
            "Dialects: token-id prompts, several prompts, `echo`, `suffix` and `best_of` > 1 are 400",
            lambda body: (
                _prompt_is_not_one_text(body)
                or bool(body.get("echo"))
                or body.get("suffix") is not None
                or (body.get("best_of") or 1) > 1
            ),
            r"prompt|echo|suffix|best_of",
        ),
    ),
}


def _whole_float(value: Any) -> bool:
    """Somewhere in ``value`` a float with no fraction (``2.0``), which JSON counts as an integer."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(map(_whole_float, value.values()))
    return isinstance(value, list) and any(map(_whole_float, value))


# What the provider itself refuses though its schema allows it (its prose or its service says
# so); Raceway refuses the same, with the provider's own status.
_STREAM_OPTIONS = Refusal(
    "OpenAI: 'stream_options' is only allowed when 'stream' is enabled",
    lambda body: body.get("stream_options") is not None and body.get("stream") is not True,
    r"'stream_options' is only allowed when 'stream' is true",
)
PROVIDER_RULES: dict[str, tuple[Refusal, ...]] = {
    "chat": (_STREAM_OPTIONS,),
    "completions": (_STREAM_OPTIONS,),
    "gemini-count": (
        Refusal(
            "Gemini: countTokens counts `contents` or a `generateContentRequest`, one of them given",
            lambda body: not body.get("contents") and not body.get("generateContentRequest"),
            r"'contents' \(or 'generateContentRequest.contents'\) is required",
        ),
    ),
}

# TEMPORARY: known bugs being fixed on other branches; the lead removes an entry when its fix
# merges. A 400 matching one is tolerated (it is still checked for its shape).
PENDING_FIXES: dict[str, tuple[Refusal, ...]] = {}

REFUSALS = (DOCUMENTED, PROVIDER_RULES, PENDING_FIXES)
ENDPOINTS = {
    **DIALECTS,
    "gemini-count": Dialect(Shape.GEMINI_TOKEN_COUNT, Shape.GEMINI_TOKEN_COUNT, Shape.GEMINI_ERROR),
}


def gateway_config(upstream: FakeUpstream) -> str:
    return f"""
    deployments:
      - {{name: up-chat, provider: openai, base_url: "{upstream.base_url}", model: up-chat, timeout: 5s,
         cooldown: {{failures: 1000000}}}}
      - {{name: up-responses, provider: openai, api: responses, base_url: "{upstream.base_url}",
         model: up-responses, timeout: 5s, cooldown: {{failures: 1000000}}}}
      - {{name: up-messages, provider: anthropic, base_url: "{upstream.root_url}", model: up-messages,
         timeout: 5s, cooldown: {{failures: 1000000}}}}
      - {{name: up-gemini, provider: gemini, base_url: "{upstream.root_url}", model: up-gemini,
         timeout: 5s, cooldown: {{failures: 1000000}}}}
    models:
      - {{name: chat, deployments: [up-chat]}}
      - {{name: responses, deployments: [up-responses]}}
      - {{name: messages, deployments: [up-messages]}}
      - {{name: gemini, deployments: [up-gemini]}}
    """


@pytest.fixture
async def client(upstream: FakeUpstream) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(parse_config(gateway_config(upstream).encode(), {}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway", timeout=10) as http:
            yield http


async def answered_as_specified(
    client: httpx.AsyncClient,
    upstream: FakeUpstream,
    dialect: str,
    path: str,
    body: dict[str, Any],
    *,
    translated: bool = False,
) -> None:
    """``translated``: to another wire, where what cannot cross is refused (the translation
    tables say what): a 400 is then checked for its shape only."""
    upstream.reset()
    response = await client.post(
        path, content=orjson.dumps(body), headers={"content-type": "application/json"}
    )
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    exchange = Exchange(path, status, response.headers, response.content)
    found: list[str] = []
    if status >= 400:
        found += violations(ENDPOINTS[dialect].error, exchange.json())
        message = str((exchange.json().get("error") or {}).get("message", ""))
        event(f"{status} {message[:60]}")
        known = (r for table in REFUSALS for r in table.get(dialect, ()))
        if not translated and not any(r.applies(body) and re.search(r.message, message) for r in known):
            found.append(f"a valid request refused: {status} {message}")
    elif exchange.streamed:
        event(f"{status} stream")
        for _, data in exchange.events():
            if data != "[DONE]":
                found += violations(ENDPOINTS[dialect].shape_of_event(data), data)
    else:
        event(f"{status}")
        found += violations(ENDPOINTS[dialect].answer, exchange.json())
    for seen in upstream.requests:
        found += violations(request_shape(seen.path), seen.body)
    assert not found, "\n".join([orjson.dumps(body).decode()[:1500], *found])


@EXAMPLES
@given(body=bodies(Shape.CHAT_REQUEST, model="chat"))
async def test_valid_chat_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "chat", "/v1/chat/completions", body)


@EXAMPLES
@given(body=bodies(Shape.RESPONSES_REQUEST, model="responses", required=("input",)))
async def test_valid_responses_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "responses", "/v1/responses", body)


@EXAMPLES
@given(body=bodies(Shape.MESSAGES_REQUEST, model="messages"))
async def test_valid_messages_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "messages", "/v1/messages", body)


@EXAMPLES
@given(body=bodies(Shape.COMPLETIONS_REQUEST, model="chat"))
async def test_valid_completions_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "completions", "/v1/completions", body)


@settings(EXAMPLES, max_examples=100)
@given(body=bodies(Shape.EMBEDDINGS_REQUEST, model="chat"))
async def test_valid_embeddings_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "embeddings", "/v1/embeddings", body)


GEMINI_PATHS = (
    "/v1beta/models/gemini:generateContent",
    "/v1beta/models/gemini:streamGenerateContent?alt=sse",
)


@settings(EXAMPLES, max_examples=100)  # Google's schema is the slowest to check: fewer
@given(body=bodies(Shape.GEMINI_REQUEST), path=st.sampled_from(GEMINI_PATHS))
async def test_valid_gemini_requests_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any], path: str
) -> None:
    await answered_as_specified(client, upstream, "gemini", path, body)


@settings(EXAMPLES, max_examples=30)
@given(body=bodies(Shape.GEMINI_COUNT_REQUEST))
async def test_valid_gemini_token_counts_are_answered(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any]
) -> None:
    await answered_as_specified(client, upstream, "gemini-count", "/v1beta/models/gemini:countTokens", body)


@settings(EXAMPLES, max_examples=80)
@given(
    body=bodies(Shape.GEMINI_REQUEST),
    group=st.sampled_from(["chat", "messages", "responses"]),
    method=st.sampled_from(["generateContent", "streamGenerateContent?alt=sse"]),
)
async def test_gemini_requests_translated_to_every_wire_are_valid_there(
    client: httpx.AsyncClient, upstream: FakeUpstream, body: dict[str, Any], group: str, method: str
) -> None:
    path = f"/v1beta/models/{group}:{method}"
    await answered_as_specified(client, upstream, "gemini", path, body, translated=True)
