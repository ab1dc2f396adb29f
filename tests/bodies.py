"""Property tests of bad input: bodies drawn valid and broken at any depth, and what every
answer to them must be.

A body is drawn valid first (so routing, the cache, the providers and the upstream call are
reached), then 0-3 of its values, anywhere in the tree, are swapped for something wild: any
JSON value, a value nested hundreds of levels deep, or one of the values that break code
which assumes a type ([], {}, null, huge numbers...). Some bodies are not JSON objects at all.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st

from router.providers.litellm_params import CHAT

# The test configs' groups (one on the built-in fake, one on a native upstream), and one unknown.
MODELS = ("m", "n", "m", "n", "no-such-model")
# OpenAI's documented chat fields (wild values go into these too, not only into unknown ones).
CHAT_FIELDS = ["messages", "metadata", "stream", *sorted(CHAT.parameters)]
ROLES = ("system", "developer", "user", "assistant", "tool", "function")

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),  # past 64 bits, orjson reads a float
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
JSON = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10,
)
_AWKWARD = st.sampled_from(
    [[], {}, None, "", 0, -1, True, 2**64, -(2**63) - 1, 1e308, "\x00", "\u2028", [[]], [{}], {"": None}]
).map(copy.deepcopy)  # a fresh object each time: bodies are edited after they are drawn


def nest(levels: int, shape: str) -> Any:
    """``levels`` arrays or objects, one inside the other (JSON parsers read up to ~1,024)."""
    value: Any = "x"
    for level in range(levels):
        value = [value] if shape == "[" or (shape == "mixed" and level % 2) else {"k": value}
    return value


DEEP = st.builds(nest, st.integers(min_value=120, max_value=600), st.sampled_from(["[", "{", "mixed"]))
WILD = st.one_of(st.none(), _AWKWARD, JSON, DEEP)

_text_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=30)})
_image_part = st.fixed_dictionaries(
    {
        "type": st.just("image_url"),
        "image_url": st.fixed_dictionaries({"url": st.just("https://x.test/a.png")}),
    }
)
_tool_call = st.fixed_dictionaries(
    {
        "id": st.text(min_size=1, max_size=8),
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": st.just("f"), "arguments": st.just("{}")}),
    }
)
MESSAGE = st.one_of(
    st.fixed_dictionaries(
        {"role": st.sampled_from(ROLES), "content": st.text(max_size=60)},
        optional={"name": st.text(min_size=1, max_size=8)},
    ),
    st.fixed_dictionaries(
        {"role": st.just("user"), "content": st.lists(_text_part | _image_part, min_size=1, max_size=3)}
    ),
    st.fixed_dictionaries(
        {
            "role": st.just("assistant"),
            "content": st.none(),
            "tool_calls": st.lists(_tool_call, min_size=1, max_size=2),
        }
    ),
    st.fixed_dictionaries(
        {"role": st.just("tool"), "content": st.text(max_size=20), "tool_call_id": st.just("c1")}
    ),
)
_tool = st.fixed_dictionaries(
    {
        "type": st.just("function"),
        "function": st.fixed_dictionaries(
            {"name": st.just("f")}, optional={"parameters": st.just({"type": "object", "properties": {}})}
        ),
    }
)
# A well-formed value for each optional chat field the tests bother to make valid.
CHAT_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.sampled_from([0, 0.0, 0.7, 2]),
    "top_p": st.floats(min_value=0, max_value=1),
    "max_tokens": st.integers(min_value=1, max_value=4096),
    "max_completion_tokens": st.integers(min_value=1, max_value=4096),
    "n": st.just(1),
    "seed": st.integers(min_value=0, max_value=2**31),
    "stop": st.text(min_size=1, max_size=4) | st.lists(st.text(min_size=1, max_size=4), max_size=2),
    "user": st.sampled_from(["alice", "batch-nightly", "batch-", "b*"]),
    "stream": st.booleans(),
    "tools": st.lists(_tool, min_size=1, max_size=2),
    "tool_choice": st.sampled_from(["auto", "none", {"type": "function", "function": {"name": "f"}}]),
    "response_format": st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
    "metadata": st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=3),
    "logit_bias": st.just({"50256": -100}),
    "top_k": st.integers(min_value=1, max_value=50),  # a provider extra: passed through
}
assert set(CHAT_OPTIONS) - {"top_k"} <= set(CHAT_FIELDS), "options must be documented chat fields"


# Strategies are built once, here: building one inside a draw costs more than the draw.
_MODEL = st.sampled_from(MODELS)
_MESSAGES = st.lists(MESSAGE, min_size=1, max_size=3)
_OPTIONS = st.sets(st.sampled_from(sorted(CHAT_OPTIONS)), max_size=4)
_TOKENS = st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=5)
_INPUT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=3),
    _TOKENS,
    st.lists(_TOKENS, min_size=1, max_size=3),
)
_EMBEDDINGS_OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "dimensions": st.integers(min_value=1, max_value=3072),
    "encoding_format": st.sampled_from(["float", "base64"]),
    "user": st.sampled_from(["alice", "batch-nightly"]),
    "messages": WILD | st.lists(MESSAGE, max_size=2),  # a chat field, as some clients send
}
_EMBEDDINGS_OPTION_SET = st.sets(st.sampled_from(sorted(_EMBEDDINGS_OPTIONS)), max_size=3)
_BREAKS = st.integers(min_value=0, max_value=3)
_PICK = st.integers(min_value=0, max_value=2**16)  # an index, modulo the number of choices
_NEW_FIELD = st.one_of(st.sampled_from([*CHAT_FIELDS, "input", "dimensions", "x_extra"]), st.text(max_size=6))


@st.composite
def chat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": draw(_MODEL), "messages": draw(_MESSAGES)}
    for name in sorted(draw(_OPTIONS)):  # a set's order varies with PYTHONHASHSEED
        body[name] = draw(CHAT_OPTIONS[name])
    if body.get("stream") is True and draw(_PICK) % 2:
        body["stream_options"] = {"include_usage": bool(draw(_PICK) % 2)}
    return _broken(draw, body)


@st.composite
def embeddings_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": draw(_MODEL), "input": draw(_INPUT)}
    for name in sorted(draw(_EMBEDDINGS_OPTION_SET)):
        body[name] = draw(_EMBEDDINGS_OPTIONS[name])
    return _broken(draw, body)


def _broken(draw: st.DrawFn, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with up to three places anywhere in it broken: a value swapped for a wild one, a
    field left out (a required one, often), or a field added."""
    body = copy.deepcopy(body)  # strategies such as st.just hand out the same object every time
    for _ in range(draw(_BREAKS)):
        places = list(_places(body))
        if not places:  # every field was left out by the breaks before
            body[draw(_NEW_FIELD)] = draw(WILD)
            continue
        container, key = places[draw(_PICK) % len(places)]
        how = draw(_PICK) % 4 if isinstance(container, dict) else 0
        if how == 1 and len(places) > 1:
            del container[key]
            continue
        if how == 2:
            key = draw(_NEW_FIELD)
        container[key] = draw(WILD)
    return body


def _places(value: Any, depth: int = 0) -> Any:
    """Every (container, key or index) in ``value`` down to 8 levels (not into a deep value)."""
    if depth == 8:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield value, key
            yield from _places(item, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield value, index
            yield from _places(item, depth + 1)


def encoded(body: Any, ascii_only: bool) -> bytes:
    """JSON text of any body, even one too deep for orjson to write."""
    return json.dumps(body, ensure_ascii=ascii_only).encode()


# Request bodies that are not a JSON object at all, or not JSON.
NOT_AN_OBJECT = st.one_of(
    st.binary(max_size=40),
    st.builds(encoded, JSON, st.booleans()),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"model": "m", "messages": [',
            b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}',  # a lone surrogate
            b'{"model": "m", "temperature": 1e400}',
            b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": NaN}',
            b"\xef\xbb\xbf{}",  # a byte-order mark
            b'{"model": "m"}' * 2,
            b"[" * 1025 + b"]" * 1025,
        ]
    ),
)


PROPERTY = settings(
    max_examples=2000,
    deadline=None,
    derandomize=True,  # the same bodies on every run
    database=None,  # nothing saved between runs (and no .hypothesis/ left behind)
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def gateway_config(upstream_url: str) -> str:
    """Every step that reads the request: rules on user, tags and prompt size, the cache, a token
    rate limit and a context window, the fake provider and a native upstream call, CORS and the
    renaming of answers."""
    return f"""
    server: {{response_model: public, cors: {{origins: ["https://app.example.com"]}}}}
    deployments:
      - {{name: f, provider: fake, tpm: 100000000, max_input_tokens: 100000}}
      - {{name: up, provider: openai, base_url: "{upstream_url}", model: up, timeout: 5s,
         cooldown: {{failures: 1000000}}}}
    models:
      - {{name: m, deployments: [f], cache: {{mode: always}}}}
      - {{name: n, deployments: [up], fallbacks: [m]}}
    routes:
      - {{name: batch, match: {{user: "batch-*"}}, to: n}}
      - {{name: vip, match: {{tags: [vip]}}, to: m}}
      - {{name: long, match: {{model: n, min_prompt_tokens: 30}}, to: m}}
    cache: {{max_entries: 100}}
    """


HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "x-raceway-tags": st.sampled_from(["vip", "vip, eu", ",,", "eu , ,vip"]),
        "x-raceway-deployment": st.sampled_from(["f", "up", "nope"]),
        "cache-control": st.sampled_from(["no-cache", "no-store", "no-cache, no-store"]),
        "x-request-id": st.sampled_from(["abc-1", "bad id!", "x" * 200]),
        "origin": st.sampled_from(["https://app.example.com", "https://elsewhere.example", "null"]),
    },
)


def assert_answered(response: httpx.Response) -> None:
    """Below 500; a refusal in OpenAI's shape; an answer that is whole."""
    status = response.status_code
    event(f"{status} {response.json()['error']['code'] if status >= 400 else ''}".strip())
    assert status < 500, f"{status}: {response.text[:500]}"
    if status >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}, error
        assert isinstance(error["message"], str) and error["message"]
        assert isinstance(error["type"], str) and error["type"]
        assert error["param"] is None or isinstance(error["param"], str)
        assert error["code"] is None or isinstance(error["code"], str)
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.endswith("data: [DONE]\n\n"), response.text[-300:]
    else:
        assert response.json()["object"] in ("chat.completion", "list")
