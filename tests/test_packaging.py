"""Raceway installs the way a pip user installs it: pip builds the wheel from a checkout, fetching
the build backend that ``build-system.requires`` names from PyPI, and the wheel installed in a
fresh venv (beside the locked runtime set, nothing else) runs ``raceway``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.packaging

STEP_TIMEOUT = 180  # seconds; a step that hangs (an unreachable index) fails instead of blocking CI


def run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def uv() -> list[str]:
    """The uv that ``uv run`` exported, else the pinned one beside this Python (as .ci/check-lock)."""
    if found := os.environ.get("UV") or shutil.which("uv"):
        return [found]
    return [sys.executable, "-m", "uv"]


def project_version() -> str:
    with (REPO / "pyproject.toml").open("rb") as pyproject:
        version: str = tomllib.load(pyproject)["project"]["version"]
    return version


def test_pip_builds_a_wheel_that_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    env = tmp_path / "venv"
    venv.create(env, with_pip=True)  # no system site-packages: only what is installed below
    python = env / "bin" / "python"
    # pip's own PEP 517 build, isolated: the backend comes from PyPI, not from uv's built-in copy.
    dist = tmp_path / "dist"
    run(python, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", dist, REPO, cwd=tmp_path)
    (wheel,) = dist.glob("raceway-*.whl")
    assert wheel.name == f"raceway-{project_version()}-py3-none-any.whl"

    # The runtime dependencies at their locked versions, hash-checked (from uv's cache when warm).
    requirements = tmp_path / "requirements.txt"
    run(*uv(), "export", "--locked", "--no-dev", "--no-emit-project", "--quiet", "-o", requirements, cwd=REPO)
    install = ("pip", "install", "--quiet", "--python", python, "--require-hashes", "-r", requirements)
    run(*uv(), *install, cwd=REPO)
    run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    # The wheel's declared dependencies are all met by the locked set.
    assert "No broken requirements found" in run(python, "-m", "pip", "check", cwd=tmp_path)

    # Run from outside the checkout, so nothing is imported from the source tree.
    location = run(python, "-c", "import router; print(router.__file__)", cwd=tmp_path)
    assert Path(location.strip()).is_relative_to(env)
    raceway = env / "bin" / "raceway"
    assert project_version() in run(raceway, "--version", cwd=tmp_path)
    checked = run(raceway, "check-config", REPO / "config" / "gateway.yaml", cwd=tmp_path)
    assert ": ok (" in checked
