"""Acceptance: the real coding agents complete a task through Raceway.

Claude Code speaks Anthropic Messages to ``/v1/messages``, Codex OpenAI Responses to
``/v1/responses``, Gemini CLI Google's Gemini API to ``/v1beta/models/{model}:streamGenerateContent``,
each authenticated with a gateway key. The model group they name is
served by a scripted upstream speaking either the agent's own wire (passed through) or
plain chat completions (translated both ways: the tools, the streamed tool call, the
tool's result and the final answer). Either way the agent must write the file, print the
final answer and exit 0; the upstream must have been called with the deployment's own
model and key, never the agent's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agents.conversation import ConversationUpstream, Seen, Wire, has_tool_result
from tests.agents.runner import (
    MODEL,
    NATIVE_WIRE,
    RUN,
    Agent,
    assert_task_done,
    executable,
    write_file_script,
)
from tests.conftest import serving

pytestmark = [pytest.mark.agents, pytest.mark.integration]

GATEWAY_KEY = "rw-agent-acceptance-key"
UPSTREAM_KEY = "sk-scripted-upstream-key"
CHAT_MODEL = "local-coder"  # what the chat upstream is called: the gateway renames the agent's model


def deployment(agent: Agent, wire: Wire, upstream: str) -> str:
    """The one deployment serving the agent's model, on ``wire``, as a config flow mapping."""
    key = 'api_key: "${UPSTREAM_KEY}"'
    if wire is Wire.MESSAGES:  # `api: messages` is the default for provider anthropic
        return (
            f'{{name: scripted, provider: anthropic, model: {MODEL[agent]}, base_url: "{upstream}", {key}}}'
        )
    if wire is Wire.RESPONSES:
        return (
            f"{{name: scripted, provider: openai, api: responses, model: {MODEL[agent]}, "
            f'base_url: "{upstream}/v1", {key}}}'
        )
    if wire is Wire.GEMINI:  # `api: gemini` is the default for provider gemini
        return f'{{name: scripted, provider: gemini, model: {MODEL[agent]}, base_url: "{upstream}", {key}}}'
    # `api: chat` is the default for OpenAI-compatible providers
    return f'{{name: scripted, provider: openai, model: {CHAT_MODEL}, base_url: "{upstream}/v1", {key}}}'


def config(agent: Agent, wire: Wire, upstream: str) -> str:
    return f"""
        server: {{graceful_timeout: 2s}}
        deployments:
          - {deployment(agent, wire, upstream)}
        models:
          - {{name: {MODEL[agent]}, deployments: [scripted]}}
        keys:
          - {{name: agent, key: "${{AGENT_KEY}}"}}
        """


def agent_base_url(agent: Agent, gateway_url: str) -> str:
    """Claude Code and Gemini CLI take the server's root (they append their paths), Codex the API root."""
    return f"{gateway_url}/v1" if agent is Agent.CODEX else gateway_url


def upstream_key(wire: Wire, seen: Seen) -> str:
    if wire is Wire.MESSAGES:
        return seen.headers.get("x-api-key", "")
    if wire is Wire.GEMINI:
        return seen.headers.get("x-goog-api-key", "")
    return seen.headers.get("authorization", "").removeprefix("Bearer ")


CASES = [
    pytest.param(agent, wire, id=f"{agent.value}-{wire.name.lower()}")
    for agent in Agent
    for wire in (NATIVE_WIRE[agent], Wire.CHAT)
]


@pytest.mark.parametrize(("agent", "wire"), CASES)
def test_agent_completes_the_task_through_raceway(agent: Agent, wire: Wire, tmp_path: Path) -> None:
    executable(agent)  # skipped (or failed, in CI) before anything starts
    workdir = tmp_path / "work"
    workdir.mkdir()
    script = write_file_script(agent, wire, workdir)
    env = {"AGENT_KEY": GATEWAY_KEY, "UPSTREAM_KEY": UPSTREAM_KEY}
    with (
        ConversationUpstream(script).running() as upstream,
        serving(config(agent, wire, upstream.base_url), tmp_path, workers=1, env=env) as gateway,
    ):
        run = RUN[agent](
            base_url=agent_base_url(agent, gateway.base_url),
            api_key=GATEWAY_KEY,
            home=tmp_path / "home",
            workdir=workdir,
        )
    print("".join(gateway.output))  # shown when the test fails

    assert_task_done(run, workdir)
    seen = upstream.requests
    assert [request.path for request in seen] == [wire.value] * len(seen)
    calls = [request for request in seen if request.body.get("tools")]
    assert len(calls) >= 2, "the tool call, then the answer to its result"
    assert script.tool_call.name in calls[0].tool_names  # the agent's tool survived the translation
    assert not has_tool_result(wire, calls[0].body)
    assert has_tool_result(wire, calls[-1].body)
    models = {
        request.path.split("/")[-1].split(":")[0] if wire is Wire.GEMINI else request.body["model"]
        for request in seen
    }
    assert models == {CHAT_MODEL if wire is Wire.CHAT else MODEL[agent]}
    assert {upstream_key(wire, request) for request in seen} == {UPSTREAM_KEY}
    assert all(GATEWAY_KEY not in value for request in seen for value in request.headers.values())


@pytest.mark.parametrize("agent", list(Agent), ids=lambda agent: agent.value)
def test_agent_with_a_wrong_key_is_refused_before_any_upstream_call(agent: Agent, tmp_path: Path) -> None:
    executable(agent)
    workdir = tmp_path / "work"
    workdir.mkdir()
    wire = NATIVE_WIRE[agent]
    env = {"AGENT_KEY": GATEWAY_KEY, "UPSTREAM_KEY": UPSTREAM_KEY}
    with (
        ConversationUpstream(write_file_script(agent, wire, workdir)).running() as upstream,
        serving(config(agent, wire, upstream.base_url), tmp_path, workers=1, env=env) as gateway,
    ):
        run = RUN[agent](
            base_url=agent_base_url(agent, gateway.base_url),
            api_key="rw-not-the-gateway-key",
            home=tmp_path / "home",
            workdir=workdir,
        )
        refused = gateway.metric('raceway_auth_failures_total{reason="invalid"}')
    print("".join(gateway.output))

    assert run.returncode != 0, str(run)
    assert refused >= 1  # refused for its key, not for want of a route
    assert upstream.requests == []
    assert not (workdir / "hello.txt").exists()
