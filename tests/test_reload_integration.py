"""Live config edits on the real server with 2 workers: convergence, invalid edits, edits under load."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningGateway, start_gateway

pytestmark = pytest.mark.integration

ADMIN = "rw-admin-key-123"


def config_text(*, weight: int = 1, extra_model: bool = False, old_model: bool = True) -> str:
    fake = "{latency: 5ms, chunk_delay: 5ms}"
    text = (
        f'server: {{admin_key: "{ADMIN}", graceful_timeout: 5s}}\n'
        "deployments:\n"
        f"  - {{name: a, provider: fake, fake: {fake}}}\n"
        f"  - {{name: b, provider: fake, weight: {weight}, fake: {fake}}}\n"
    )
    if extra_model:
        text += "  - {name: c, provider: fake, fake: {reply: from-c}}\n"
    text += "models:\n  - {name: steady, deployments: [a, b], strategy: weighted}\n"
    if old_model:
        text += "  - {name: old, deployments: [a]}\n"
    if extra_model:
        text += "  - {name: fresh, deployments: [c]}\n"
    return text


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(config_text())
    return path


@pytest.fixture
def gateway(config_path: Path) -> Iterator[RunningGateway]:
    running = start_gateway(config_path, workers=2)
    yield running
    assert running.stop() == 0


def status_of_every_worker(gateway: RunningGateway, probes: int = 24) -> dict[int, dict[str, object]]:
    """/admin/config over fresh connections (the kernel spreads them over both workers)."""
    seen: dict[int, dict[str, object]] = {}
    for _ in range(probes):
        with httpx.Client(headers={"authorization": f"Bearer {ADMIN}"}, timeout=5) as client:
            status = client.get(f"{gateway.base_url}/admin/config").json()
        seen[int(status["pid"])] = status
    return seen


def wait_for_every_worker(
    gateway: RunningGateway, condition: Callable[[dict[str, object]], bool], limit: float = 5.0
) -> None:
    """Poll until both workers' /admin/config statuses meet ``condition`` (bounded, not timed)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        seen = status_of_every_worker(gateway)
        if len(seen) == 2 and all(condition(status) for status in seen.values()):
            return
        time.sleep(0.05)
    raise AssertionError(f"workers did not converge: {status_of_every_worker(gateway)}")


def wait_for_hash(gateway: RunningGateway, expected_models: set[str], limit: float = 5.0) -> None:
    wait_for_every_worker(gateway, lambda status: set(status["models"]) == expected_models, limit)  # type: ignore[call-overload]


def ask(gateway: RunningGateway, model: str) -> httpx.Response:
    with httpx.Client(timeout=10) as client:  # a fresh connection: either worker
        return client.post(
            f"{gateway.api_url}/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        )


def test_every_worker_serves_an_edit_without_a_restart(gateway: RunningGateway, config_path: Path) -> None:
    wait_for_hash(gateway, {"steady", "old"})
    config_path.write_text(config_text(weight=3, extra_model=True, old_model=False))
    wait_for_hash(gateway, {"steady", "fresh"}, limit=10.0)  # polled every 0.5 s; bounded, not timed
    statuses = [ask(gateway, "old").status_code for _ in range(20)]
    assert statuses == [404] * 20  # removed on every worker
    assert all(ask(gateway, "fresh").headers["x-raceway-deployment"] == "c" for _ in range(10))


def test_an_invalid_edit_keeps_the_old_config_and_says_why(
    gateway: RunningGateway, config_path: Path
) -> None:
    wait_for_hash(gateway, {"steady", "old"})
    config_path.write_text(config_text() + "colour: blue\n")
    wait_for_every_worker(gateway, lambda status: status["last_error"] is not None)
    for status in status_of_every_worker(gateway).values():
        assert status["last_error"] is not None and "colour: unknown key" in str(status["last_error"])
        assert set(status["models"]) == {"steady", "old"}  # type: ignore[arg-type]
    assert ask(gateway, "old").status_code == 200
    metrics = httpx.get(f"{gateway.base_url}/metrics").text
    assert 'raceway_config_reloads_total{result="invalid"} 2.0' in metrics  # one per worker
    config_path.write_text(config_text(old_model=False))
    wait_for_hash(gateway, {"steady"})
    assert all(status["last_error"] is None for status in status_of_every_worker(gateway).values())


def test_admin_reload_and_its_key(gateway: RunningGateway, config_path: Path) -> None:
    assert httpx.post(f"{gateway.base_url}/admin/reload").status_code == 401
    assert gateway.metric_reaching('raceway_auth_failures_total{reason="admin"}', 1) == 1
    config_path.write_text(config_text(extra_model=True))
    answer = httpx.post(f"{gateway.base_url}/admin/reload", headers={"authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 200 and answer.json()["result"] in {"applied", "unchanged"}
    assert "fresh" in answer.json()["models"]
    wait_for_hash(gateway, {"steady", "old", "fresh"}, limit=2.0)


def wait_for_config(gateway: RunningGateway, text: str, limit: float = 10.0) -> str:
    """Wait until both workers serve ``text``; its hash."""
    expected = hashlib.sha256(text.encode()).hexdigest()[:16]
    deadline = time.monotonic() + limit  # polled every 0.5 s; bounded, not timed
    while {s["hash"] for s in status_of_every_worker(gateway).values()} != {expected}:
        assert time.monotonic() < deadline, status_of_every_worker(gateway)
        time.sleep(0.05)
    return expected


def series(gateway: RunningGateway, prefix: str) -> list[str]:
    return [
        line for line in httpx.get(f"{gateway.base_url}/metrics").text.splitlines() if line.startswith(prefix)
    ]


def test_metrics_show_only_the_live_config_and_every_configured_series(
    gateway: RunningGateway, config_path: Path
) -> None:
    started = wait_for_config(gateway, config_text())
    assert series(gateway, "raceway_config_info{") == [f'raceway_config_info{{hash="{started}"}} 2.0']
    # Declared at start, before any request, by both workers.
    assert 'raceway_queue_depth{deployment="a"} 0.0' in series(gateway, "raceway_queue_depth{")
    assert 'raceway_requests_total{model="old",status_class="2xx"} 0.0' in series(gateway, "raceway_requests")
    for weight in (2, 3, 4, 5):
        text = config_text(weight=weight, extra_model=weight % 2 == 1)
        config_path.write_text(text)
        live = wait_for_config(gateway, text)
        # One series for the one config both workers serve: none left over from earlier ones.
        assert series(gateway, "raceway_config_info{") == [f'raceway_config_info{{hash="{live}"}} 2.0']
    # Declared by the reload that added it.
    assert 'raceway_queue_depth{deployment="c"} 0.0' in series(gateway, "raceway_queue_depth{")
    assert 'raceway_requests_total{model="fresh",status_class="2xx"} 0.0' in series(
        gateway, "raceway_requests"
    )


def edit_in_place(path: Path, text: str) -> None:
    path.write_text(text)


def edit_by_rename(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".swp")
    temporary.write_text(text)
    os.replace(temporary, path)


def edit_in_two_halves(path: Path, text: str) -> None:
    with path.open("w") as handle:
        handle.write(text[: len(text) // 2])
        handle.flush()
        time.sleep(0.03)
        handle.write(text[len(text) // 2 :])


def edit_after_emptying(path: Path, text: str) -> None:
    path.write_text("")
    time.sleep(0.03)
    path.write_text(text)


EDITORS = [edit_in_place, edit_by_rename, edit_in_two_halves, edit_after_emptying]


def test_twenty_edits_under_load_lose_nothing(gateway: RunningGateway, config_path: Path) -> None:
    stop_editing = threading.Event()

    def editor() -> None:
        for index in range(20):
            if stop_editing.is_set():
                return
            if index % 2:
                text = config_text() + ("colour: blue\n" if index % 4 == 1 else "models: [\n")
            else:
                text = config_text(weight=1 + index % 5, extra_model=bool(index % 4))
            EDITORS[index % len(EDITORS)](config_path, text)
            time.sleep(0.12)

    async def load() -> list[str]:
        problems: list[str] = []
        remaining = 1000

        async def client_loop(client: httpx.AsyncClient) -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                stream = remaining % 4 == 0
                body = {
                    "model": "steady",
                    "stream": stream,
                    "messages": [{"role": "user", "content": "hi there"}],
                }
                if stream:
                    async with client.stream(
                        "POST", f"{gateway.api_url}/chat/completions", json=body
                    ) as response:
                        lines = [line async for line in response.aiter_lines() if line]
                    if response.status_code != 200 or lines[-1] != "data: [DONE]":
                        problems.append(f"stream {response.status_code}: {lines[-1:]}")
                else:
                    response = await client.post(f"{gateway.api_url}/chat/completions", json=body)
                    if response.status_code != 200:
                        problems.append(f"{response.status_code}: {response.text[:200]}")

        clients = [httpx.AsyncClient(timeout=20) for _ in range(8)]
        try:
            await asyncio.gather(*(client_loop(client) for client in clients))
        finally:
            for client in clients:
                await client.aclose()
        return problems

    thread = threading.Thread(target=editor)
    thread.start()
    try:
        problems = asyncio.run(load())
    finally:
        stop_editing.set()
        thread.join(30)
    assert problems == []
    # Edits came faster than the watchers look, so a version may have reached one worker
    # only; the shared snapshot brings the others to it: they must agree within 2 s.
    deadline = time.monotonic() + 2
    while len({s["hash"] for s in status_of_every_worker(gateway).values()}) != 1:
        assert time.monotonic() < deadline, status_of_every_worker(gateway)
        time.sleep(0.1)
    config_path.write_text(config_text(weight=2, extra_model=True))
    wait_for_hash(gateway, {"steady", "old", "fresh"})


def test_a_worker_restarted_during_a_broken_edit_comes_up_on_the_last_good_config(
    gateway: RunningGateway, config_path: Path
) -> None:
    from tests.test_server import kill_a_worker_and_wait_for_its_replacement

    config_path.write_text(config_text(extra_model=True))
    wait_for_hash(gateway, {"steady", "old", "fresh"})
    config_path.write_text("models: [broken\n")
    kill_a_worker_and_wait_for_its_replacement(gateway)
    wait_for_hash(gateway, {"steady", "old", "fresh"})  # both workers, the new one included
    assert gateway.process.poll() is None
    assert all(ask(gateway, "fresh").status_code == 200 for _ in range(10))
