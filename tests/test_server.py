"""The supervisor: workers on their own SO_REUSEPORT sockets, restarts, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import openai
import pytest

from router.server.supervisor import reuseport_socket, split_bind
from tests.conftest import REPO, RunningGateway, WriteConfig, start_gateway

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
    """SIGKILL one worker and wait for the supervisor to replace it."""
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
    supervisor = gateway.process.pid
    try:
        survivor, victim = children(supervisor)
        os.kill(victim, signal.SIGKILL)  # seconds after its start
        wait_until(lambda: victim not in children(supervisor), "the worker is buried")
        assert answers(gateway)
        wait_until(lambda: len(children(supervisor)) == 2, "its replacement is spawned")
        (replacement,) = set(children(supervisor)) - {survivor}
        os.kill(replacement, signal.SIGKILL)  # while it is still starting
        wait_until(lambda: replacement not in children(supervisor), "the replacement is buried")
        assert answers(gateway)
        port = int(gateway.base_url.rsplit(":", 1)[1])
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
