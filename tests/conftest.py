"""Shared fixtures: the scripted upstream, config files, and the real gateway as a subprocess.

A module's gateway comes from ``gateways`` (module-scoped: ``gateways.serve(config_text)``), the
official SDKs' clients on it from ``sdks`` (per test): each stops or closes what it made when its
scope ends, whether the tests passed or not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import httpx
import pytest

from tests.redis_server import RedisServer
from tests.upstream import FakeUpstream

if TYPE_CHECKING:
    from tests.otlp_receiver import OtlpReceiver
    from tests.sdks import Sdks

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="session")
def state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The default places of the spend ledger and the request log (under XDG_STATE_HOME) are a
    temporary directory for the whole run, never the user's home; gateways started as
    subprocesses get one under their config's directory (``start_gateway``)."""
    home = tmp_path_factory.mktemp("state-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(home))
        yield home


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    """A scripted upstream served from the test's own event loop."""
    server = FakeUpstream()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
def module_upstream() -> Iterator[FakeUpstream]:
    """A scripted upstream served from a background thread, shared by a test module."""
    with FakeUpstream().running_in_thread() as server:
        yield server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A redis-server of the module's own; tests may stop and start it again."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def threaded_upstream(module_upstream: FakeUpstream) -> FakeUpstream:
    """The module's threaded upstream, with scripts and records cleared for this test."""
    module_upstream.reset()
    return module_upstream


WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    def write(text: str) -> Path:
        path = tmp_path / "gateway.yaml"
        path.write_text(textwrap.dedent(text))
        return path

    return write


@dataclass
class RunningGateway:
    process: subprocess.Popen[str]
    base_url: str
    output: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/v1"

    def metric(self, sample: str) -> float:
        """The value of the first line of /metrics that starts with ``sample`` (0 if none)."""
        for line in httpx.get(f"{self.base_url}/metrics").text.splitlines():
            if line.startswith(sample):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def metric_reaching(self, sample: str, expected: float, patience: float = 10.0) -> float:
        """``metric(sample)`` once it equals ``expected``, else its value after ``patience`` seconds.

        A worker writes the counts of a turn of its loop at the end of that turn, which may come
        after the answer it sent in it was read: a scrape that another worker answers may come
        in between (one answered by the same worker comes in a later turn)."""
        deadline = time.monotonic() + patience
        while (value := self.metric(sample)) != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        return value

    def stop(self, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.pump is not None:
            self.pump.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start_gateway(config: Path, *, workers: int = 2, env: dict[str, str] | None = None) -> RunningGateway:
    """``raceway serve`` on a kernel-chosen 127.0.0.1 port; returns once /health answers.

    The spend ledger's default place is under the config's directory, never the user's home.
    """
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "-c",
            str(config),
            "--bind",
            "127.0.0.1:0",
            "--workers",
            str(workers),
        ],
        cwd=REPO,
        env={**os.environ, "XDG_STATE_HOME": str(config.parent / "state"), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    announced = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if "serving on" in line:
                announced.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    if not announced.wait(15):
        process.kill()
        process.wait(5)
        reader.join(5)
        process.stdout.close()  # type: ignore[union-attr]
        raise RuntimeError("gateway did not start:\n" + "".join(output))
    line = next(line for line in output if "serving on" in line)
    base_url = line.split("serving on ")[1].split(" ")[0]
    gateway = RunningGateway(process, base_url, output, reader)
    deadline = time.monotonic() + 60  # a worker that imports litellm takes ~5 s, much more on a busy machine
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/ready", timeout=1).status_code == 200:
                return gateway
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.05)
    gateway.stop()
    raise RuntimeError("gateway did not become ready:\n" + "".join(output))


@contextmanager
def serving(
    config_text: str, directory: Path, *, workers: int = 2, env: dict[str, str] | None = None
) -> Iterator[RunningGateway]:
    """The real gateway on ``config_text`` for the duration of the block; it must stop cleanly."""
    path = directory / "gateway.yaml"
    path.write_text(textwrap.dedent(config_text))
    running = start_gateway(path, workers=workers, env=env)
    try:
        yield running
    finally:
        code = running.stop()
    assert code == 0, "".join(running.output[-20:])


Entered = TypeVar("Entered")


class Gateways:
    """The real gateways of one test module, each on its config in a directory of its own, and
    the fake upstreams entered beside them: all stopped when the module ends, the last started
    first (a gateway before the upstreams entered ahead of it), also when a test or a start failed."""

    def __init__(self, stack: ExitStack, tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
        self._stack = stack
        self._tmp_path_factory = tmp_path_factory
        self._name = name

    def directory(self) -> Path:
        """A fresh directory (for a gateway's config and state, or a file its config names)."""
        return self._tmp_path_factory.mktemp(self._name)

    def serve(
        self,
        config_text: str,
        *,
        workers: int = 2,
        env: dict[str, str] | None = None,
        directory: Path | None = None,
    ) -> RunningGateway:
        """``raceway serve`` on ``config_text`` (dedented), ready; it must stop cleanly (exit 0)."""
        where = directory if directory is not None else self.directory()
        return self._stack.enter_context(serving(config_text, where, workers=workers, env=env))

    def enter(self, server: AbstractContextManager[Entered]) -> Entered:
        """A fake upstream (any server run as a context manager) for the rest of the module."""
        return self._stack.enter_context(server)


@pytest.fixture(scope="module")
def gateways(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateways]:
    with ExitStack() as stack:
        yield Gateways(stack, tmp_path_factory, request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
async def sdks() -> AsyncIterator[Sdks]:
    """The official SDKs' clients a test builds on a gateway, closed when it ends."""
    from tests.sdks import Sdks  # the SDKs load for the tests that use them, not for every test

    async with AsyncExitStack() as stack:
        yield Sdks(stack)


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP collector for the module's traces (tests/otlp_receiver.py)."""
    from tests.otlp_receiver import OtlpReceiver  # protobuf loads for the tests that trace

    with OtlpReceiver().running() as running:
        yield running
