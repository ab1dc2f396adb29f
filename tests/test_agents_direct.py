"""The agent acceptance harness proven without Raceway: each real agent completes the
scripted task against the scripted upstream's wire of its own, and the chat-completions
script (which only a gateway's translation meets) streams as OpenAI's SDK expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.agents.conversation import ConversationUpstream, Wire, has_tool_result
from tests.agents.runner import (
    ANSWER,
    MODEL,
    NATIVE_WIRE,
    RUN,
    Agent,
    assert_task_done,
    write_file_script,
)

pytestmark = pytest.mark.agents

KEY = "sk-direct-test-key"


@pytest.mark.parametrize("agent", list(Agent), ids=lambda agent: agent.value)
def test_agent_completes_the_task_on_its_own_wire(agent: Agent, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    wire = NATIVE_WIRE[agent]
    script = write_file_script(agent, wire, workdir)
    with ConversationUpstream(script).running() as upstream:
        base_url = f"{upstream.base_url}/v1" if agent is Agent.CODEX else upstream.base_url
        run = RUN[agent](base_url=base_url, api_key=KEY, home=tmp_path / "home", workdir=workdir)

    assert_task_done(run, workdir)
    first, second = upstream.requests  # the tool call, then the answer to its result
    assert first.path == second.path == wire.value
    if agent is Agent.GEMINI_CLI:  # the model is in the path
        assert "model" not in first.body
    else:
        assert first.body["model"] == MODEL[agent]
    assert script.tool_call.name in first.tool_names  # the tool the script calls is the agent's own
    assert not has_tool_result(wire, first.body)
    assert has_tool_result(wire, second.body)
    if agent is Agent.CLAUDE_CODE:
        assert first.headers["x-api-key"] == KEY
    elif agent is Agent.GEMINI_CLI:
        assert first.headers["x-goog-api-key"] == KEY
    else:
        assert first.headers["authorization"] == f"Bearer {KEY}"


def test_chat_script_streams_a_tool_call_then_the_answer(tmp_path: Path) -> None:
    script = write_file_script(Agent.CLAUDE_CODE, Wire.CHAT, tmp_path)
    tools: list[Any] = [{"type": "function", "function": {"name": "Write", "parameters": {"type": "object"}}}]
    with ConversationUpstream(script).running() as upstream:
        client = openai.OpenAI(base_url=f"{upstream.base_url}/v1", api_key=KEY, max_retries=0)
        messages: list[Any] = [{"role": "user", "content": "write it"}]
        calls: dict[int, dict[str, str]] = {}
        with client.chat.completions.create(
            model="local-coder", messages=messages, tools=tools, stream=True
        ) as stream:
            for chunk in stream:
                for choice in chunk.choices:
                    for delta in choice.delta.tool_calls or []:
                        known = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                        assert delta.function is not None
                        known["id"] += delta.id or ""
                        known["name"] += delta.function.name or ""
                        known["arguments"] += delta.function.arguments or ""
        (call,) = calls.values()
        assert call["name"] == "Write"
        assert json.loads(call["arguments"]) == script.tool_call.arguments

        messages += [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": "Write", "arguments": call["arguments"]},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call["id"], "content": "written"},
        ]
        with client.chat.completions.create(
            model="local-coder", messages=messages, tools=tools, stream=True
        ) as stream:
            text = "".join(choice.delta.content or "" for chunk in stream for choice in chunk.choices)
    assert text == ANSWER
    assert [seen.path for seen in upstream.requests] == [Wire.CHAT.value] * 2
