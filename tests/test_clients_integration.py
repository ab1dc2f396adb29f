"""Slow and gone clients against the real server, over raw sockets: a body that stalls or
trickles is answered 408 and its connection closed, headers that never end are cut, and a
client that leaves midway is a 499 in the access log, not an error."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningGateway, serving

pytestmark = pytest.mark.integration

CONFIG = """
server: {body_timeout: 1s, keep_alive_timeout: 2s, graceful_timeout: 2s}
deployments: [{name: f, provider: fake}]
models: [{name: m, deployments: [f]}]
"""
HEAD = (
    b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n"
    b"content-type: application/json\r\ncontent-length: 200\r\n\r\n"
)
PATIENCE = 15.0  # the longest any wait here lasts


def port_of(gateway: RunningGateway) -> int:
    return int(gateway.base_url.rsplit(":", 1)[1])


def access_lines(gateway: RunningGateway) -> list[dict[str, Any]]:
    return [json.loads(line) for line in list(gateway.output) if line.startswith('{"ts"')]


def wait_for_access_lines(
    gateway: RunningGateway, count: int, where: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + PATIENCE
    while len(found := [line for line in access_lines(gateway) if where(line)]) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} lines:\n" + "".join(gateway.output)
        time.sleep(0.05)
    return found


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode().strip().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    try:
        return await reader.read(1) == b""
    except ConnectionResetError:
        return True


async def slow_client(port: int, *, trickle: bool) -> tuple[int, dict[str, str], bytes, bool]:
    """Headers and the start of a body, then silence (or one byte every 200 ms); the answer,
    and whether the server closed the connection after it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def trickling() -> None:
        while True:
            await asyncio.sleep(0.2)
            writer.write(b" ")
            await writer.drain()

    writer.write(HEAD + b'{"model": "m", ')
    await writer.drain()
    sender = asyncio.create_task(trickling()) if trickle else None
    try:
        status, headers, body = await read_answer(reader)
        return status, headers, body, await closed(reader)
    finally:
        if sender is not None:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        writer.close()


async def test_bodies_that_stall_or_trickle_are_answered_408_and_closed(tmp_path: Path) -> None:
    with serving(CONFIG, tmp_path, workers=1) as gateway:
        port = port_of(gateway)
        async with asyncio.timeout(PATIENCE):
            clients = [asyncio.create_task(slow_client(port, trickle=index % 2 == 1)) for index in range(20)]
            async with httpx.AsyncClient(base_url=gateway.base_url) as client:
                assert (await client.get("/health")).status_code == 200  # the worker serves meanwhile
            answers = await asyncio.gather(*clients)
        for status, headers, body, was_closed in answers:
            assert status == 408 and headers["connection"] == "close" and was_closed
            assert json.loads(body) == {
                "error": {
                    "message": "the request body did not arrive within 1s",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_timeout",
                }
            }
        wait_for_access_lines(gateway, 20, lambda line: line["status"] == 408)
    assert "unhandled error" not in "".join(gateway.output)


async def test_headers_that_never_end_are_cut_at_the_keep_alive_timeout(tmp_path: Path) -> None:
    """hypercorn's idle timer runs from the connection's opening until its request's headers
    are complete: a client that trickles them is cut after ``keep_alive_timeout``."""
    with serving(CONFIG, tmp_path, workers=1) as gateway:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gateway))
        writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\n")
        said = b""
        async with asyncio.timeout(PATIENCE):
            while not reader.at_eof():
                writer.write(b"x-slow: 1\r\n")
                try:
                    await writer.drain()
                    said += await asyncio.wait_for(reader.read(1), 0.2)
                except TimeoutError:
                    continue
                except ConnectionError:
                    break
        writer.close()
        # Cut without a word: by the idle timer, not by the body timer (a 408) nor as a bad
        # request (a 400), and no request reached the app.
        assert said == b""
        assert access_lines(gateway) == []


async def test_a_client_that_leaves_midway_is_a_499_not_an_error(tmp_path: Path) -> None:
    with serving(CONFIG, tmp_path, workers=1) as gateway:
        for _ in range(3):
            _, writer = await asyncio.open_connection("127.0.0.1", port_of(gateway))
            writer.write(HEAD + b'{"model": "m", ')
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        lines = wait_for_access_lines(gateway, 3, lambda line: line["status"] == 499)
        assert all(line["error"] == "client_closed_request" for line in lines)
    output = "".join(gateway.output)
    assert "unhandled error" not in output and "ClientDisconnect" not in output


async def test_a_refusal_waits_for_the_whole_body_and_the_connection_serves_on(tmp_path: Path) -> None:
    """A wrong key is refused only once the body is in: answered while the client was still
    sending, the server would close the connection under the client's next request."""
    config = CONFIG + 'keys: [{name: k, key: "raceway-test-key-1"}]\n'
    body = b'{"model": "m", "messages": [{"role": "user", "content": "hello"}]}'
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/json\r\n"
        b"authorization: Bearer wrong-key-000\r\ncontent-length: %d\r\n\r\n" % len(body)
    )
    with serving(config, tmp_path, workers=1) as gateway:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(gateway))
        async with asyncio.timeout(PATIENCE):
            for _ in range(2):  # the second request travels on the first one's connection
                writer.write(head + body[:10])
                await writer.drain()
                with pytest.raises(TimeoutError):  # nothing is said while the body is incomplete
                    await asyncio.wait_for(reader.read(1), 0.3)
                writer.write(body[10:])
                status, headers, answer = await read_answer(reader)
                assert status == 401 and "connection" not in headers
                assert json.loads(answer)["error"]["code"] == "invalid_api_key"
        writer.close()
