"""The dependency rules of docs/architecture.md, checked on the source: which packages of
``router`` may import which (imports under ``TYPE_CHECKING`` count, as they do for a reader)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

ROUTER = REPO / "router"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``router`` module or package ``path`` imports, as written (``from a import b``: a.b and a)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "router" or name.startswith("router.")}


MODULES = {module_name(path): imports_of(path) for path in sorted(ROUTER.rglob("*.py"))}


def inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def offenders(importer: str, forbidden: str) -> list[str]:
    """``importer``'s modules (a package or a module) that import anything of ``forbidden``."""
    return sorted(
        f"{module} -> {target}"
        for module, targets in MODULES.items()
        if inside(module, importer)
        for target in targets
        if inside(target, forbidden)
    )


def plain_data(target: str) -> bool:
    """What the config may read: itself, and the names of the wire formats (a plain enum, the
    ground floor every package stands on)."""
    return inside(target, "router.config") or inside(target, "router.wire.dialect") or target == "router.wire"


def test_the_config_is_plain_data() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in MODULES.items()
        if inside(module, "router.config")
        for target in targets
        if not plain_data(target)
    )
    assert outside == []


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("router.state", "router.fleet"),  # state speaks deployment names, not runtime objects
        ("router.state", "router.dispatch"),
        ("router.runtime", "router.http"),  # the HTTP edge reads the runtime, not the other way
        ("router.runtime", "router.server"),
        ("router.limits", "router.fleet"),
        ("router.limits", "router.state"),
        ("router.answers.cache", "router.dispatch"),  # the cache does not know how answers are made
        ("router.answers.reuse", "router.runtime"),  # nor the whole gateway
        ("router.telemetry.exchange", "router.dispatch"),  # telemetry is told
        ("router.status", "router.server"),
    ],
)
def test_no_import_crosses_a_rule(importer: str, forbidden: str) -> None:
    assert offenders(importer, forbidden) == []


def test_usage_is_imported_from_its_own_module() -> None:
    assert (
        sorted(module for module, targets in MODULES.items() if "router.dispatch.completion.Usage" in targets)
        == []
    )


def test_the_rules_see_the_source() -> None:
    """The checks above would pass on nothing: they read the real modules and their imports."""
    assert "router.fleet.fleet" in MODULES["router.runtime.gateway"]
    assert "router.state.backend.StateBackend" in MODULES["router.fleet.fleet"]  # the allowed direction
    assert offenders("router.fleet", "router.state") != []
