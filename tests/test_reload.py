"""Live reload in one worker (in-process): validate first, swap atomically, keep unchanged state.

Tests that wait (the watch loop, the settle time, draining) run on virtual time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry

from router.config.load import load_config
from router.fleet.fleet import Member
from router.runtime.gateway import Gateway
from router.runtime.reload import POLL_INTERVAL, SETTLE_TIME, ConfigReloader
from router.telemetry.metrics import Metrics
from tests.virtual_time import run

BASE = """
deployments:
  - {name: a, provider: fake, fake: {reply: from-a}}
  - {name: b, provider: fake, weight: 1, fake: {reply: from-b}}
models:
  - {name: chat, deployments: [a, b], strategy: weighted}
  - {name: old, deployments: [a]}
"""

CHANGED = """
deployments:
  - {name: a, provider: fake, fake: {reply: from-a}}
  - {name: b, provider: fake, weight: 5, fake: {reply: from-b}}
  - {name: c, provider: fake, fake: {reply: from-c}}
models:
  - {name: chat, deployments: [a, b], strategy: weighted}
  - {name: fresh, deployments: [c]}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Path, ConfigReloader, CollectorRegistry]]:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE)
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    state = SimpleNamespace(gateway=Gateway.build(load_config(path), metrics))
    reloader = ConfigReloader(path, state, metrics, workers=1, interval=0.01, settle=0.01)
    yield path, reloader, registry
    await reloader.close()
    await state.gateway.close()


@contextlib.asynccontextmanager
async def reloading(path: Path, **timing: float) -> AsyncIterator[ConfigReloader]:
    """A one-worker reloader of ``path``, closed with its gateway at the end."""
    metrics = Metrics(CollectorRegistry())
    state = SimpleNamespace(gateway=Gateway.build(load_config(path), metrics))
    reloader = ConfigReloader(path, state, metrics, workers=1, **timing)
    try:
        yield reloader
    finally:
        await reloader.close()
        await state.gateway.close()


async def test_a_valid_edit_is_applied_and_unchanged_deployments_keep_their_state(
    world: tuple[Path, ConfigReloader, CollectorRegistry],
) -> None:
    path, reloader, registry = world
    before = reloader.gateway
    a_before = before.fleet["a"]
    a_before.stats.observe(0.123, stream=False)
    path.write_text(CHANGED)
    outcome = await reloader.check()
    assert outcome.result == "applied"
    after = reloader.gateway
    assert after is not before and set(after.config.models) == {"chat", "fresh"}
    assert after.fleet["a"] is a_before  # unchanged: same connections, limiter, stats, breaker
    assert after.fleet["b"] is not before.fleet["b"]  # its weight changed: fresh member
    assert after.fleet["b"].deployment.weight == 5
    assert before.config.models["old"]  # a request holding the old snapshot still sees it
    assert registry.get_sample_value("raceway_config_info", {"hash": after.config.hash}) == 1
    assert registry.get_sample_value("raceway_config_info", {"hash": before.config.hash}) is None
    assert registry.get_sample_value("raceway_config_reloads_total", {"result": "applied"}) == 1
    assert (await reloader.check()).result == "unchanged"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("models: [unclosed\n", "(yaml) line 2"),
        (BASE + "colour: blue\n", "colour: unknown key"),
        (
            BASE.replace(
                "provider: fake, fake: {reply: from-a}",
                'provider: openai, model: x, api_key: "${NOPE_UNSET}"',
            ),
            "environment variable NOPE_UNSET is not set",
        ),
        ("", "the config is empty"),
        (BASE.split("models:")[0], "models: is required"),  # a half-written file
    ],
    ids=["bad-yaml", "unknown-key", "missing-env", "empty", "half-written"],
)
async def test_an_invalid_edit_changes_nothing_and_is_reported(
    world: tuple[Path, ConfigReloader, CollectorRegistry], content: str, problem: str
) -> None:
    path, reloader, registry = world
    before = reloader.gateway
    os.environ.pop("NOPE_UNSET", None)
    path.write_text(content)
    outcome = await reloader.check()
    assert outcome.result == "invalid" and reloader.gateway is before
    assert problem in (reloader.last_error or "")
    assert reloader.status()["last_error"] == reloader.last_error
    assert registry.get_sample_value("raceway_config_reloads_total", {"result": "invalid"}) == 1
    path.write_text(CHANGED)  # fixing the file activates it
    assert (await reloader.check()).result == "applied"
    assert reloader.last_error is None


async def test_write_and_rename_and_a_vanishing_file(
    world: tuple[Path, ConfigReloader, CollectorRegistry],
) -> None:
    path, reloader, registry = world
    before = reloader.gateway
    path.unlink()
    assert (await reloader.check()).result == "unreadable" and reloader.gateway is before
    assert (await reloader.check()).result == "unreadable"
    assert registry.get_sample_value("raceway_config_reloads_total", {"result": "unreadable"}) == 1
    temporary = path.with_suffix(".tmp")
    temporary.write_text(CHANGED)
    temporary.rename(path)
    assert (await reloader.check()).result == "applied"


def test_a_file_still_being_written_waits_to_settle(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE)

    async def main() -> None:
        async with reloading(path, settle=0.2) as reloader:
            # Valid YAML at every step, but the first steps lack the new model: only the end may load.
            path.write_text(CHANGED.split("  - {name: fresh")[0])
            checking = asyncio.create_task(reloader.check())
            await asyncio.sleep(0.1)  # the writer finishes while the reloader waits for the file to settle
            path.write_text(CHANGED)
            assert (await checking).result == "unsettled"
            assert (await reloader.check()).result == "applied"
            assert "fresh" in reloader.gateway.config.models

    run(main())


def test_the_watch_applies_an_edit_at_its_next_look_once_settled(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE)

    async def main() -> None:
        async with reloading(path) as reloader:
            before = reloader.gateway
            path.write_text(CHANGED)
            watching = asyncio.create_task(reloader.watch())
            await asyncio.sleep(POLL_INTERVAL + SETTLE_TIME / 2)
            assert reloader.gateway is before  # seen at the first look, and waiting to settle
            await asyncio.sleep(SETTLE_TIME)
            assert "fresh" in reloader.gateway.config.models
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching

    run(main())


def busy(reloader: ConfigReloader, name: str) -> tuple[Member, asyncio.Event]:
    """Deployment ``name`` with a call still running on it; the event is set once it is closed."""
    member = reloader.gateway.fleet[name]
    closed = asyncio.Event()

    async def close() -> None:
        closed.set()

    member.provider.close = close  # type: ignore[method-assign]
    member.stats.in_flight = 1
    return member, closed


def test_removed_deployments_are_drained_then_closed(tmp_path: Path) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE)

    async def main() -> None:
        async with reloading(path, settle=0.01) as reloader:
            retired, closed = busy(reloader, "b")
            path.write_text(CHANGED.replace("weight: 5", "weight: 2"))  # b changes: it is retired
            assert (await reloader.check()).result == "applied"
            await asyncio.sleep(20)
            assert not closed.is_set()  # still draining, well within the grace period
            retired.stats.in_flight = 0
            await asyncio.wait_for(closed.wait(), 0.1)  # closed at the drain's next look

    run(main())


def test_a_retired_deployment_still_busy_is_closed_after_the_grace_period(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(BASE)

    async def main() -> float:
        async with reloading(path, settle=0.01) as reloader:
            loop = asyncio.get_running_loop()
            _, closed = busy(reloader, "b")
            path.write_text(CHANGED.replace("weight: 5", "weight: 2"))
            assert (await reloader.check()).result == "applied"
            applied = loop.time()
            await asyncio.wait_for(closed.wait(), 60)
            return loop.time() - applied

    assert run(main()) == pytest.approx(30.0)  # server.graceful_timeout
    assert "retired deployments still busy after 30s: {'b': 1}" in caplog.text


async def test_workers_converge_through_the_shared_snapshot(tmp_path: Path) -> None:
    """Worker A sees a short-lived version that worker B never sees in the file: B adopts it."""
    path, snapshot = tmp_path / "gateway.yaml", tmp_path / "active-config.yaml"
    path.write_text(BASE)
    announced: list[str] = []
    metrics = Metrics(CollectorRegistry())
    states = [SimpleNamespace(gateway=Gateway.build(load_config(path), metrics)) for _ in range(2)]
    a, b = (
        ConfigReloader(
            path,
            state,
            metrics,
            workers=2,
            settle=0.01,
            snapshot=snapshot,
            announce=lambda: announced.append("hup"),
        )
        for state in states
    )
    try:
        path.write_text(CHANGED)
        assert (await a.check()).result == "applied"
        assert announced == ["hup"] and snapshot.read_text() == CHANGED
        path.write_text("models: [broken\n")  # the operator's next edit is invalid
        assert (await b.check()).result == "invalid"
        assert (await b.adopt_snapshot()).result == "applied"  # what the supervisor's SIGHUP triggers
        assert a.gateway.config.hash == b.gateway.config.hash
        assert (await a.adopt_snapshot()).result == "unchanged"
    finally:
        for state in states:
            await state.gateway.close()


async def test_a_configmap_update_by_symlink_swap_is_applied(tmp_path: Path) -> None:
    """The kubelet updates a mounted ConfigMap by pointing ``..data`` at a new directory."""

    def publish(version: str, content: str) -> None:
        (tmp_path / version).mkdir()
        (tmp_path / version / "gateway.yaml").write_text(content)
        (tmp_path / "..data_tmp").symlink_to(version)
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")  # atomic, as the kubelet does

    publish("..2026_11_24_01", BASE)
    (tmp_path / "gateway.yaml").symlink_to("..data/gateway.yaml")
    path = tmp_path / "gateway.yaml"
    metrics = Metrics(CollectorRegistry())
    state = SimpleNamespace(gateway=Gateway.build(load_config(path), metrics))
    reloader = ConfigReloader(path, state, metrics, workers=1, interval=0.01, settle=0.01)
    try:
        assert (await reloader.check()).result == "unchanged"
        publish("..2026_11_24_02", CHANGED)
        assert (await reloader.check()).result == "applied"
        assert set(reloader.gateway.config.models) == {"chat", "fresh"}
    finally:
        await reloader.close()
        await state.gateway.close()
