"""The supervisor: workers on their own SO_REUSEPORT sockets, restarts, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from router.config.units import split_bind
from router.server.supervisor import reuseport_socket
from tests.conftest import REPO, RunningGateway, WriteConfig, start_gateway
from tests.upstream import Behaviour, FakeUpstream

pytestmark = pytest.mark.integration

FAKE_ONLY = """
server: {graceful_timeout: 3s}
deployments: [{name: f, provider: fake}]
models: [{name: m, deployments: [f]}]
"""


def children(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    workers = []
    for child in map(int, found):
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"resource_tracker" not in cmdline.read():
                    workers.append(child)
        except FileNotFoundError:
            continue
    return workers


def listening_inodes(pid: int) -> set[str]:
    """Socket inodes the process holds, to tell apart each worker's own listening socket."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            inodes.add(target[8:-1])
    return inodes


def test_split_bind() -> None:
    assert split_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert split_bind("[::1]:9000") == ("::1", 9000)


def test_reserved_port_receives_no_connections() -> None:
    reservation = reuseport_socket("127.0.0.1", 0)
    port = reservation.getsockname()[1]
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
    finally:
        reservation.close()


def test_each_worker_listens_on_its_own_socket(write_config: WriteConfig) -> None:
    gateway = start_gateway(write_config(FAKE_ONLY), workers=2)
    try:
        workers = children(gateway.process.pid)
        assert len(workers) == 2
        port = int(gateway.base_url.rsplit(":", 1)[1])
        deadline = time.monotonic() + 10  # /ready answered: at least one worker is up, maybe not both
        while len(listeners := _listeners_on(port)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        owned = [listening_inodes(pid) & listeners for pid in workers]
        assert all(len(inodes) == 1 for inodes in owned) and owned[0] != owned[1]
    finally:
        assert gateway.stop() == 0


def _listeners_on(port: int) -> set[str]:
    """Inodes of TCP sockets in LISTEN state on ``port`` (from /proc/net/tcp)."""
    inodes = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for row in table:
            fields = row.split()
            if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def kill_a_worker_and_wait_for_its_replacement(gateway: RunningGateway, timeout: float = 15.0) -> int:
    """SIGKILL one worker (once both serve) and wait for the supervisor to replace it."""
    port = int(gateway.base_url.rsplit(":", 1)[1])
    wait_until(lambda: len(_listeners_on(port)) == 2, "both workers serve", timeout)
    victim = children(gateway.process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = children(gateway.process.pid)
        if victim not in current and len(current) == 2:
            break
        time.sleep(0.1)
    return victim


def test_a_dead_worker_is_replaced_and_serving_goes_on(write_config: WriteConfig) -> None:
    gateway = start_gateway(write_config(FAKE_ONLY), workers=2)
    try:
        victim = kill_a_worker_and_wait_for_its_replacement(gateway)
        assert victim not in children(gateway.process.pid) and len(children(gateway.process.pid)) == 2
        body = {"model": "m", "messages": [{"role": "user", "content": "still there?"}]}
        for _ in range(10):
            response = httpx.post(f"{gateway.api_url}/chat/completions", json=body, timeout=10)
            assert response.status_code == 200
    finally:
        assert gateway.stop() == 0


def test_a_taken_port_is_a_clear_error(write_config: WriteConfig) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "router",
                "serve",
                "-c",
                str(write_config(FAKE_ONLY)),
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        taken.close()
    assert result.returncode == 1
    assert f"cannot bind 127.0.0.1:{port}" in result.stderr


WORDS = " ".join(["word"] * 100)
SLOW_STREAM = f"""
server: {{graceful_timeout: 1s}}
deployments: [{{name: f, provider: fake, fake: {{chunk_delay: 200ms, reply: "{WORDS}"}}}}]
models: [{{name: m, deployments: [f]}}]
"""


def test_a_stream_the_drain_outlasts_ends_with_an_error_event(write_config: WriteConfig) -> None:
    """At the end of graceful_timeout the client gets an SSE error, not a connection cut midway."""
    gateway = start_gateway(write_config(SLOW_STREAM), workers=1)
    try:
        client = openai.OpenAI(base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=20)
        chunks = iter(
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "talk"}], stream=True
            )
        )
        next(chunks)  # the stream is under way, and would take 20 s more
        gateway.process.send_signal(signal.SIGTERM)
        with pytest.raises(openai.APIError) as caught:
            for _ in chunks:
                pass
        assert caught.value.code == "server_shutting_down"
        assert gateway.process.wait(15) == 0
        gateway.pump.join(5)  # type: ignore[union-attr]
        logged = [line for line in gateway.output if '"error":"server_shutting_down"' in line]
        assert len(logged) == 1 and '"status":200' in logged[0]  # its status went out with the first byte
    finally:
        gateway.stop()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def answers(gateway: RunningGateway) -> bool:
    """The port serves: /health and a chat completion both answer 200."""
    body = {"model": "m", "messages": [{"role": "user", "content": "still there?"}]}
    health = httpx.get(f"{gateway.base_url}/health", timeout=5)
    chat = httpx.post(f"{gateway.api_url}/chat/completions", json=body, timeout=5)
    return health.status_code == 200 and chat.status_code == 200


def test_workers_killed_while_starting_are_started_again_and_the_others_keep_serving(
    write_config: WriteConfig,
) -> None:
    """An OOM kill during start, and again for its replacement: the supervisor backs off and
    starts the worker again, and the surviving worker serves all along."""
    gateway = start_gateway(write_config(FAKE_ONLY), workers=2)
    supervisor, port = gateway.process.pid, int(gateway.base_url.rsplit(":", 1)[1])
    try:
        wait_until(lambda: len(_listeners_on(port)) == 2, "both workers serve")
        survivor, victim = children(supervisor)
        os.kill(victim, signal.SIGKILL)  # seconds after its start
        wait_until(lambda: victim not in children(supervisor), "the worker is buried")
        assert answers(gateway)
        wait_until(lambda: len(children(supervisor)) == 2, "its replacement is spawned")
        (replacement,) = set(children(supervisor)) - {survivor}
        os.kill(replacement, signal.SIGKILL)  # while it is still starting
        wait_until(lambda: replacement not in children(supervisor), "the replacement is buried")
        assert answers(gateway)
        wait_until(lambda: len(_listeners_on(port)) == 2, "a third one serves beside the survivor")
        assert survivor in children(supervisor) and answers(gateway)
    finally:
        assert gateway.stop() == 0
    output = "".join(gateway.output)
    assert output.count("killed by SIGKILL") == 2 and "starting it again in" in output


def test_a_start_that_fails_every_time_stops_the_gateway_and_says_why(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    """A worker that cannot load its config would fail the same way at every restart."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    gateway = start_gateway(write_config(FAKE_ONLY), workers=2, env={"TMPDIR": str(temp)})
    try:
        (snapshot,) = temp.glob(f"raceway-state-{gateway.process.pid}-*/active-config.yaml")
        snapshot.write_text("deployments: [{name: f, provider: nonsense}]\n")
        os.kill(children(gateway.process.pid)[0], signal.SIGKILL)
        assert gateway.process.wait(30) == 1
    finally:
        gateway.stop()
    output = "".join(gateway.output)
    assert "raceway: worker 0 cannot start: its config does not load" in output or (
        "raceway: worker 1 cannot start: its config does not load" in output
    ), output


@dataclass
class Adopted:
    """``raceway serve`` under ``tests.adopter``: orphans of its supervisor are adopted there."""

    adopter: subprocess.Popen[str]
    supervisor: int
    base_url: str
    lines: list[tuple[float, str]]  # when each line of output arrived, and the line

    @property
    def output(self) -> str:
        return "".join(line for _, line in self.lines)

    def wait_for(self, text: str, timeout: float = 15.0) -> float:
        """When the first line holding ``text`` arrived."""
        deadline = time.monotonic() + timeout
        while not (found := [at for at, line in list(self.lines) if text in line]):
            assert time.monotonic() < deadline, f"no {text!r} in:\n{self.output}"
            time.sleep(0.02)
        return found[0]


@contextmanager
def adopted_gateway(config: Path, temp: Path) -> Iterator[Adopted]:
    env = {**os.environ, "TMPDIR": str(temp), "XDG_STATE_HOME": str(config.parent / "state")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    command = [sys.executable, "-m", "router", "serve", "-c", str(config), "--bind", "127.0.0.1:0"]
    adopter = subprocess.Popen(
        [sys.executable, "-m", "tests.adopter", *command, "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[tuple[float, str]] = []

    def pump() -> None:
        assert adopter.stdout is not None
        for line in adopter.stdout:
            lines.append((time.monotonic(), line))

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    running = Adopted(adopter, 0, "", lines)
    try:
        running.wait_for("serving on")
        running.supervisor = int(next(line for _, line in lines if "adopter: child" in line).split()[-1])
        running.base_url = next(line for _, line in lines if "serving on" in line).split()[3]
        wait_until(lambda: _ready(running.base_url), "a worker is ready")
        yield running
    finally:
        for pid in [*children(running.supervisor), running.supervisor, *children(adopter.pid)]:
            if pid and pid != adopter.pid:
                with suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # what the test left running, by pid
        adopter.wait(15)
        reader.join(5)
        assert adopter.stdout is not None
        adopter.stdout.close()


def _ready(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_of_a_killed_supervisor_signal_nobody_and_exit_and_the_next_start_clears_up(
    tmp_path: Path,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    alive = temp / f"raceway-state-{os.getpid()}-alive"  # a running instance's (this test's pid)
    alive.mkdir()
    config = tmp_path / "gateway.yaml"
    config.write_text(SLOW_STREAM.replace("1s", "3s"))
    with adopted_gateway(config, temp) as first:
        workers = children(first.supervisor)
        under_way, events = threading.Event(), []

        def stream() -> None:
            body = {"model": "m", "messages": [{"role": "user", "content": "talk"}], "stream": True}
            with httpx.stream(
                "POST", f"{first.base_url}/v1/chat/completions", json=body, timeout=20
            ) as answer:
                for line in answer.iter_lines():
                    events.append(line)
                    under_way.set()

        reader = threading.Thread(target=stream)
        reader.start()
        assert under_way.wait(10)
        os.kill(first.supervisor, signal.SIGKILL)
        killed = time.monotonic()
        config.write_text(SLOW_STREAM.replace("1s", "3s").replace("word", "edit"))
        first.wait_for("active (was")  # the orphan still draining the stream applied the edit
        first.wait_for("adopter: every process exited")
        reader.join(10)
        exits = [at - killed for at, line in first.lines if any(f"reaped {pid}" in line for pid in workers)]
        assert len(exits) == 2 and max(exits) < 3 + 1 + 3  # graceful_timeout, its margin, slack
        assert "adopter: SIGHUP" not in first.output
        assert first.output.count(f"the supervisor (pid {first.supervisor}) is gone") >= 2
        assert "server_shutting_down" in [line for line in events if line][-1]
    left = {path.name for path in temp.iterdir()}
    assert {name.split("-")[1] for name in left if f"-{first.supervisor}-" in name} == {"metrics", "state"}

    gateway = start_gateway(config, workers=1, env={"TMPDIR": str(temp)})
    try:
        now = {path.name for path in temp.iterdir()}
        assert not [name for name in now if f"-{first.supervisor}-" in name]
        assert alive.name in now and [name for name in now if f"-{gateway.process.pid}-" in name]
    finally:
        assert gateway.stop() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_request_still_waiting_when_the_drain_ends_is_answered_503(
    write_config: WriteConfig, threaded_upstream: FakeUpstream, stream: bool
) -> None:
    """An answer (or a stream's first content) the drain outlasts: 503, not a connection cut."""
    threaded_upstream.script("stalled", Behaviour(stall=True))
    config = f"""
    server: {{graceful_timeout: 1s}}
    deployments: [{{name: s, provider: openai, base_url: "{threaded_upstream.base_url}", model: stalled}}]
    models: [{{name: m, deployments: [s]}}]
    """
    gateway = start_gateway(write_config(config), workers=1)
    try:
        answers: list[httpx.Response] = []
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
        url = f"{gateway.api_url}/chat/completions"
        asking = threading.Thread(target=lambda: answers.append(httpx.post(url, json=body, timeout=20)))
        asking.start()
        wait_until(lambda: threaded_upstream.calls("stalled") == 1, "the call is upstream")
        gateway.process.send_signal(signal.SIGTERM)
        asking.join(15)
        (answer,) = answers
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "server_shutting_down"
        assert threaded_upstream.wait_for_disconnect("stalled")  # and the upstream call was cancelled
        assert gateway.process.wait(15) == 0
    finally:
        gateway.stop()
