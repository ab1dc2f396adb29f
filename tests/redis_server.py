"""A real redis-server for the tests, on a free 127.0.0.1 port (never 6379), in a scratch directory."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
