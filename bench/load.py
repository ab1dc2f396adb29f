"""A bounded asyncio load generator: fixed concurrency, fixed request count, a time cap.

Records per-request latency and, for streams, the time to the first content chunk.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
import orjson


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    first_chunk: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    headers: list[dict[str, str]] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rps(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def ok(self) -> int:
        return self.statuses.get(200, 0)


def _has_content(line: bytes) -> bool:
    return line.startswith(b"data: {") and b'"content":"' in line and b'"content":""' not in line


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary_ms(values: list[float]) -> str:
    if not values:
        return "n/a"
    return (
        f"p50 {percentile(values, 50) * 1000:.2f} ms · p99 {percentile(values, 99) * 1000:.2f} ms · "
        f"mean {statistics.fmean(values) * 1000:.2f} ms"
    )


async def run_load(
    url: str,
    body: dict[str, object],
    *,
    concurrency: int,
    total: int,
    time_cap: float = 120.0,
    keep_headers: tuple[str, ...] = (),
) -> LoadResult:
    """Send ``total`` requests with ``concurrency`` in flight; stop early at ``time_cap`` seconds."""
    payload = orjson.dumps(body)
    stream = bool(body.get("stream"))
    result = LoadResult()
    remaining = total
    deadline = time.perf_counter() + time_cap
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                started = time.perf_counter()
                try:
                    async with session.post(
                        url, data=payload, headers={"content-type": "application/json"}
                    ) as response:
                        if stream and response.status == 200:
                            first = None
                            async for line in response.content:
                                if first is None and _has_content(line):
                                    first = time.perf_counter() - started
                            if first is not None:
                                result.first_chunk.append(first)
                        else:
                            await response.read()
                        result.statuses[response.status] = result.statuses.get(response.status, 0) + 1
                        if keep_headers:
                            result.headers.append({h: response.headers.get(h, "") for h in keep_headers})
                except (aiohttp.ClientError, TimeoutError):
                    result.errors += 1
                    continue
                result.latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - began
    return result
