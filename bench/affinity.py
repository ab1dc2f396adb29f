"""Affinity benchmark: multi-turn coding-agent sessions against prompt-caching upstreams.

Sessions of a Claude-Code-shaped conversation (a ~90 KB prefix: system prompt and tools,
``cache_control`` on the system prompt, the session header, a history that grows each turn)
run side by side through a 2-worker gateway, each session's turns one after another, each
turn on a new connection (so on either worker). Three deployments on the fake upstream keep
a prompt cache each (``bench-cache-<cold>ms-<warm>ms`` models in ``bench/fake_upstream.py``):
a turn that reaches the deployment which answered the session's previous turn reads that
prefix from its cache and answers sooner. For ``round_robin`` and ``hedge``, affinity off and
on: the share of prompt tokens read from the cache, p50/p99 latency, upstream calls per
request, the cost per session (Anthropic-like prices, cache reads at a tenth), and the
gateway's CPU per request.

    python bench/affinity.py [--sessions 16] [--turns 8]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import percentile
from procs import Server, bench_session, free_port, measure_cpu, start_raceway, start_upstream

COLD_MS, WARM_MS = 400, 60
PRICE = "{input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}"
SYSTEM = [
    {"type": "text", "text": "You are Claude Code, a coding agent. " * 350},
    {"type": "text", "text": "Project conventions and notes. " * 50, "cache_control": {"type": "ephemeral"}},
]
TOOLS = [
    {
        "name": f"tool_{i}",
        "description": "A tool the agent may call with a long description. " * 60,
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
    }
    for i in range(24)
]
GROUPS = ("rr-off", "rr-on", "hedge-off", "hedge-on")


def config(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    deployments = "".join(
        f"  - {{name: {name}, provider: anthropic, base_url: '{base}',"
        f" model: bench-cache-{COLD_MS}ms-{WARM_MS}ms-{name}, price: {PRICE}}}\n"
        for name in ("d1", "d2", "d3")
    )
    members = "[d1, d2, d3]"
    return (
        "server: {graceful_timeout: 5s, access_log: false}\n"
        "deployments:\n" + deployments + "models:\n"
        f"  - {{name: rr-off, deployments: {members}, strategy: round_robin}}\n"
        f"  - {{name: rr-on, deployments: {members}, strategy: round_robin, affinity: {{ttl: 5m}}}}\n"
        f"  - {{name: hedge-off, deployments: {members}, strategy: hedge}}\n"
        f"  - {{name: hedge-on, deployments: {members}, strategy: hedge, affinity: {{ttl: 5m}}}}\n"
    )


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    read: int = 0
    prompt: int = 0
    later_read: int = 0  # the same, over the turns after each session's first
    later_prompt: int = 0
    cost: float = 0.0
    failures: int = 0


async def session(
    client: httpx.AsyncClient, url: str, group: str, number: int, turns: int, tally: Tally
) -> None:
    history: list[dict[str, Any]] = []
    for turn in range(turns):
        history.append(
            {"role": "user", "content": f"session {number}, turn {turn}: fix the failing test " * 20}
        )
        started = time.perf_counter()
        response = await client.post(
            url,
            json={"model": group, "max_tokens": 256, "system": SYSTEM, "tools": TOOLS, "messages": history},
            headers={"x-claude-code-session-id": f"{group}-{number}", "anthropic-version": "2023-06-01"},
        )
        tally.latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            tally.failures += 1
            history.pop()
            continue
        usage = response.json()["usage"]
        read = usage.get("cache_read_input_tokens", 0)
        prompt = usage["input_tokens"] + read + usage.get("cache_creation_input_tokens", 0)
        tally.read += read
        tally.prompt += prompt
        if turn:
            tally.later_read += read
            tally.later_prompt += prompt
        tally.cost += float(response.headers.get("x-raceway-cost-usd", 0))
        history.append({"role": "assistant", "content": "pong"})


async def workload(url: str, group: str, sessions: int, turns: int) -> Tally:
    tally = Tally()
    # No keep-alive: every turn opens a connection, which the kernel gives to either worker.
    limits = httpx.Limits(max_keepalive_connections=0, max_connections=sessions)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(session(client, url, group, n, turns, tally) for n in range(sessions)))
    return tally


def affinity_steps_us(repeat: int = 5000) -> dict[str, float]:
    """Microseconds of CPU that affinity's own steps take per request, in this process: the
    session key (from the header; from the ~90 KB body's prefix when no header names it), its
    group key, the pin lookup, the placement over three deployments and the pin's write."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from router.config.model import CooldownSettings, Deployment
    from router.fleet.breaker import Breaker
    from router.fleet.fleet import Member
    from router.fleet.stats import DeploymentStats
    from router.routing.affinity import place
    from router.routing.sessions import session_of
    from router.state.pins import PinTable
    from router.wire.dialect import Dialect

    history = [
        {"role": "user", "content": "fix the failing test " * 20},
        {"role": "assistant", "content": "ok"},
    ] * 8
    body = {"model": "m", "system": SYSTEM, "tools": TOOLS, "messages": history}
    headers = {"x-claude-code-session-id": "0d3c5e2a-8d7e-4b7a-9f0e-3c2b1a0f9e8d"}
    members = [
        Member(
            Deployment(name=n, provider="fake", model=n),
            None,
            Breaker(CooldownSettings()),
            DeploymentStats(),
            None,
        )  # type: ignore[arg-type]
        for n in ("d1", "d2", "d3")
    ]
    names = [m.name for m in members]
    table = PinTable(None)

    def timed(step: Any) -> float:
        started = time.process_time()
        for _ in range(repeat):
            step()
        return (time.process_time() - started) / repeat * 1e6

    def placed() -> None:
        session = session_of(Dialect.MESSAGES, headers, body, "x-session-id")
        assert session is not None
        key = session.key_for("m")
        found = table.lookup(key, names)
        winner = place(key, found, members, tokens=20000, spreads=True).ordered[0]
        table.keep(key, winner.name, 300.0)

    return {
        "session key from the header": timed(
            lambda: session_of(Dialect.MESSAGES, headers, body, "x-session-id")
        ),
        "session key from the prefix (no header)": timed(lambda: session_of(Dialect.MESSAGES, {}, body, "x")),
        "whole step with the header: key, pin lookup, placement, pin write": timed(placed),
    }


def upstream_calls(gateway: Server) -> float:
    metrics = httpx.get(gateway.url.replace("/v1/chat/completions", "/metrics"), timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("raceway_upstream_requests_total{")
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--turns", type=int, default=8)
    parser.add_argument("--groups", nargs="+", choices=GROUPS, default=list(GROUPS))
    args = parser.parse_args()
    prefix_kb = len(str(SYSTEM) + str(TOOLS)) // 1024
    report = [
        f"### Affinity: {args.sessions} sessions x {args.turns} turns, ~{prefix_kb} KB prefix, three "
        f"prompt-caching deployments (cold {COLD_MS} ms, warm {WARM_MS} ms), 2 workers",
        "",
        "| group | cache-read share of prompt tokens (after the first turn) | p50 ms | p99 ms "
        "| upstream calls per request "
        "| cost per session (USD) | gateway CPU per request (ms) | failures |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with bench_session() as (workdir, servers):
        upstream_port = free_port()
        servers.append(start_upstream(upstream_port))
        for group in args.groups:  # a fresh gateway each: no group inherits another's latency windows
            gateway, _ = start_raceway(config(upstream_port), free_port(), workdir, workers=2)
            servers.append(gateway)
            url = gateway.url.replace("/chat/completions", "/messages")
            before = upstream_calls(gateway)
            tally, cpu, _ = measure_cpu(
                gateway,
                lambda url=url, group=group: asyncio.run(workload(url, group, args.sessions, args.turns)),
            )
            requests = len(tally.latencies)
            calls = (upstream_calls(gateway) - before) / max(1, requests)
            report.append(
                f"| {group} | {tally.read / max(1, tally.prompt) * 100:.1f} % "
                f"({tally.later_read / max(1, tally.later_prompt) * 100:.1f} %) "
                f"| {percentile(tally.latencies, 50) * 1000:.0f} "
                f"| {percentile(tally.latencies, 99) * 1000:.0f} "
                f"| {calls:.2f} | {tally.cost / args.sessions:.4f} | {cpu / max(1, requests) * 1000:.2f} "
                f"| {tally.failures} |"
            )
            gateway.stop()
    steps = affinity_steps_us()
    report += ["", "| affinity's own step, in process | CPU per request (us) |", "|---|---|"]
    report += [f"| {name} | {us:.1f} |" for name, us in steps.items()]
    print("\n".join(report))


if __name__ == "__main__":
    main()
