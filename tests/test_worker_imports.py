"""What a worker of the bundled example config loads: only what the config uses, so it starts
sooner and holds less (litellm only for an adapter deployment, OpenTelemetry only with traces,
Redis only as the state backend, aiohttp only for a deployment that calls an upstream)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from tests.conftest import REPO, start_gateway

NOT_FOR_THE_EXAMPLE = ("aiohttp", "litellm", "opentelemetry", "redis")


def imported(output: list[str]) -> set[str]:
    """The modules named by ``-X importtime`` lines (supervisor's and workers' alike)."""
    return {line.rsplit("|", 1)[1].strip() for line in output if line.startswith("import time:")}


def test_the_example_configs_workers_import_only_what_it_uses(tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    shutil.copy(REPO / "config" / "gateway.yaml", config)
    # Inherited by the spawned workers: each module is listed when first imported, at start or later.
    gateway = start_gateway(config, env={"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        with httpx.Client(base_url=gateway.base_url, timeout=30) as client:
            for stream in (False, True):
                assert client.post("/v1/chat/completions", json={**chat, "stream": stream}).status_code == 200
            messages = {"model": "claude-sonnet-4-5", "max_tokens": 16, "messages": chat["messages"]}
            assert client.post("/v1/messages", json=messages).status_code == 200
            assert client.get("/metrics").status_code == 200
    finally:
        assert gateway.stop() == 0
    modules = imported(gateway.output)
    assert {"router.http.app", "hypercorn.asyncio"} <= modules  # a worker's imports are listed
    loaded = sorted(name for name in modules if name.split(".")[0] in NOT_FOR_THE_EXAMPLE)
    assert loaded == []
