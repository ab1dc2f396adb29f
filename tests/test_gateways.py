"""The fixtures integration modules share (tests/conftest.py, tests/sdks.py): ``gateways`` stops
every gateway and fake upstream it started when its module ends, also after a failure; ``sdks``
closes every client it built."""

from __future__ import annotations

from contextlib import AsyncExitStack, ExitStack
from typing import Any

import httpx
import pytest

from tests.conftest import Gateways, RunningGateway
from tests.sdks import Sdks
from tests.servers import recording_app, serve_in_thread

pytestmark = pytest.mark.integration


def test_what_a_module_started_is_stopped_when_it_ends_even_after_a_failure(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    seen: list[dict[str, Any]] = []
    started: list[RunningGateway] = []
    with pytest.raises(RuntimeError, match="a test failed"), ExitStack() as stack:
        gateways = Gateways(stack, tmp_path_factory, "factory")
        upstream = gateways.enter(serve_in_thread(recording_app(seen, reply="recorded")))
        config = f"""
        deployments: [{{name: up, provider: openai, base_url: "{upstream}/v1", model: up}}]
        models: [{{name: m, deployments: [up]}}]
        """
        started.append(gateways.serve(config, workers=1))
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{started[0].api_url}/chat/completions", json=body, timeout=10)
        assert answer.json()["choices"][0]["message"]["content"] == "recorded"
        raise RuntimeError("a test failed")
    (gateway,) = started
    assert gateway.process.returncode == 0  # stopped, and cleanly
    assert [request["path"] for request in seen] == ["/v1/chat/completions"]
    with pytest.raises(httpx.TransportError):
        httpx.get(upstream, timeout=2)


class Place:
    base_url = "http://127.0.0.1:9"
    api_url = f"{base_url}/v1"


async def test_every_client_built_for_a_test_is_closed_when_it_ends() -> None:
    place: Any = Place()
    async with AsyncExitStack() as stack:
        sdks = Sdks(stack)
        clients = [
            sdks.openai(place),
            sdks.anthropic(place),
            sdks.async_openai(place),
            sdks.async_anthropic(place),
        ]
        http = sdks.http(place)
        sdks.genai(place, key="unused")  # its closing is google-genai's own business (aio.aclose)
        assert not any(client.is_closed() for client in clients) and not http.is_closed
    assert all(client.is_closed() for client in clients) and http.is_closed
