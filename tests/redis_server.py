"""A real redis-server for the tests, on a free 127.0.0.1 port (never 6379), in a scratch directory."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    """A free 127.0.0.1 port below the kernel's range of ephemeral ports (Linux's), else any.

    Tests stop the server and start it again on its port. While it is down, the gateways keep
    connecting to it, and a connection given that very port as its own (an ephemeral one) is
    connected to itself, and holds the port the server is started again on."""
    lowest = int(EPHEMERAL.read_text().split()[0]) if EPHEMERAL.exists() else 0
    candidates = random.Random(os.getpid()).sample(range(10_000, lowest), 50) if lowest > 11_000 else [0]
    for candidate in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free port below the ephemeral range")


class RedisServer:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed; .ci/run installs Debian's redis-server package")
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def cached_entries(self) -> int:
        """How many answers the gateways' shared cache holds (its index, whatever the prefix)."""
        import redis

        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            return sum(int(client.zcard(key)) for key in client.scan_iter(match="*:cache:index"))

    def wait_for_cached_entries(self, count: int, timeout: float = 5.0) -> bool:
        """Whether the shared cache holds ``count`` answers within ``timeout`` (a gateway stores
        them in the background, after answering)."""
        deadline = time.monotonic() + timeout
        while self.cached_entries() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True
