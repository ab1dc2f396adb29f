"""Mid-stream resume: what it saves when an upstream cuts streams, and what it costs when none breaks.

    python bench/resume.py [--streams 200] [--concurrency 16] [--cut-share 0.2] [--rounds 3]

Raceway (one worker) serves chat streams of a ``--words``-word script from a group of two
deployments: ``cutter`` (an OpenAI chat upstream that cuts ``--cut-share`` of its streams at a
random word, half an event then the connection closed) first, and ``prefill`` (an Anthropic
Messages upstream that continues a prefill with the rest of the script). The upstreams are
served by this process; so is the client (httpx), which reads every stream whole.

1. Share of streams whose text is the whole script: the group with ``resume`` against the same
   group without it (today's behaviour: the cut stream ends with the error event).
2. Added latency of a resumed stream: from the moment the upstream cut it to the moment the
   client read the next content byte (the continuation's first word), p50 and p99. Both ends are
   in this process, so one clock times them.
3. CPU per stream of the gateway with ``resume`` on but never triggered (no cuts) against off,
   interleaved ``--rounds`` times (the gateway process tree's user + system time, from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import Server, bench_session, free_port, start_raceway


class Upstreams:
    """The cutting chat upstream and the continuing Messages one, with the times of the cuts."""

    def __init__(self, words: int, gap: float, cut_share: float, seed: int) -> None:
        self.words = [f"w{index}" if index == 0 else f" w{index}" for index in range(words)]
        self.gap = gap
        self.cut_share = cut_share
        self.rng = random.Random(seed)
        self.cuts: dict[str, tuple[int, float]] = {}  # request id: the word it was cut before, when

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        app.router.add_post("/v1/messages", self.messages)
        return app

    async def chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        cut = body["model"] == "cutter" and self.rng.random() < self.cut_share
        at = self.rng.randrange(1, len(self.words)) if cut else None
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        envelope = {"id": "chatcmpl-b", "object": "chat.completion.chunk", "created": 1, "model": "cutter"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return b"data: " + orjson.dumps({**envelope, "choices": [choice]}) + b"\n\n"

        await response.write(chunk({"role": "assistant", "content": ""}))
        for index, word in enumerate(self.words):
            if index == at:
                await response.write(b'data: {"id": "partial')
                self.cuts[body["messages"][0]["content"]] = (index, time.perf_counter())
                assert request.transport is not None
                request.transport.close()
                return response
            if index:
                await asyncio.sleep(self.gap)
            await response.write(chunk({"content": word}))
        await response.write(chunk({}, "stop"))
        usage = {
            "prompt_tokens": 5,
            "completion_tokens": len(self.words),
            "total_tokens": 5 + len(self.words),
        }
        await response.write(b"data: " + orjson.dumps({**envelope, "choices": [], "usage": usage}) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        return response

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        last = body["messages"][-1]
        prefix = last["content"] if last["role"] == "assistant" else ""
        rest = "".join(self.words)[len(prefix) :]
        pieces = [" " + word for word in rest.split(" ") if word] if rest.startswith(" ") else [rest]
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)

        async def event(name: str, data: dict[str, Any]) -> None:
            await response.write(
                f"event: {name}\ndata: ".encode() + orjson.dumps({"type": name, **data}) + b"\n\n"
            )

        usage = {"input_tokens": 5, "output_tokens": 1}
        message = {"id": "msg_b", "type": "message", "role": "assistant", "model": "prefill", "content": []}
        await event("message_start", {"message": {**message, "usage": usage}})
        await event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        for index, piece in enumerate(pieces):
            if index:
                await asyncio.sleep(self.gap)
            await event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
        await event("content_block_stop", {"index": 0})
        await event(
            "message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(pieces)}}
        )
        await event("message_stop", {})
        return response


def config(upstream: str) -> str:
    never = "cooldown: {failures: 1000000}"
    return f"""
    deployments:
      - {{name: cutter, provider: openai, base_url: "{upstream}/v1", model: cutter, {never}}}
      - {{name: prefill, provider: anthropic, base_url: "{upstream}", model: prefill, {never}}}
    models:
      - {{name: "on", deployments: [cutter, prefill], resume: {{}}}}
      - {{name: "off", deployments: [cutter, prefill]}}
    """


async def one_stream(
    client: httpx.AsyncClient, url: str, model: str, request_id: str, words: list[str]
) -> tuple[bool, float | None]:
    """Whether the stream's text is the whole script, and when the client read the word the
    upstream cut before (None: not cut, or never read)."""
    body = {"model": model, "messages": [{"role": "user", "content": request_id}], "stream": True}
    text, arrivals = "", []
    async with client.stream("POST", url, json=body, headers={"x-request-id": request_id}) as response:
        async for line in response.aiter_lines():
            if not line.startswith("data: {"):
                continue
            document = orjson.loads(line[6:])
            for choice in document.get("choices") or []:
                content = (choice.get("delta") or {}).get("content")
                if content:
                    text += content
                    arrivals.append(time.perf_counter())
    return text == "".join(words), arrivals


async def batch(
    url: str, model: str, streams: int, concurrency: int, upstreams: Upstreams, tag: str
) -> tuple[float, list[float]]:
    """(share of whole answers, resumed streams' latency from the cut to the next content byte)."""
    limit = asyncio.Semaphore(concurrency)
    whole = 0
    latencies: list[float] = []
    async with httpx.AsyncClient(timeout=60) as client:

        async def run(number: int) -> None:
            nonlocal whole
            request_id = f"{tag}-{number}"
            async with limit:
                complete, arrivals = await one_stream(client, url, model, request_id, upstreams.words)
            whole += complete
            cut = upstreams.cuts.get(request_id)
            if cut is not None and complete:
                index, at = cut
                latencies.append(arrivals[index] - at)  # the word the cut came before, read from B

        async with asyncio.TaskGroup() as group:
            for number in range(streams):
                group.create_task(run(number))
    return whole / streams, latencies


def cpu_of(server: Server) -> float:
    return sum(server.cpu().values())


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def run(args: argparse.Namespace) -> None:
    upstreams = Upstreams(args.words, args.gap_ms / 1000, args.cut_share, args.seed)
    runner = web.AppRunner(upstreams.app(), access_log=None)
    await runner.setup()
    upstream_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", upstream_port).start()
    try:
        with bench_session() as (workdir, servers):
            port = free_port()
            server, _cold = await asyncio.to_thread(
                start_raceway, config(f"http://127.0.0.1:{upstream_port}"), port, workdir, 1
            )
            servers.append(server)
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            shape = f"{args.words} words, {args.gap_ms:g} ms apart"
            print(f"{args.streams} streams of {shape}, {args.concurrency} at once")
            for model in ("off", "on"):
                share, latencies = await batch(
                    url, model, args.streams, args.concurrency, upstreams, f"cut-{model}"
                )
                line = f"resume {model:>3}: {share:6.1%} of streams whole"
                if latencies:
                    p50, p99 = (percentile(latencies, share) * 1000 for share in (0.5, 0.99))
                    line += f"; {len(latencies)} resumed, break -> next content byte"
                    line += f" p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                print(line)
            upstreams.cut_share = 0.0
            cpu: dict[str, list[float]] = {"off": [], "on": []}
            for round_number in range(args.rounds):
                order = ("off", "on") if round_number % 2 == 0 else ("on", "off")
                for model in order:
                    before = cpu_of(server)
                    await batch(
                        url, model, args.streams, args.concurrency, upstreams, f"cpu-{model}-{round_number}"
                    )
                    cpu[model].append((cpu_of(server) - before) / args.streams * 1e6)
            off, on = statistics.median(cpu["off"]), statistics.median(cpu["on"])
            print(
                f"gateway CPU per stream, no cut (median of {args.rounds}): off {off:.0f} us, on {on:.0f} us "
                f"({(on - off) / off:+.1%})"
            )
            paired = [b / a - 1 for a, b in zip(cpu["off"], cpu["on"], strict=True)]
            print(
                "  each round (off / on, us): "
                + ", ".join(f"{a:.0f} / {b:.0f}" for a, b in zip(cpu["off"], cpu["on"], strict=True))
                + f"; median of the rounds' ratios {statistics.median(paired):+.1%}"
            )
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--words", type=int, default=40)
    parser.add_argument("--gap-ms", type=float, default=5.0)
    parser.add_argument("--cut-share", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=24)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
