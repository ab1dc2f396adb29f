"""The environment the tests run in is exactly uv.lock: every locked package is installed at its
locked version, and nothing is installed that the lock does not name."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.utils import canonicalize_name

from tests.conftest import REPO

PROJECT = "raceway"
LockedPackage = dict[str, Any]


def read_lock() -> list[LockedPackage]:
    with (REPO / "uv.lock").open("rb") as lock:
        packages: list[LockedPackage] = tomllib.load(lock)["package"]
    return packages


def applies_here(dependency: dict[str, Any]) -> bool:
    marker = dependency.get("marker")
    return marker is None or Marker(marker).evaluate()


def find(packages: list[LockedPackage], dependency: dict[str, Any]) -> LockedPackage:
    """The locked package a dependency entry points at (the lock names a version only when it
    holds several of one package, for different markers)."""
    matches = [
        package
        for package in packages
        if package["name"] == dependency["name"]
        and dependency.get("version", package["version"]) == package["version"]
    ]
    assert len(matches) == 1, f"uv.lock: {dependency} matches {len(matches)} packages"
    return matches[0]


def closure(packages: list[LockedPackage], roots: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Name -> version of every package the roots need on this machine, extras included."""
    needed: dict[str, str] = {}
    pending = [root for root in roots if applies_here(root)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        dependency = pending.pop()
        extras = tuple(dependency.get("extra", ()))
        if (dependency["name"], extras) in seen:
            continue
        seen.add((dependency["name"], extras))
        package = find(packages, dependency)
        needed[package["name"]] = package["version"]
        requirements: list[dict[str, Any]] = list(package.get("dependencies", []))
        for extra in extras:
            requirements += package.get("optional-dependencies", {}).get(extra, [])
        pending += [requirement for requirement in requirements if applies_here(requirement)]
    return needed


def project_roots(packages: list[LockedPackage], *groups: str) -> Iterator[dict[str, Any]]:
    project = next(package for package in packages if package["name"] == PROJECT)
    yield from project.get("dependencies", [])
    for group in groups:
        yield from project["dev-dependencies"][group]


def installed() -> dict[str, str]:
    return {
        canonicalize_name(distribution.metadata["Name"]): distribution.version
        for distribution in metadata.distributions()
    }


def test_every_package_the_tests_need_is_installed_at_its_locked_version() -> None:
    packages = read_lock()
    wanted = closure(packages, project_roots(packages, "test"))
    assert "litellm" in wanted and "pytest" in wanted
    present = installed()
    wrong = {
        name: (version, present.get(name)) for name, version in wanted.items() if present.get(name) != version
    }
    assert wrong == {}, "locked version vs installed; install with the README's test command"


def test_nothing_is_installed_that_the_lock_does_not_name() -> None:
    packages = read_lock()
    locked = {package["name"]: package["version"] for package in packages}
    present = installed()
    present.pop(PROJECT)
    strays = {name: version for name, version in present.items() if locked.get(name) != version}
    assert strays == {}, "installed but not in uv.lock at that version"


def test_the_lock_pins_every_registry_package_by_hash() -> None:
    for package in read_lock():
        if package["name"] == PROJECT:
            continue
        files = [package["sdist"]] if "sdist" in package else []
        files += package.get("wheels", [])
        assert files, f"{package['name']} has no locked file"
        assert all(file["hash"].startswith("sha256:") for file in files), package["name"]


def copy_project(destination: Path) -> None:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(REPO / name, destination / name)


def check_lock(directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REPO / ".ci" / "check-lock", directory], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_lock_check_passes_on_the_committed_lock(tmp_path: Path) -> None:
    copy_project(tmp_path)
    result = check_lock(tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_range_edited_without_relocking_fails_the_check_and_names_the_fix(tmp_path: Path) -> None:
    copy_project(tmp_path)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    assert '"aiolimiter>=1.2,<2"' in text
    pyproject.write_text(text.replace('"aiolimiter>=1.2,<2"', '"aiolimiter>=1.1,<2"'))
    result = check_lock(tmp_path)
    assert result.returncode == 1
    assert "uv.lock is stale" in result.stderr and "python3 -m uv lock" in result.stderr
