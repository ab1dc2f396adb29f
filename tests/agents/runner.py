"""Locates the installed coding agents and runs them headless on a throwaway home.

The agents come from ``npm ci --prefix tests/agents`` (pinned and hash-verified by
``package-lock.json``). Missing, a test is skipped on a developer's machine but fails in
CI (``CI`` or ``RACEWAY_REQUIRE_AGENTS`` set), where a skip would hide that nothing ran.

Each run gets only the environment it needs (never the caller's: no real provider key, no
proxy between the agent and 127.0.0.1), a home of its own, a working directory, and a
deadline after which its whole process group is killed.
"""

from __future__ import annotations

import enum
import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.agents.conversation import Script, ToolCall, Wire

INSTALL = Path(__file__).resolve().parent
INSTALL_COMMAND = "npm ci --prefix tests/agents --no-audit --no-fund"
DEADLINE = 90.0  # seconds for one whole agent run; the scripted task takes about one


class Agent(enum.Enum):
    CLAUDE_CODE = "claude"
    CODEX = "codex"
    GEMINI_CLI = "gemini"


# What each agent is asked for, and what its scripted model does about it.
PROMPT = "Create the file hello.txt containing the greeting, then say that you did."
FILE_NAME = "hello.txt"
FILE_LINE = "Hello from the scripted model"
FILE_CONTENT = FILE_LINE + "\n"
ANSWER = "I wrote hello.txt."
MODEL = {
    Agent.CLAUDE_CODE: "claude-sonnet-4-5",
    Agent.CODEX: "gpt-5-codex",
    Agent.GEMINI_CLI: "gemini-2.5-flash",
}
NATIVE_WIRE = {Agent.CLAUDE_CODE: Wire.MESSAGES, Agent.CODEX: Wire.RESPONSES, Agent.GEMINI_CLI: Wire.GEMINI}


def write_file_script(agent: Agent, wire: Wire, workdir: Path) -> Script:
    """The task as the agent's own tools do it: Claude Code's ``Write`` (an absolute path);
    Codex's ``exec_command`` (a shell command in its working directory; 0.169 offers no
    ``apply_patch`` or ``shell`` tool to a model it has no metadata for); Gemini CLI's
    ``write_file`` (an absolute path; offered in yolo mode only)."""
    target = workdir / FILE_NAME
    if agent is Agent.CLAUDE_CODE:
        call = ToolCall("Write", {"file_path": str(target), "content": FILE_CONTENT})
    elif agent is Agent.GEMINI_CLI:
        call = ToolCall("write_file", {"file_path": str(target), "content": FILE_CONTENT})
    else:
        call = ToolCall("exec_command", {"cmd": f"printf '%s\\n' '{FILE_LINE}' > {FILE_NAME}"})
    return Script(wire, call, ANSWER)


def required() -> bool:
    """Whether a missing agent is a failure (CI) rather than a reason to skip."""
    return any(
        os.environ.get(name, "").lower() not in ("", "0", "false")
        for name in ("CI", "RACEWAY_REQUIRE_AGENTS")
    )


def executable(agent: Agent) -> Path:
    path = INSTALL / "node_modules" / ".bin" / agent.value
    if not os.access(path, os.X_OK):
        reason = f"{agent.value} is not installed: run `{INSTALL_COMMAND}`"
        if required():
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass(frozen=True)
class Run:
    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        name = Path(self.command[0]).name
        return f"{name} exited {self.returncode}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def run(command: list[str], *, cwd: Path, env: dict[str, str], deadline: float = DEADLINE) -> Run:
    """``command`` to its end; past ``deadline`` its process group is killed and the test fails."""
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,  # `codex exec` reads a prompt from a stdin that is not a terminal
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # one group: the agent's tool processes die with it
    )
    try:
        stdout, stderr = process.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{command[0]} did not finish in {deadline:.0f} s\n{Run(command, -9, stdout, stderr)}")
    finally:
        if process.poll() is None:  # an exception other than the deadline
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return Run(command, process.returncode, stdout, stderr)


def base_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),  # codex's launcher is a node script
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_STATE_HOME": str(home / ".state"),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "DISABLE_TELEMETRY": "1",
    }


def claude_code(*, base_url: str, api_key: str, home: Path, workdir: Path, prompt: str = PROMPT) -> Run:
    """``claude -p`` against ``base_url`` (the server root: it appends ``/v1/messages``),
    sending ``api_key`` as ``x-api-key``. Writes are accepted without asking; the usual
    bypass, ``--dangerously-skip-permissions``, is refused when running as root."""
    env = base_env(home) | {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_MAX_RETRIES": "0",  # a wrong answer fails the test at once, not after backoffs
    }
    command = [
        str(executable(Agent.CLAUDE_CODE)),
        "-p",
        prompt,
        "--model",
        MODEL[Agent.CLAUDE_CODE],
        "--permission-mode",
        "acceptEdits",
        "--allowedTools",
        "Write",
        "--no-session-persistence",
    ]
    return run(command, cwd=workdir, env=env)


def codex(*, base_url: str, api_key: str, home: Path, workdir: Path, prompt: str = PROMPT) -> Run:
    """``codex exec`` against ``base_url`` (the API root, ending in ``/v1``) on the Responses
    wire, sending ``api_key`` as ``Authorization: Bearer``. Its config lives in a
    ``CODEX_HOME`` of its own under ``home``."""
    codex_home = home / "codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{MODEL[Agent.CODEX]}"\n'
        'model_provider = "raceway"\n'
        "[model_providers.raceway]\n"
        'name = "Raceway"\n'
        f'base_url = "{base_url}"\n'
        'env_key = "RACEWAY_KEY"\n'
        'wire_api = "responses"\n'
        # A wrong answer fails the test at once, not after five reconnections.
        "request_max_retries = 0\n"
        "stream_max_retries = 0\n"
    )
    env = base_env(home) | {"CODEX_HOME": str(codex_home), "RACEWAY_KEY": api_key}
    command = [
        str(executable(Agent.CODEX)),
        "exec",
        "--strict-config",  # a config key this version does not know is an error, not ignored
        "--skip-git-repo-check",
        "--ephemeral",
        "--color",
        "never",
        # The scripted command runs in a throwaway directory; Codex's sandbox (bubblewrap, user
        # namespaces) would make the test depend on what the CI container allows.
        "--dangerously-bypass-approvals-and-sandbox",
        "-C",
        str(workdir),
        prompt,
    ]
    return run(command, cwd=workdir, env=env)


def gemini_cli(*, base_url: str, api_key: str, home: Path, workdir: Path, prompt: str = PROMPT) -> Run:
    """``gemini -p`` against ``base_url`` (the server root: it appends ``/v1beta/models/...``),
    sending ``api_key`` as ``x-goog-api-key``, with the settings ``shared/GEMINI_CLI.md`` lists
    for a headless run: the API-key auth type (the gateway type the base URL selects is refused
    headless), no usage statistics, telemetry or update checks; and ``maxAttempts: 1``, the
    advice of docs/gemini.md: Raceway already retried what it could."""
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(
        json.dumps(
            {
                "security": {"auth": {"selectedType": "gemini-api-key"}},
                "privacy": {"usageStatisticsEnabled": False},
                "telemetry": {"enabled": False},
                "general": {
                    "enableAutoUpdate": False,
                    "enableAutoUpdateNotification": False,
                    "maxAttempts": 1,
                },
            }
        )
    )
    env = base_env(home) | {
        "GOOGLE_GEMINI_BASE_URL": base_url,
        "GEMINI_API_KEY": api_key,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }
    command = [
        str(executable(Agent.GEMINI_CLI)),
        "-p",
        prompt,
        "--model",
        MODEL[Agent.GEMINI_CLI],
        "--approval-mode",
        "yolo",
    ]
    return run(command, cwd=workdir, env=env)


RUN = {Agent.CLAUDE_CODE: claude_code, Agent.CODEX: codex, Agent.GEMINI_CLI: gemini_cli}


def assert_task_done(run: Run, workdir: Path) -> None:
    """The agent finished cleanly, the scripted tool call really wrote the file, and the
    scripted final answer reached the user."""
    assert run.returncode == 0, str(run)
    target = workdir / FILE_NAME
    assert target.is_file(), f"{target} was not written\n{run}"
    assert target.read_text() == FILE_CONTENT
    assert ANSWER in run.stdout, str(run)
