"""`raceway check-config` and `raceway serve` refuse bad configs with every problem listed."""

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
    assert "config/gateway.yaml: ok (2 deployments, 2 models, 0 keys" in result.stdout


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
    assert f"{path}: models[0].deployments[1]: undefined deployment 'b'" in lines


def test_serve_refuses_an_invalid_config(write_config: WriteConfig) -> None:
    path = write_config("models: []\n")
    result = raceway("serve", "-c", str(path), "--bind", "127.0.0.1:0")
    assert result.returncode == 1
    assert "deployments: is required" in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = raceway("check-config", str(tmp_path / "absent.yaml"))
    assert result.returncode == 1 and "cannot read" in result.stderr


def test_litellm_is_not_imported_without_a_litellm_deployment() -> None:
    probe = (
        "import asyncio, sys\n"
        "from router.config import load_config\n"
        "from prometheus_client import CollectorRegistry\n"
        "from router.gateway import Gateway\n"
        "from router.metrics import Metrics\n"
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
