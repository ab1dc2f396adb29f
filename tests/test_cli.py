"""The command line: `raceway check-config` and `raceway serve` refuse bad configs with every problem
listed; `raceway keys` creates keys and shows spend."""

import hashlib
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, WriteConfig


def raceway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "router", *args], cwd=REPO, capture_output=True, text=True, timeout=60
    )


def test_check_config_accepts_the_shipped_config() -> None:
    result = raceway("check-config", "config/gateway.yaml")
    assert result.returncode == 0, result.stderr
    assert "config/gateway.yaml: ok (2 deployments, 4 models, 0 keys" in result.stdout


def test_check_config_lists_every_problem_with_its_key_path(write_config: WriteConfig) -> None:
    path = write_config(
        """
        deployments:
          - {name: a, provider: openai, model: m, api_key: "${RACEWAY_TEST_UNSET_VAR}", retries: 3}
        models:
          - {name: chat, deployments: [a, b]}
        """
    )
    result = raceway("check-config", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert f"{path}: deployments[0].api_key: environment variable RACEWAY_TEST_UNSET_VAR is not set" in lines
    assert any(line.startswith(f"{path}: deployments[0].retries: unknown key") for line in lines)
    assert f"{path}: models[0].deployments[1]: no deployment has this name" in lines


SECRET = "sk-live-4f9a2b7c1d8e6f3a0b5c"


def test_check_config_names_keys_and_types_never_a_refused_value(write_config: WriteConfig) -> None:
    """A secret pasted into the wrong place must not reach a terminal or a CI log."""
    path = write_config(
        f"""
        server: {{workers: "{SECRET}", access_log: "{SECRET}", bind: "{SECRET}", "{SECRET}": 1}}
        deployments:
          - {{name: a, provider: "{SECRET}", model: m, weight: "{SECRET}", timeout: "{SECRET}",
             api: "{SECRET}", headers: {{"{SECRET} x": v}}, extra_params: ["{SECRET}"],
             "{SECRET}": 2}}
          - {{name: "{SECRET}\u00e9", provider: fake}}
        models:
          - {{name: chat, deployments: [a, "{SECRET}"], strategy: "{SECRET}", fallbacks: ["{SECRET}"],
             cache: {{mode: "{SECRET}"}}}}
        routes:
          - {{to: "{SECRET}", match: {{model: "{SECRET}"}}}}
        keys:
          - {{name: k, key: rw-key-one-1, models: ["{SECRET}"], budget: {{daily: 1, near: "{SECRET}",
             downgrade_to: "{SECRET}"}}}}
        state: {{backend: "{SECRET}"}}
        cache: {{max_entries: "{SECRET}"}}
        telemetry: {{traces: {{sample_ratio: "{SECRET}", protocol: "{SECRET}"}}}}
        """
    )
    result = raceway("check-config", str(path))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert f"{path}: server.workers: expected a positive integer, got a string" in lines
    assert f"{path}: server: key number 4 is not one of its keys" in " ".join(lines)
    assert len(lines) >= 20, lines  # every refused value was reported...
    assert not any(SECRET[3:] in line for line in lines), lines  # ...and none repeated


def test_serve_refuses_an_invalid_config(write_config: WriteConfig) -> None:
    path = write_config("models: []\n")
    result = raceway("serve", "-c", str(path), "--bind", "127.0.0.1:0")
    assert result.returncode == 1
    assert "deployments: is required" in result.stderr


def test_version_is_the_installed_distributions() -> None:
    from importlib.metadata import version

    result = raceway("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"raceway {version('raceway')}"


# What only a worker uses: the supervisor, which parses the command line and the config and
# spawns the workers, loads none of it, so the workers start sooner (cold start).
WORKER_ONLY = (
    "aiohttp",
    "asyncio",
    "hypercorn",
    "litellm",
    "opentelemetry",
    "prometheus_client",
    "redis",
    "starlette",
)
SUPERVISOR = """
import sys
import router.__main__ as cli

args = cli.parser().parse_args(["serve", "-c", "config/gateway.yaml"])
assert cli._load(args.config) is not None
import router.server.supervisor

print(sorted(name for name in sys.modules if name.split(".")[0] in WORKER_ONLY))
"""


def test_the_supervisor_of_serve_loads_none_of_what_only_the_workers_use() -> None:
    script = SUPERVISOR.replace("WORKER_ONLY", repr(WORKER_ONLY))
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_missing_config_file(tmp_path: Path) -> None:
    result = raceway("check-config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_litellm_is_not_imported_without_a_litellm_deployment() -> None:
    probe = (
        "import asyncio, sys\n"
        "from router.config.load import load_config\n"
        "from prometheus_client import CollectorRegistry\n"
        "from router.runtime.gateway import Gateway\n"
        "from router.telemetry.metrics import Metrics\n"
        "async def main():\n"
        "    gateway = Gateway.build(load_config('config/gateway.yaml'), Metrics(CollectorRegistry()))\n"
        "    await gateway.close()\n"
        "asyncio.run(main())\n"
        "print('litellm' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "False", result.stderr


def test_keys_create_prints_the_key_once_and_an_entry_holding_only_its_hash(
    write_config: WriteConfig,
) -> None:
    result = raceway("keys", "create", "team-a")
    assert result.returncode == 0, result.stderr
    key = result.stdout.split("key (shown only now, give it to its owner): ")[1].split()[0]
    assert key.startswith("rw-") and len(key) > 40
    entry = next(line.strip() for line in result.stdout.splitlines() if "key_sha256" in line)
    assert entry == f"- {{name: team-a, key_sha256: {hashlib.sha256(key.encode()).hexdigest()}}}"
    assert key not in entry
    path = write_config(
        f"""
        deployments: [{{name: a, provider: fake}}]
        models: [{{name: m, deployments: [a]}}]
        keys:
          {entry}
        """
    )
    assert raceway("check-config", str(path)).returncode == 0
    hashed = subprocess.run(
        [sys.executable, "-m", "router", "keys", "hash"],
        cwd=REPO,
        input=key + "\n",
        capture_output=True,
        text=True,
    )
    assert hashed.stdout.strip() == hashlib.sha256(key.encode()).hexdigest()
    assert raceway("keys", "create", "other").stdout != result.stdout  # a new key every time


def test_keys_spend_before_anything_was_spent(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(
        f"""
        state: {{ledger: "{tmp_path / "nothing-yet.sqlite3"}"}}
        deployments: [{{name: a, provider: fake}}]
        models: [{{name: m, deployments: [a]}}]
        """
    )
    result = raceway("keys", "spend", "-c", str(path))
    assert result.returncode == 0 and "no spend recorded yet" in result.stdout
