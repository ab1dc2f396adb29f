"""The configuration reference (docs/configuration.md): one table per section, its keys and
defaults read from the dataclasses of ``router.config.model``, their meanings from
``router.config.meanings``.

The page is prose written by hand around generated tables: each table sits between
``<!-- reference: SECTION -->`` and ``<!-- /reference -->``, and only what lies between is
rewritten. A key the model has and no meaning describes, or a meaning for a key the model
lacks, stops the generation with its name::

    python -m router.config.reference           # rewrite docs/configuration.md
    python -m router.config.reference --check   # exit 1 when it is stale
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from router.config.gateway_keys import Budget, GatewayKey
from router.config.meanings import MEANINGS, Key, Unit
from router.config.model import (
    CacheSettings,
    CooldownSettings,
    CorsSettings,
    Deployment,
    FakeSettings,
    Limits,
    Price,
    RequestLogSettings,
    ServerSettings,
    StateSettings,
)
from router.config.model_groups import (
    Affinity,
    GroupCache,
    HedgeBudget,
    ModelGroup,
    Resume,
    RetrySettings,
    Route,
    RouteMatch,
)
from router.config.telemetry import TraceSettings

PAGE = Path("docs/configuration.md")
REGENERATE = "python3 -m uv run --locked python -m router.config.reference"

_BLOCK = re.compile(r"(<!-- reference: (?P<path>\S+) -->\n)(?P<body>.*?)(<!-- /reference -->)", re.DOTALL)


@dataclass(frozen=True)
class Section:
    """Where a dataclass is written in the YAML (``deployments[].cooldown``), and how its fields
    map to keys when they are not one to one."""

    path: str
    model: type[Any]
    # Fields whose own fields are written beside the others (a deployment's ``limits``).
    flattened: Mapping[str, type[Any]] = field(default_factory=dict)
    # Fields written as other keys (a gateway key's ``digest`` and ``secret``: ``key``, ``key_sha256``).
    written_as: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


SECTIONS = (
    Section("server", ServerSettings),
    Section("server.cors", CorsSettings),
    Section("server.request_log", RequestLogSettings),
    Section("deployments[]", Deployment, flattened={"limits": Limits}),
    Section("deployments[].price", Price),
    Section("deployments[].cooldown", CooldownSettings),
    Section("deployments[].fake", FakeSettings),
    Section("models[]", ModelGroup),
    Section("models[].retries", RetrySettings),
    Section("models[].cache", GroupCache),
    Section("models[].affinity", Affinity),
    Section("models[].hedge_budget", HedgeBudget),
    Section("models[].resume", Resume),
    Section("routes[]", Route),
    Section("routes[].match", RouteMatch),
    Section("keys[]", GatewayKey, written_as={"secret": ("key", "key_sha256"), "digest": ()}),
    Section("keys[].budget", Budget),
    Section("cache", CacheSettings),
    Section("state", StateSettings),
    Section("telemetry.traces", TraceSettings),
)
_BY_PATH = {section.path: section for section in SECTIONS}
_BY_MODEL = {section.model: section for section in SECTIONS}


def keys_of_section(section: Section) -> Iterator[tuple[str, dataclasses.Field[Any] | None]]:
    """The keys a section's YAML may hold, in the dataclass's order, each with its field (None for a
    key that stands for a field written another way)."""
    for f in dataclasses.fields(section.model):
        if f.name in section.flattened:
            yield from ((inner.name, inner) for inner in dataclasses.fields(section.flattened[f.name]))
        elif f.name in section.written_as:
            yield from ((name, None) for name in section.written_as[f.name])
        else:
            yield f.name, f


def table(path: str) -> str:
    """The section's reference table, in markdown."""
    section = _BY_PATH[path]
    meanings = MEANINGS.get(path, {})
    keys = dict(keys_of_section(section))
    if unknown := sorted(meanings.keys() - keys.keys()):
        raise ValueError(f"router/config/meanings.py: {path} has no key {', '.join(unknown)}")
    if missing := [name for name in keys if name not in meanings]:
        raise ValueError(f"router/config/meanings.py: {path}: say what {', '.join(missing)} mean(s)")
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for name, found in keys.items():
        key = meanings[name]
        lines.append(f"| `{name}` | {_default_cell(path, name, found, key)} | {key.meaning} |")
    return "\n".join(lines) + "\n"


def _default_cell(path: str, name: str, found: dataclasses.Field[Any] | None, key: Key) -> str:
    value = _default_of(found)
    if key.default is not None:
        # Words only where the model has no plain value to show (none, required, machine-specific).
        if value is not None and value is not dataclasses.MISSING and not _from_environment(found):
            raise ValueError(
                f"router/config/meanings.py: {path}.{name} has a default in the model: drop its words"
            )
        return key.default
    if value is dataclasses.MISSING:
        return "required"
    if value is None:
        return "none"
    shown = f"`{render(value, key.unit)}`"
    return f"{shown} {key.note}" if key.note else shown


def _default_of(found: dataclasses.Field[Any] | None) -> Any:
    if found is None:
        return dataclasses.MISSING
    if found.default_factory is not dataclasses.MISSING:
        return found.default_factory()
    return found.default


def _from_environment(found: dataclasses.Field[Any] | None) -> bool:
    """A default worked out on the machine that runs the gateway (the ledger's path)."""
    return found is not None and isinstance(_default_of(found), Path)


def render(value: Any, unit: Unit = Unit.PLAIN) -> str:
    """A default as it would be written in the YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _inline(value)
    if isinstance(value, frozenset | tuple | list):
        return "[" + ", ".join(sorted(map(str, value))) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(value.items())) + "}"
    if unit is Unit.DURATION:
        return duration(float(value))
    if unit is Unit.SIZE:
        return size(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _inline(value: Any) -> str:
    """A nested section's defaults on one line, ``{failures: 3, window: 30s, ...}`` (without those
    worked out on the machine, such as a file's path: its own table says them)."""
    section = _BY_MODEL[type(value)]
    meanings = MEANINGS[section.path]
    parts = [
        f"{f.name}: {render(getattr(value, f.name), meanings[f.name].unit)}"
        for f in dataclasses.fields(value)
        if not _from_environment(f)
    ]
    return "{" + ", ".join(parts) + "}"


def duration(seconds: float) -> str:
    """Seconds as the config writes them: ``250ms``, ``30s``, ``120s``, ``10m``, ``1h``."""
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 600 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def size(count: int) -> str:
    """Bytes as the config writes them: ``64KiB``, ``10MiB``."""
    for unit, length in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count and count % length == 0:
            return f"{count // length}{unit}"
    return str(count)


def regenerate(page: str) -> str:
    """``page`` with every reference table rewritten; every section must have exactly one."""
    seen: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        path = match.group("path")
        if path not in _BY_PATH:
            raise ValueError(f"the page has a table for {path!r}, which is no section of the config")
        seen.append(path)
        return match.group(1) + table(path) + match.group(4)

    rewritten = _BLOCK.sub(rewrite, page)
    if missing := [section.path for section in SECTIONS if section.path not in seen]:
        raise ValueError(f"the page has no table for {', '.join(missing)}")
    if len(seen) != len(set(seen)):
        raise ValueError("the page has a section's table twice")
    return rewritten


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m router.config.reference", description=__doc__.split("\n")[0]
    )
    parser.add_argument("page", nargs="?", type=Path, default=PAGE)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when the page is stale, changing nothing"
    )
    args = parser.parse_args(argv)
    current = args.page.read_text()
    fresh = regenerate(current)
    if fresh == current:
        return 0
    if args.check:
        print(f"{args.page} is stale: run {REGENERATE}", file=sys.stderr)
        return 1
    args.page.write_text(fresh)
    print(f"{args.page}: rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
