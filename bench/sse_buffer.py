"""What one long SSE line costs the stream parser: CPU time against the line's length.

    python bench/sse_buffer.py

A line fed in 16 KiB chunks should cost time in proportion to its length (each byte is
searched for the end of its event once); doubling the line should roughly double the time,
not quadruple it, as it did when every chunk re-joined and re-searched the pending bytes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from router.wire.sse import SSEBuffer

CHUNK = b"x" * 16 * 1024


def cpu_seconds(megabytes: int) -> float:
    buffer = SSEBuffer()
    started = time.process_time()
    buffer.feed(b"data: ")
    for _ in range(megabytes * 64):
        buffer.feed(CHUNK)
    (event,) = buffer.feed(b"\n\n")
    assert len(event) == 6 + megabytes * 1024 * 1024 + 2
    return time.process_time() - started


def main() -> None:
    print("| line | CPU ms | ms per MiB |")
    print("|---|---|---|")
    for megabytes in (16, 32, 64, 128):
        seconds = min(cpu_seconds(megabytes) for _ in range(3))
        print(f"| {megabytes} MiB | {seconds * 1000:.1f} | {seconds * 1000 / megabytes:.2f} |")


if __name__ == "__main__":
    main()
