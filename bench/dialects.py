"""Benchmark of the dialects (issue 14): pass-through and translation, CPU per request.

    python bench/dialects.py [--rounds 3] [--seconds 5] [--workers 2] [--no-litellm]

One run starts the fake upstream (``bench/fake_upstream.py``: OpenAI chat and Anthropic
Messages), Raceway with a chat deployment (``provider: openai``) and a Messages deployment
(``provider: anthropic``) on it, and the LiteLLM proxy when ``bench/.venv-litellm`` exists
(``bench/install_litellm_proxy.sh``), its ``/v1/messages`` routed to the same chat upstream.
wrk -t2 -c64 then loads one path at a time, JSON and stream, with a small body and a
Claude-Code-sized one (~87 KB: a long system prompt, 20 tools, a tool call and its result):

    chat pass-through      chat client      -> chat upstream
    messages pass-through  messages client  -> Messages upstream
    messages -> chat       messages client  -> chat upstream (translated)
    chat -> messages       chat client      -> Messages upstream (translated)
    responses -> chat      responses client -> chat upstream (translated)
    gemini pass-through    gemini client    -> Gemini upstream
    gemini -> chat         gemini client    -> chat upstream (translated)
    chat -> gemini         chat client      -> Gemini upstream, native wire
    chat -> gemini litellm chat client      -> Gemini upstream, through litellm's adapter
    litellm chat           the LiteLLM proxy, chat client -> chat upstream
    litellm messages -> chat   the LiteLLM proxy, messages client -> chat upstream

Every round runs every cell once, the order reversed each round, so a change in the
machine's speed hits all alike. The steady figure is the server's CPU per request
(user + system of its whole process tree, from /proc); the table shows medians over rounds.
Streams are 20 content chunks sent back to back (``gap0ms``), so the figure is the work
per stream, not the cost of waking up between chunks. Needs Debian's wrk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import (
    BENCH,
    Server,
    bench_session,
    free_port,
    measure_cpu,
    start_raceway,
    start_upstream,
    wait_health,
)

LITELLM = BENCH / ".venv-litellm" / "bin" / "litellm"
UPSTREAM_MODEL = "bench-0ms-gap0ms"  # answers at once; stream chunks back to back

# -- bodies ------------------------------------------------------------------------

_PROSE = (
    "the agent reads files edits code runs commands and reports back to the user while "
    "following the repository conventions tests must pass before a change is committed "
    "prefer small focused diffs explain tradeoffs briefly never invent paths or APIs"
)
_WORDS = _PROSE.split()


def _text(size: int, seed: int) -> str:
    """Deterministic prose of about ``size`` characters."""
    words, length, index = [], 0, seed
    while length < size:
        word = _WORDS[(index * 7 + seed) % len(_WORDS)]
        words.append(word)
        length += len(word) + 1
        index += 1
    return " ".join(words)


def _tools() -> list[dict[str, Any]]:
    """Twenty tools shaped like a coding agent's: a long description and a small JSON schema."""
    names = [
        "Task", "Bash", "Glob", "Grep", "LS", "ExitPlanMode", "Read", "Edit", "MultiEdit", "Write",
        "NotebookEdit", "WebFetch", "TodoWrite", "WebSearch", "BashOutput", "KillShell",
        "SlashCommand", "ListMcpResources", "ReadMcpResource", "AskUser",
    ]  # fmt: skip
    tools = []
    for index, name in enumerate(names):
        tools.append(
            {
                "name": name,
                "description": _text(1500, index),
                "schema": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": _text(120, index + 1)},
                        "pattern": {"type": "string", "description": _text(80, index + 2)},
                        "limit": {"type": "integer", "description": "how many lines to read"},
                        "options": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": _text(60, index + 3),
                        },
                    },
                    "required": ["path"],
                    "additionalProperties": False,
                },
            }
        )
    return tools


@dataclass(frozen=True)
class Conversation:
    """One coding-agent turn, written out in each dialect."""

    system: str
    reminder: str
    ask: str
    file: str
    tools: list[dict[str, Any]]


def conversation(large: bool) -> Conversation | None:
    if not large:
        return None
    return Conversation(
        system=_text(28_000, 1),
        reminder=_text(4_000, 2),
        ask="Fix the failing test in tests/test_app.py and explain the cause.",
        file=_text(12_000, 3),
        tools=_tools(),
    )


def chat_body(model: str, stream: bool, large: bool) -> dict[str, object]:
    body: dict[str, object] = {"model": model}
    convo = conversation(large)
    if convo is None:
        body["messages"] = [{"role": "user", "content": "ping"}]
    else:
        body["messages"] = [
            {"role": "system", "content": convo.system},
            {"role": "user", "content": f"{convo.reminder}\n\n{convo.ask}"},
            {
                "role": "assistant",
                "content": "I'll read the test file first.",
                "tool_calls": [
                    {
                        "id": "call_01",
                        "type": "function",
                        "function": {"name": "Read", "arguments": '{"path": "tests/test_app.py"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_01", "content": convo.file},
        ]
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t["name"], "description": t["description"], "parameters": t["schema"]},
            }
            for t in convo.tools
        ]
        body["max_tokens"] = 32_000
        body["temperature"] = 1
    if stream:
        body["stream"] = True
    return body


def messages_body(model: str, stream: bool, large: bool) -> dict[str, object]:
    body: dict[str, object] = {"model": model, "max_tokens": 256}
    convo = conversation(large)
    if convo is None:
        body["messages"] = [{"role": "user", "content": "ping"}]
    else:
        ephemeral = {"type": "ephemeral"}
        body["max_tokens"] = 32_000
        body["system"] = [
            {"type": "text", "text": "You are Claude Code, a coding agent.", "cache_control": ephemeral},
            {"type": "text", "text": convo.system, "cache_control": ephemeral},
        ]
        body["tools"] = [
            {"name": t["name"], "description": t["description"], "input_schema": t["schema"]}
            for t in convo.tools
        ]
        body["messages"] = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": convo.reminder},
                    {"type": "text", "text": convo.ask, "cache_control": ephemeral},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "I'll read the test file first."},
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "Read",
                        "input": {"path": "tests/test_app.py"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": convo.file}],
            },
        ]
        body["metadata"] = {"user_id": "user_bench_account__session_0000"}
        body["temperature"] = 1
    if stream:
        body["stream"] = True
    return body


def responses_body(model: str, stream: bool, large: bool) -> dict[str, object]:
    body: dict[str, object] = {"model": model}
    convo = conversation(large)
    if convo is None:
        body["input"] = "ping"
    else:
        body["instructions"] = convo.system
        body["input"] = [
            {
                "role": "user",
                "content": [{"type": "input_text", "text": f"{convo.reminder}\n\n{convo.ask}"}],
            },
            {
                "type": "function_call",
                "call_id": "call_01",
                "name": "Read",
                "arguments": '{"path": "tests/test_app.py"}',
            },
            {"type": "function_call_output", "call_id": "call_01", "output": convo.file},
        ]
        body["tools"] = [
            {
                "type": "function",
                "name": t["name"],
                "description": t["description"],
                "parameters": t["schema"],
            }
            for t in convo.tools
        ]
        body["max_output_tokens"] = 32_000
    if stream:
        body["stream"] = True
    return body


def gemini_body(model: str, stream: bool, large: bool) -> dict[str, object]:
    """A Gemini request (the model and streaming go in the URL, see ``Cell.url``)."""
    convo = conversation(large)
    if convo is None:
        return {"contents": [{"role": "user", "parts": [{"text": "ping"}]}]}
    return {
        "systemInstruction": {"role": "user", "parts": [{"text": convo.system}]},
        "contents": [
            {"role": "user", "parts": [{"text": convo.reminder}, {"text": convo.ask}]},
            {
                "role": "model",
                "parts": [
                    {"functionCall": {"id": "call_01", "name": "Read", "args": {"path": "tests/test_app.py"}}}
                ],
            },
            {
                "role": "user",
                "parts": [
                    {
                        "functionResponse": {
                            "id": "call_01",
                            "name": "Read",
                            "response": {"output": convo.file},
                        }
                    }
                ],
            },
        ],
        "tools": [
            {
                "functionDeclarations": [
                    {"name": t["name"], "description": t["description"], "parametersJsonSchema": t["schema"]}
                    for t in convo.tools
                ]
            }
        ],
        "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64, "maxOutputTokens": 32_000},
    }


# -- paths ---------------------------------------------------------------------------

ENDPOINTS = {
    "chat": ("/v1/chat/completions", chat_body),
    "messages": ("/v1/messages", messages_body),
    "responses": ("/v1/responses", responses_body),
    "gemini": ("/v1beta/models/{model}:{method}", gemini_body),
}


@dataclass(frozen=True)
class Route:
    label: str
    server: str  # "raceway" or "litellm-proxy"
    client: str  # the client's dialect: a key of ENDPOINTS
    model: str  # the gateway's model name


PATHS = [
    Route("chat pass-through", "raceway", "chat", "chat"),
    Route("messages pass-through", "raceway", "messages", "anthropic"),
    Route("messages → chat", "raceway", "messages", "chat"),
    Route("chat → messages", "raceway", "chat", "anthropic"),
    Route("responses → chat", "raceway", "responses", "chat"),
    Route("gemini pass-through", "raceway", "gemini", "gemini"),
    Route("gemini → chat", "raceway", "gemini", "chat"),
    Route("chat → gemini", "raceway", "chat", "gemini"),
    Route("chat → gemini litellm", "raceway", "chat", "gemini-litellm"),
    Route("litellm chat pass-through", "litellm-proxy", "chat", "chat"),
    Route("litellm messages → chat", "litellm-proxy", "messages", "chat"),
]


@dataclass(frozen=True)
class Cell:
    path: Route
    large: bool
    stream: bool

    @property
    def variant(self) -> str:
        return f"{'large' if self.large else 'small'} {'stream' if self.stream else 'JSON'}"

    def body(self) -> bytes:
        return orjson.dumps(ENDPOINTS[self.path.client][1](self.path.model, self.stream, self.large))

    def url(self, servers: dict[str, Server]) -> str:
        root = servers[self.path.server].url.removesuffix("/v1/chat/completions")
        path = ENDPOINTS[self.path.client][0]
        if self.path.client == "gemini":
            method = "streamGenerateContent?alt=sse" if self.stream else "generateContent"
            path = path.format(model=self.path.model, method=method)
        return root + path


def raceway_config(upstream_port: int) -> str:
    root = f"http://127.0.0.1:{upstream_port}"
    return textwrap.dedent(f"""\
        server: {{graceful_timeout: 5s}}
        deployments:
          - {{name: d-chat, provider: openai, base_url: '{root}/v1', model: {UPSTREAM_MODEL}}}
          - {{name: d-anthropic, provider: anthropic, base_url: '{root}', model: {UPSTREAM_MODEL}}}
          - {{name: d-gemini, provider: gemini, base_url: '{root}', model: {UPSTREAM_MODEL}}}
          - {{name: d-gemini-litellm, provider: gemini, adapter: litellm, base_url: '{root}/v1beta',
              model: {UPSTREAM_MODEL}, api_key: '${{BENCH_GEMINI_KEY:-bench-key}}'}}
        models:
          - {{name: chat, deployments: [d-chat]}}
          - {{name: anthropic, deployments: [d-anthropic]}}
          - {{name: gemini, deployments: [d-gemini]}}
          - {{name: gemini-litellm, deployments: [d-gemini-litellm]}}
        """)


def start_litellm(port: int, upstream_port: int, workdir: Path, workers: int) -> Server | None:
    """The LiteLLM proxy with model ``chat`` on the chat upstream.

    Its ``/v1/messages`` sends an ``openai/`` model to the Responses API unless
    ``use_chat_completions_url_for_anthropic_messages`` is set (litellm 1.106,
    ``llms/anthropic/pass_through/messages/handler.py``); set, it goes through
    ``LiteLLMMessagesToCompletionTransformationHandler``: Messages → chat → Messages.
    """
    if not LITELLM.exists():
        return None
    config = workdir / "litellm-dialects.yaml"
    config.write_text(
        textwrap.dedent(f"""\
            model_list:
              - model_name: chat
                litellm_params:
                  model: openai/{UPSTREAM_MODEL}
                  api_base: http://127.0.0.1:{upstream_port}/v1
                  api_key: dummy
            litellm_settings:
              use_chat_completions_url_for_anthropic_messages: true
            """)
    )
    env = {
        **os.environ,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "TELEMETRY": "False",
        "LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY": "true",
        "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
    }
    process = subprocess.Popen(
        [
            *(str(LITELLM), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)),
            *("--num_workers", str(workers)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    wait_health(f"http://127.0.0.1:{port}/health/liveliness", process, timeout=180)
    return Server("litellm-proxy", process, f"http://127.0.0.1:{port}/v1/chat/completions", "")


# -- measuring -----------------------------------------------------------------------


def check(cell: Cell, servers: dict[str, Server]) -> str:
    """One request before measuring: the path must answer 200 in its client's dialect."""
    response = httpx.post(
        cell.url(servers),
        content=cell.body(),
        headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        timeout=60,
    )
    text = response.text
    if response.status_code != 200:
        raise RuntimeError(f"{cell.path.label} {cell.variant}: {response.status_code} {text[:300]}")
    expected = {
        ("chat", False): '"chat.completion"',
        ("chat", True): "[DONE]",
        ("messages", False): '"type":"message"',
        ("messages", True): "message_stop",
        ("responses", False): '"object":"response"',
        ("responses", True): "response.completed",
        ("gemini", False): '"finishReason":"STOP"',
        ("gemini", True): '"finishReason":"STOP"',
    }[(cell.path.client, cell.stream)]
    if expected not in text.replace('": "', '":"'):
        raise RuntimeError(f"{cell.path.label} {cell.variant}: unexpected answer {text[:300]}")
    return text


def wrk(url: str, body_file: Path, connections: int, seconds: int) -> tuple[float, int]:
    """(requests/s, failed requests) from wrk posting the body in ``body_file``."""
    lua = textwrap.dedent(f"""\
        wrk.method = "POST"
        local f = assert(io.open("{body_file}", "rb"))
        wrk.body = f:read("*a")
        f:close()
        wrk.headers["Content-Type"] = "application/json"
        wrk.headers["anthropic-version"] = "2023-06-01"
        done = function(summary, latency, requests)
          io.write(string.format("RESULT %d %d\\n", summary.requests, summary.duration))
          io.write(string.format("ERRORS %d\\n", summary.errors.connect + summary.errors.read
            + summary.errors.write + summary.errors.status + summary.errors.timeout))
        end
        """)
    script = body_file.with_suffix(".lua")
    script.write_text(lua)
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    ).stdout
    line = next(line for line in output.splitlines() if line.startswith("RESULT"))
    requests, duration_us = (int(v) for v in line.split()[1:])
    errors = int(next(line for line in output.splitlines() if line.startswith("ERRORS")).split()[1])
    return requests / (duration_us / 1e6), errors


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="duration of each wrk run")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM proxy even if installed")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    started = time.strftime("%Y-%m-%d %H:%M")
    load_before = loadavg()
    with bench_session() as (workdir, running):
        upstream_port = free_port()
        running.append(start_upstream(upstream_port))
        raceway, _ = start_raceway(raceway_config(upstream_port), free_port(), workdir, args.workers)
        running.append(raceway)
        servers = {"raceway": raceway}
        if not args.no_litellm:
            litellm = start_litellm(free_port(), upstream_port, workdir, args.workers)
            if litellm is not None:
                running.append(litellm)
                servers["litellm-proxy"] = litellm
        cells = [
            Cell(path, large, stream)
            for large in (False, True)
            for stream in (False, True)
            for path in PATHS
            if path.server in servers
        ]
        bodies: dict[Cell, Path] = {}
        sizes: dict[str, int] = {}
        for index, cell in enumerate(cells):
            check(cell, servers)
            bodies[cell] = workdir / f"body-{index}.json"
            bodies[cell].write_bytes(cell.body())
            sizes[f"{cell.path.client} {cell.variant}"] = len(cell.body())
        for cell in cells:  # warm-up: every path once, 2 s
            wrk(cell.url(servers), bodies[cell], args.connections, 2)
        results: dict[Cell, list[tuple[float, float, int]]] = {cell: [] for cell in cells}
        for round_index in range(args.rounds):
            order = cells if round_index % 2 == 0 else list(reversed(cells))
            for cell in order:
                server = servers[cell.path.server]
                load = partial(wrk, cell.url(servers), bodies[cell], args.connections, args.seconds)
                (rps, errors), cpu, _ = measure_cpu(server, load)
                per_request = cpu / (rps * args.seconds) * 1000 if rps else float("nan")
                results[cell].append((rps, per_request, errors))
            print(f"round {round_index + 1} done, load {loadavg()}", file=sys.stderr)
    load_after = loadavg()

    def median_cpu(label: str, large: bool, stream: bool) -> float | None:
        for cell, runs in results.items():
            if cell.path.label == label and cell.large == large and cell.stream == stream:
                return statistics.median(cpu for _, cpu, _ in runs)
        return None

    lines = [
        f"## Dialects run of {started} · {os.cpu_count()} cores · {args.workers} workers · "
        f"wrk -t2 -c{args.connections}, {args.seconds} s a run, {args.rounds} interleaved rounds",
        "",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_after}. Body sizes (bytes): "
        + ", ".join(f"{name} {size:,}" for name, size in sorted(sizes.items()) if "stream" not in name)
        + ".",
        "",
        "| body | path | requests/s (median) | CPU ms/request per round | median CPU ms/request "
        "| vs chat pass-through | vs its dialect's pass-through | LiteLLM / Raceway |",
        "|---|---|---|---|---|---|---|---|",
    ]
    raceway_twin = {
        "litellm chat pass-through": "chat pass-through",
        "litellm messages → chat": "messages → chat",
        "chat → gemini litellm": "chat → gemini",  # litellm's adapter against the native wire
    }
    for cell, runs in results.items():
        cpu = statistics.median(c for _, c, _ in runs)
        rps = statistics.median(r for r, _, _ in runs)
        chat = median_cpu("chat pass-through", cell.large, cell.stream)
        own = "gemini pass-through" if cell.path.client == "gemini" else "messages pass-through"
        messages = median_cpu(own, cell.large, cell.stream)
        vs_chat = f"{cpu / chat:.2f}x" if chat and cell.path.server == "raceway" else ""
        vs_messages = (
            f"{cpu / messages:.2f}x"
            if messages and cell.path.server == "raceway" and cell.path.client in ("messages", "gemini")
            else ""
        )
        twin = raceway_twin.get(cell.path.label)
        twin_cpu = median_cpu(twin, cell.large, cell.stream) if twin else None
        vs_raceway = f"{cpu / twin_cpu:.1f}x" if twin_cpu else ""
        errors = sum(e for _, _, e in runs)
        per_round = " / ".join(f"{c:.3f}" for _, c, _ in runs) + (f" ({errors} failed)" if errors else "")
        lines.append(
            f"| {cell.variant} | {cell.path.label} | {rps:,.0f} | {per_round} | {cpu:.3f} "
            f"| {vs_chat} | {vs_messages} | {vs_raceway} |"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
