"""Processes for the benchmarks: the fake upstream, Raceway, and CPU/memory accounting from /proc."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 60.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        try:
            httpx.get(url, timeout=1)
            return time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


# -- process accounting -------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str  # the chat completions URL
    model_prefix: str  # what to put before a model name in requests

    def tree(self) -> list[int]:
        return descendants(self.process.pid)

    def cpu(self) -> dict[int, float]:
        return {pid: cpu_seconds(pid) for pid in self.tree()}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                for pid in self.tree():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.process.wait(5)


@contextlib.contextmanager
def bench_session() -> Iterator[tuple[Path, list[Server]]]:
    """A scratch directory and a list of servers, all stopped and removed at the end."""
    workdir = Path(tempfile.mkdtemp(prefix="raceway-bench-"))
    servers: list[Server] = []
    try:
        yield workdir, servers
    finally:
        for server in reversed(servers):
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def start_upstream(port: int) -> Server:
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/")
    return Server("direct", process, f"http://127.0.0.1:{port}/v1/chat/completions", model_prefix="")


def start_sink(port: int) -> Server:
    """``bench/otlp_sink.py``: an OTLP/HTTP trace receiver in its own process (``GET /count``)."""
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "otlp_sink.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_http(f"http://127.0.0.1:{port}/count")
    return Server("otlp", process, f"http://127.0.0.1:{port}", model_prefix="")


def start_redis(port: int, workdir: Path) -> Server:
    """A throwaway redis-server (Debian's ``redis-server``) on 127.0.0.1:``port``, nothing persisted."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return Server("redis", process, f"redis://127.0.0.1:{port}/0", "")
        time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def start_raceway(
    config_text: str, port: int, workdir: Path, workers: int, *, source: Path = REPO
) -> tuple[Server, float]:
    """Raceway on ``config_text``; returns the server and its cold start in seconds.

    ``source``: the checkout whose ``router`` package runs (``python -m`` imports it from there).
    Each gets a state directory of its own in ``workdir`` (its request log, ``XDG_STATE_HOME``):
    two servers of one run, or runs one after another, never share one SQLite file.
    """
    config = workdir / f"raceway-{port}.yaml"
    config.write_text(config_text)
    env = {**os.environ, "XDG_STATE_HOME": str(workdir / f"state-{port}")}
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "-c",
            str(config),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
        ],
        cwd=source,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_health(f"http://127.0.0.1:{port}/health", process)
    return Server(
        "raceway", process, f"http://127.0.0.1:{port}/v1/chat/completions", ""
    ), time.perf_counter() - started


def wait_health(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


def measure_cpu(server: Server, work: Callable[[], T]) -> tuple[T, float, dict[int, float]]:
    """The work's result, the server tree's CPU seconds during it, and each process's share."""
    before = server.cpu()
    result = work()
    after = server.cpu()
    per_process = {pid: after.get(pid, 0.0) - before.get(pid, 0.0) for pid in after}
    return result, sum(per_process.values()), per_process
