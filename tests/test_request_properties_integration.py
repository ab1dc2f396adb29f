"""The real server (`raceway serve`) against bad input over real sockets: generated bodies, and
requests that break HTTP itself. Every answer is below 500 (refusals OpenAI-shaped where
Raceway writes them), and the same worker process serves on afterwards.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bodies import (
    HEADERS,
    NOT_AN_OBJECT,
    PROPERTY,
    WILD,
    assert_answered,
    chat_bodies,
    embeddings_bodies,
    encoded,
    gateway_config,
)
from tests.conftest import Gateways, RunningGateway
from tests.upstream import FakeUpstream

pytestmark = pytest.mark.integration

SOCKETS = settings(PROPERTY, max_examples=300)
CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}'


def workers_of(gateway: RunningGateway) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(gateway.process.pid)], capture_output=True, text=True)
    return sorted(int(pid) for pid in found.stdout.split())


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> Iterator[RunningGateway]:
    running = gateways.serve(gateway_config(module_upstream.base_url), workers=1)
    before = workers_of(running)
    yield running
    # The worker that took every request below is the one still serving: none died.
    assert workers_of(running) == before
    client = openai.OpenAI(base_url=running.api_url, api_key="unused", max_retries=0, timeout=10)
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content == "echo: hi"
    assert "Traceback" not in "".join(running.output), "".join(running.output)[-3000:]


@pytest.fixture(scope="module")
def http(gateway: RunningGateway, gateways: Gateways) -> httpx.Client:
    return gateways.enter(httpx.Client(base_url=gateway.base_url, timeout=10))


def post(http: httpx.Client, path: str, raw: bytes, headers: dict[str, str]) -> None:
    assert_answered(http.post(path, content=raw, headers={"content-type": "application/json", **headers}))


@SOCKETS
@given(body=chat_bodies(), ascii_only=st.booleans(), headers=HEADERS)
def test_no_chat_body_gets_a_server_error(
    http: httpx.Client, body: dict[str, Any], ascii_only: bool, headers: dict[str, str]
) -> None:
    post(http, "/v1/chat/completions", encoded(body, ascii_only), headers)


@SOCKETS
@given(body=embeddings_bodies(), ascii_only=st.booleans(), headers=HEADERS)
def test_no_embeddings_body_gets_a_server_error(
    http: httpx.Client, body: dict[str, Any], ascii_only: bool, headers: dict[str, str]
) -> None:
    post(http, "/v1/embeddings", encoded(body, ascii_only), headers)


@settings(SOCKETS, max_examples=50)
@given(raw=NOT_AN_OBJECT)
def test_no_malformed_document_gets_a_server_error(http: httpx.Client, raw: bytes) -> None:
    post(http, "/v1/chat/completions", raw, {})


def exchange(gateway: RunningGateway, request: bytes) -> bytes:
    """Send raw bytes on a fresh connection; everything the server answers until it closes it."""
    host, port = gateway.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(request)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def request(head: bytes, body: bytes = CHAT, path: bytes = b"/v1/chat/completions") -> bytes:
    return (
        b"POST "
        + path
        + b" HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        + head
        + b"\r\n"
        + body
    )


def test_content_length_beside_transfer_encoding_is_answered_and_the_connection_closed(
    gateway: RunningGateway,
) -> None:
    # Before, h11 took the body as chunked and waited for chunks that never came: no answer.
    answer = exchange(gateway, request(b"content-length: %d\r\ntransfer-encoding: chunked\r\n" % len(CHAT)))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"connection: close" in head.lower()
    assert b'"code":"conflicting_framing"' in body


def test_a_trailing_slash_is_served_not_redirected(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions/", content=CHAT, headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "echo: hi"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request(b"x-a: a\rb\r\ncontent-length: %d\r\n" % len(CHAT)), 400),
        (request(b"x-a: a\x00b\r\ncontent-length: %d\r\n" % len(CHAT)), 400),
        (request(b"content-length: %d\r\ncontent-length: 5\r\n" % len(CHAT)), 400),
        (request(b"x-a: " + b"a" * 65536 + b"\r\ncontent-length: %d\r\n" % len(CHAT)), 431),
        (request(b"transfer-encoding: gzip\r\n"), 501),
        (b"HELLO WORLD\r\n\r\n", 400),
    ],
    ids=[
        "CR in a header",
        "NUL in a header",
        "conflicting Content-Length",
        "64 KiB header",
        "gzip",
        "garbage",
    ],
)
def test_what_hypercorn_refuses_itself_is_bodiless_and_closes_the_connection(
    gateway: RunningGateway, raw: bytes, status: int
) -> None:
    """Documented in docs/operations.md (Errors): h11 refuses these before the app is called, and
    hypercorn writes the answer with no body and no hook to shape it. If this test fails,
    hypercorn changed: make the answers OpenAI-shaped, or update the docs."""
    head, _, body = exchange(gateway, raw).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status) and b"connection: close" in head.lower()
    assert body == b""


# -- the Gemini dialect: bodies built from its fields, with wild values anywhere ---------

_GEMINI_PART = st.one_of(
    st.fixed_dictionaries({"text": st.one_of(st.text(max_size=20), WILD)}),
    st.fixed_dictionaries(
        {"inlineData": st.one_of(st.fixed_dictionaries({"mimeType": WILD, "data": WILD}), WILD)}
    ),
    st.fixed_dictionaries(
        {"functionCall": st.one_of(st.fixed_dictionaries({"name": WILD, "args": WILD}), WILD)}
    ),
    st.fixed_dictionaries({"functionResponse": st.fixed_dictionaries({"name": WILD, "response": WILD})}),
    st.fixed_dictionaries({"fileData": st.fixed_dictionaries({"fileUri": WILD})}),
    st.dictionaries(st.text(max_size=8), WILD, max_size=2),
)
_GEMINI_CONTENT = st.fixed_dictionaries(
    {"parts": st.one_of(st.lists(_GEMINI_PART, max_size=3), WILD)},
    optional={"role": st.one_of(st.sampled_from(["user", "model", "tool"]), WILD)},
)
GEMINI_BODIES = st.fixed_dictionaries(
    {"contents": st.one_of(st.lists(_GEMINI_CONTENT, min_size=1, max_size=3), WILD)},
    optional={
        "systemInstruction": st.one_of(_GEMINI_CONTENT, WILD),
        "generationConfig": st.one_of(
            st.dictionaries(
                st.sampled_from(
                    [
                        "temperature",
                        "maxOutputTokens",
                        "thinkingConfig",
                        "responseMimeType",
                        "candidateCount",
                        "stopSequences",
                    ]
                ),
                WILD,
                max_size=3,
            ),
            WILD,
        ),
        "tools": st.one_of(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "functionDeclarations": st.one_of(
                            st.lists(st.fixed_dictionaries({"name": WILD, "parameters": WILD}), max_size=2),
                            WILD,
                        )
                    }
                ),
                max_size=2,
            ),
            WILD,
        ),
        "toolConfig": WILD,
        "cachedContent": WILD,
    },
)


@settings(SOCKETS, max_examples=150)
@given(body=GEMINI_BODIES, stream=st.booleans())
def test_no_gemini_body_gets_a_server_error_and_refusals_are_googles(
    http: httpx.Client, body: dict[str, Any], stream: bool
) -> None:
    method = "streamGenerateContent?alt=sse" if stream else "generateContent"
    response = http.post(
        f"/v1beta/models/m:{method}",
        content=encoded(body, True),
        headers={"content-type": "application/json"},
    )
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"code", "message", "status"} and error["code"] == response.status_code, error
        assert isinstance(error["message"], str) and error["message"] and error["status"].isupper()
    elif stream:
        assert response.text.endswith("\n\n") and all(
            e.startswith("data: {") for e in response.text.split("\n\n")[:-1]
        )
    else:
        assert isinstance(response.json()["candidates"], list)
