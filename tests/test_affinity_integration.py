"""Prompt-cache affinity through the real server (2 workers, local backend) with real clients.

The fake upstream keeps a prompt cache per deployment (``tests/upstream_prefix.py``): a turn
that reaches the deployment which answered the previous one reads its prefix from the cache.
Sessions of Claude-Code-shaped conversations (the session header, ``cache_control`` on the
system prompt and the last message, a growing history) go through ``round_robin`` over three
deployments: with affinity every turn after the first lands where the first did, whichever
worker takes its connection. The same holds for a session named only by its
``prompt_cache_key`` (Responses) and for one known only by its prefix (chat, no header).

12 sessions x 5 turns (the issue's 40 x 8 takes over a minute on two loaded cores and checks
nothing more).
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import Gateways, RunningGateway, serving
from tests.redis_server import RedisServer
from tests.upstream import Behaviour, FakeUpstream
from tests.upstream_prefix import PrefixCache

pytestmark = pytest.mark.integration

SESSIONS = 12
TURNS = 5
DEPLOYMENTS = ("d1", "d2", "d3")
SYSTEM = [
    {"type": "text", "text": "You are a coding agent. " * 200},
    {"type": "text", "text": "Project notes. " * 100, "cache_control": {"type": "ephemeral"}},
]
TOOLS = [
    {"name": f"tool_{i}", "description": "does things " * 20, "input_schema": {"type": "object"}}
    for i in range(8)
]


def config(upstream: FakeUpstream) -> str:
    def deployments(prefix: str, provider: str, base: str) -> str:
        return "".join(
            f"  - {{name: {prefix}{name}, provider: {provider}, base_url: '{base}', model: {prefix}{name},"
            " timeout: 5s, cooldown: {failures: 1, duration: 30s},"
            " price: {input: 3, output: 15, cache_read: 0.3, cache_write: 3.75}}\n"
            for name in DEPLOYMENTS
        )

    names = ", ".join(DEPLOYMENTS)
    return (
        "deployments:\n"
        + deployments("", "anthropic", upstream.root_url)
        + deployments("r", "openai", upstream.base_url).replace("timeout: 5s", "timeout: 5s, api: responses")
        + deployments("c", "openai", upstream.base_url)
        # The race's own: a deployment another test cooled down in one worker (failures: 1) would
        # move a raced session's turn that this worker takes, were it the race's winner.
        + deployments("a", "anthropic", upstream.root_url)
        + "models:\n"
        + f"  - {{name: claude, deployments: [{names}], strategy: round_robin, affinity: {{ttl: 5m}}}}\n"
        + f"  - {{name: plain, deployments: [{names}], strategy: round_robin}}\n"
        + "  - {name: codex, deployments: [rd1, rd2, rd3], strategy: round_robin, affinity: {}}\n"
        + "  - {name: chatty, deployments: [cd1, cd2, cd3], strategy: weighted, affinity: {ttl: 5m}}\n"
        + "  - {name: raced, deployments: [ad1, ad2, ad3], strategy: race, affinity: {}}\n"
        + "  - {name: hedged, deployments: [cd1, cd2], strategy: hedge, hedge_delay: 100ms,"
        " hedge_budget: {share: 1}}\n"
        + "  - {name: hedged_affine, deployments: [cd1, cd2], strategy: hedge, hedge_delay: 100ms,"
        " hedge_budget: {share: 1}, affinity: {}}\n"
        + "  - {name: hedged_budget, deployments: [cd1, cd2], strategy: hedge, hedge_delay: 100ms,"
        " affinity: {}}\n"
    )


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    return gateways.serve(config(module_upstream))


@pytest.fixture
def cached(threaded_upstream: FakeUpstream) -> FakeUpstream:
    threaded_upstream.prefix_cache = PrefixCache()
    return threaded_upstream


def served_by_worker(gateway: RunningGateway, request_ids: set[str]) -> dict[str, str]:
    """request id -> the worker that served it, from the access log (its lines may come a
    moment after the answers: waited for, a few seconds at most)."""
    workers: dict[str, str] = {}
    deadline = time.monotonic() + 5
    while not request_ids <= workers.keys() and time.monotonic() < deadline:
        for line in list(gateway.output):
            if line.startswith("{") and '"request_id"' in line:
                record = json.loads(line)
                workers[record["request_id"]] = record["worker"]
        time.sleep(0.05)
    return workers


def claude_turn(gateway: RunningGateway, model: str, session: int, history: list[dict[str, Any]]) -> Any:
    """One turn of session ``session``: a new client (so a new connection, to either worker)."""
    with anthropic.Anthropic(
        base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=10
    ) as client:
        return client.messages.with_raw_response.create(
            model=model,
            max_tokens=64,
            system=SYSTEM,  # type: ignore[arg-type]
            tools=TOOLS,  # type: ignore[arg-type]
            messages=history,  # type: ignore[arg-type]
            extra_headers={"x-claude-code-session-id": f"session-{session}"},
        )


def user_turn(session: int, turn: int) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": f"session {session}, turn {turn}: fix the bug " * 10,
                "cache_control": {"type": "ephemeral"},
            }
        ],
    }


def without_breakpoints(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claude Code moves its last breakpoint to the newest message every turn."""
    return [
        {**m, "content": [{k: v for k, v in p.items() if k != "cache_control"} for p in m["content"]]}
        if isinstance(m["content"], list)
        else m
        for m in history
    ]


def run_claude_sessions(
    gateway: RunningGateway, model: str, sessions: int = SESSIONS
) -> dict[int, list[Any]]:
    answers: dict[int, list[Any]] = defaultdict(list)
    histories: dict[int, list[dict[str, Any]]] = {s: [] for s in range(sessions)}
    for turn in range(TURNS):
        for session in range(sessions):
            history = [*without_breakpoints(histories[session]), user_turn(session, turn)]
            raw = claude_turn(gateway, model, session, history)
            message = raw.parse()
            answers[session].append(raw)
            histories[session] = [*history, {"role": "assistant", "content": message.content[0].text}]
    return answers


def test_a_sessions_turns_stay_on_one_deployment_across_workers(
    gateway: RunningGateway, cached: FakeUpstream
) -> None:
    answers = run_claude_sessions(gateway, "claude")
    workers = served_by_worker(
        gateway, {raw.headers["x-request-id"] for raws in answers.values() for raw in raws}
    )
    used_workers = set()
    for session, raws in answers.items():
        deployments = {raw.headers["x-raceway-deployment"] for raw in raws}
        assert len(deployments) == 1, (session, [raw.headers["x-raceway-deployment"] for raw in raws])
        assert [raw.headers["x-raceway-affinity"] for raw in raws] == ["new"] + ["hit"] * (TURNS - 1)
        for turn, raw in enumerate(raws):
            usage = raw.parse().usage
            if turn:
                assert usage.cache_read_input_tokens > 0, (session, turn)
            else:
                assert usage.cache_read_input_tokens == 0 and usage.cache_creation_input_tokens > 0
            used_workers.add(workers.get(raw.headers["x-request-id"]))
    assert used_workers == {"0", "1"}, "both workers served turns"
    assert len({raws[0].headers["x-raceway-deployment"] for raws in answers.values()}) == len(DEPLOYMENTS)


def test_without_affinity_round_robin_scatters_sessions_and_loses_the_cache(
    cached: FakeUpstream, tmp_path: Path
) -> None:
    """Round robin ignores the session. On one worker, whose turn alone places each request,
    and with a number of sessions prime to the three deployments, each session's next turn
    goes to another deployment than its last. (Over two workers, the kernel's choice of worker
    for each connection decides, and a session may by chance meet a single deployment.)"""
    sessions = SESSIONS + 1
    with serving(config(cached), tmp_path, workers=1) as single:
        answers = run_claude_sessions(single, "plain", sessions)
    scattered = cold = 0
    for raws in answers.values():
        assert {raw.headers["x-raceway-affinity"] for raw in raws} == {"off"}
        deployments = [raw.headers["x-raceway-deployment"] for raw in raws]
        scattered += all(one != next_one for one, next_one in itertools.pairwise(deployments))
        cold += sum(raw.parse().usage.cache_read_input_tokens == 0 for raw in raws[1:])
    assert scattered == sessions  # every session moves at every turn
    assert cold > 0  # and some of its later turns find a deployment that never saw it


def test_a_responses_session_named_only_by_its_prompt_cache_key(
    gateway: RunningGateway, cached: FakeUpstream
) -> None:
    placed: dict[int, set[str]] = defaultdict(set)
    for turn in range(TURNS):
        for session in range(SESSIONS):
            items: list[Any] = [
                {"role": "user", "content": f"task {session}, step {step} " * 20} for step in range(turn + 1)
            ]
            with openai.OpenAI(
                base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=10
            ) as client:
                raw = client.responses.with_raw_response.create(
                    model="codex", input=items, prompt_cache_key=f"codex-{session}", store=False
                )
            response = raw.parse()
            placed[session].add(raw.headers["x-raceway-deployment"])
            assert raw.headers["x-raceway-affinity"] == ("new" if turn == 0 else "hit")
            if turn:
                assert response.usage is not None and response.usage.input_tokens_details.cached_tokens > 0
    assert all(len(deployments) == 1 for deployments in placed.values()), placed


def test_a_chat_session_known_only_by_its_prefix(gateway: RunningGateway, cached: FakeUpstream) -> None:
    placed: dict[int, list[str]] = defaultdict(list)
    for turn in range(TURNS):
        for session in range(SESSIONS):
            messages: list[Any] = [{"role": "system", "content": "be brief " * 50}]
            for step in range(turn + 1):
                messages.append({"role": "user", "content": f"question {session}.{step} " * 20})
                if step < turn:
                    messages.append({"role": "assistant", "content": "hello from upstream"})
            with openai.OpenAI(
                base_url=gateway.api_url, api_key="unused", max_retries=0, timeout=10
            ) as client:
                raw = client.chat.completions.with_raw_response.create(model="chatty", messages=messages)
            completion = raw.parse()
            placed[session].append(raw.headers["x-raceway-affinity"])
            placed[session].append(raw.headers["x-raceway-deployment"])
            if turn:
                assert completion.usage is not None and completion.usage.prompt_tokens_details is not None
                assert completion.usage.prompt_tokens_details.cached_tokens > 0
    for session, seen in placed.items():
        assert seen[0::2] == ["new"] + ["hit"] * (TURNS - 1), (session, seen)
        assert len(set(seen[1::2])) == 1, (session, seen)


def test_a_session_whose_deployment_cools_down_moves_once_and_stays(
    gateway: RunningGateway, cached: FakeUpstream
) -> None:
    history: list[dict[str, Any]] = [user_turn(99, 0)]
    first = claude_turn(gateway, "claude", 99, history)
    home = first.headers["x-raceway-deployment"]
    # Its deployment fails its next turn, on whichever worker: that worker's breaker opens
    # (failures: 1) and the round goes on to another deployment, which the pin follows.
    cached.script(home, Behaviour(status=500), Behaviour())
    history = [*history, {"role": "assistant", "content": "ok"}, user_turn(99, 1)]
    moved = claude_turn(gateway, "claude", 99, history)
    assert moved.headers["x-raceway-affinity"] == "moved"
    new_home = moved.headers["x-raceway-deployment"]
    assert new_home != home
    for turn in range(2, 6):  # the old home answers again, but the session stays where it went
        history = [*history, {"role": "assistant", "content": "ok"}, user_turn(99, turn)]
        raw = claude_turn(gateway, "claude", 99, history)
        assert (raw.headers["x-raceway-deployment"], raw.headers["x-raceway-affinity"]) == (new_home, "hit")
        assert raw.parse().usage.cache_read_input_tokens > 0


def test_a_cache_read_turn_costs_the_cache_read_price(gateway: RunningGateway, cached: FakeUpstream) -> None:
    history: list[dict[str, Any]] = [user_turn(77, 0)]
    claude_turn(gateway, "claude", 77, history)
    history = [*history, {"role": "assistant", "content": "ok"}, user_turn(77, 1)]
    raw = claude_turn(gateway, "claude", 77, history)
    usage = raw.parse().usage
    assert usage.cache_read_input_tokens > 0
    expected = (
        usage.input_tokens * 3
        + usage.cache_read_input_tokens * 0.3
        + usage.cache_creation_input_tokens * 3.75
        + usage.output_tokens * 15
    ) / 1e6
    assert float(raw.headers["x-raceway-cost-usd"]) == pytest.approx(expected, rel=1e-6)


def test_a_move_on_one_instance_is_followed_by_another_through_redis(
    threaded_upstream: FakeUpstream, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Rendezvous placement agrees across instances by itself; a session that moved is known to
    another instance only through the pin in Redis."""
    threaded_upstream.prefix_cache = PrefixCache()
    shared = "state: {backend: redis, url: '${RACEWAY_REDIS_URL}'}\n" + config(threaded_upstream)
    env = {"RACEWAY_REDIS_URL": redis_server.url}
    with ExitStack() as stack:
        first, second = (
            stack.enter_context(serving(shared, tmp_path_factory.mktemp(name), workers=1, env=env))
            for name in ("redis-first", "redis-second")
        )
        history: list[dict[str, Any]] = [user_turn(55, 0)]
        home = claude_turn(first, "claude", 55, history).headers["x-raceway-deployment"]
        assert claude_turn(second, "claude", 55, history).headers["x-raceway-deployment"] == home
        threaded_upstream.script(home, Behaviour(status=500), Behaviour())
        history = [*history, {"role": "assistant", "content": "ok"}, user_turn(55, 1)]
        moved = claude_turn(first, "claude", 55, history)
        assert moved.headers["x-raceway-affinity"] == "moved"
        history = [*history, {"role": "assistant", "content": "ok"}, user_turn(55, 2)]
        followed = claude_turn(second, "claude", 55, history)  # its own breaker never saw the failure
        assert followed.headers["x-raceway-affinity"] == "hit"
        assert followed.headers["x-raceway-deployment"] == moved.headers["x-raceway-deployment"] != home
        assert followed.parse().usage.cache_read_input_tokens > 0


def test_a_race_sends_a_warm_turn_to_its_deployment_alone(
    gateway: RunningGateway, cached: FakeUpstream
) -> None:
    history: list[dict[str, Any]] = [user_turn(66, 0)]
    first = claude_turn(gateway, "raced", 66, history)
    # A new session races every deployment of the group (none of which another test uses).
    assert (first.headers["x-raceway-affinity"], first.headers["x-raceway-attempts"]) == ("new", "3")
    home = first.headers["x-raceway-deployment"]
    for turn in range(1, 4):
        history = [*history, {"role": "assistant", "content": "ok"}, user_turn(66, turn)]
        raw = claude_turn(gateway, "raced", 66, history)
        assert (raw.headers["x-raceway-affinity"], raw.headers["x-raceway-attempts"]) == ("hit", "1")
        # Picked out by their last message: the losers of the first turn's race may reach the
        # upstream only after that turn was answered.
        asked = [seen.model for seen in cached.requests if seen.body["messages"][-1] == history[-1]]
        assert asked == [home]
        assert raw.parse().usage.cache_read_input_tokens > 0
    assert gateway.metric('raceway_hedges_skipped_total{model="raced",reason="warm"}') >= 3


def chat_sessions(gateway: RunningGateway, model: str) -> None:
    for turn in range(TURNS):
        for session in range(SESSIONS):
            messages: list[Any] = []
            for step in range(turn + 1):
                messages.append({"role": "user", "content": f"{model} {session}.{step} " * 20})
                if step < turn:
                    messages.append({"role": "assistant", "content": "hello from upstream"})
            response = httpx.post(
                f"{gateway.api_url}/chat/completions",
                json={"model": model, "messages": messages},
                headers={"x-session-id": f"{model}-{session}"},
                timeout=10,
            )
            assert response.status_code == 200


def test_a_hedge_trusts_a_warm_deployment_for_its_own_latency(
    gateway: RunningGateway, cached: FakeUpstream
) -> None:
    """A warm turn is usually quick, one in four takes 200 ms: the group's 100 ms delay hedges
    those onto a cold deployment; with affinity the pinned deployment's warm p95 says 200 ms is
    its normal, so they are not hedged. (A new session hedges as before.)"""
    cached.prefix_cache = PrefixCache(cold_delay=0.3, warm_delays=(0.02, 0.02, 0.02, 0.2))
    chat_sessions(gateway, "hedged")
    cached.prefix_cache = PrefixCache(cold_delay=0.3, warm_delays=(0.02, 0.02, 0.02, 0.2))
    chat_sessions(gateway, "hedged_affine")
    plain = gateway.metric('raceway_hedges_total{model="hedged"}')
    affine = gateway.metric('raceway_hedges_total{model="hedged_affine"}')
    assert affine < plain, (affine, plain)
    assert gateway.metric('raceway_hedges_skipped_total{model="hedged_affine",reason="warm"}') > 0


def test_hedges_stay_within_the_budget(gateway: RunningGateway, cached: FakeUpstream) -> None:
    cached.prefix_cache = PrefixCache(cold_delay=0.3, warm_delays=(0.02, 0.02, 0.02, 0.2))
    chat_sessions(gateway, "hedged_budget")
    requests = SESSIONS * TURNS
    hedges = gateway.metric('raceway_hedges_total{model="hedged_budget"}')
    # Each of the two workers may hedge its share of 10 % of its requests, and 3 a minute at least.
    assert 0 < hedges <= 0.1 * requests + 2 * 3
    assert gateway.metric('raceway_hedges_skipped_total{model="hedged_budget",reason="budget"}') > 0


def test_streamed_turns_keep_their_deployment_too(gateway: RunningGateway, cached: FakeUpstream) -> None:
    """Claude Code streams its turns: the pin is known before the stream's headers go out."""
    history: list[dict[str, Any]] = []
    placed = []
    for turn in range(3):
        history.append(user_turn(88, turn))
        client = anthropic.Anthropic(base_url=gateway.base_url, api_key="unused", max_retries=0, timeout=10)
        with (
            client,
            client.messages.with_streaming_response.create(
                model="claude",
                max_tokens=64,
                system=SYSTEM,  # type: ignore[arg-type]
                messages=history,  # type: ignore[arg-type]
                stream=True,
                extra_headers={"x-claude-code-session-id": "streamed-88"},
            ) as raw,
        ):
            events = [line for line in raw.iter_lines() if line.startswith("data: ")]
            placed.append((raw.headers["x-raceway-affinity"], raw.headers["x-raceway-deployment"]))
        start = json.loads(events[0].removeprefix("data: "))
        assert start["type"] == "message_start"
        assert (start["message"]["usage"]["cache_read_input_tokens"] > 0) == (turn > 0)
        history.append({"role": "assistant", "content": "ok"})
    assert [result for result, _ in placed] == ["new", "hit", "hit"]
    assert len({deployment for _, deployment in placed}) == 1
