"""The configuration reference (docs/configuration.md, router/config/reference.py): its tables are
the model's keys and defaults, every key the reader accepts is on it, and the page is current."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest
import yaml

from router.config.load import parse_config
from router.config.meanings import MEANINGS, Unit
from router.config.model import ConfigError
from router.config.reference import PAGE, REGENERATE, SECTIONS, keys_of_section, regenerate, render, table
from router.config.units import parse_duration, parse_size
from tests.conftest import REPO

# The smallest config with every section present, so an unknown key can be put in any of them.
EVERY_SECTION: dict[str, Any] = {
    "server": {"cors": {"origins": ["*"]}, "request_log": {}},
    "deployments": [
        {"name": "fake", "provider": "fake", "fake": {}, "cooldown": {}},
        {"name": "priced", "provider": "openai", "model": "m", "price": {"input": 1, "output": 2}},
    ],
    "models": [
        {"name": "m", "deployments": ["fake"], "retries": {}, "cache": {}, "affinity": {}, "resume": {}},
        {"name": "h", "deployments": ["fake"], "strategy": "hedge", "hedge_budget": {}},
    ],
    "routes": [{"name": "r", "match": {}, "to": "m"}],
    "keys": [{"name": "k", "key": "a-long-key", "budget": {"daily": 1}}],
    "cache": {},
    "state": {},
    "telemetry": {"traces": {}},
}


def section_of(document: dict[str, Any], path: str) -> dict[str, Any]:
    """The mapping at ``path`` (``deployments[].price``: the first entry that has one)."""
    found: Any = document
    for part in path.split("."):
        name = part.removesuffix("[]")
        if isinstance(found, list):
            found = next(entry for entry in found if name in entry)
        found = found[name]
    return found[0] if isinstance(found, list) else found  # type: ignore[no-any-return]


def accepted_keys(path: str) -> set[str]:
    """What the reader says a section allows, asked with an unknown key put there."""
    document = copy.deepcopy(EVERY_SECTION)
    section_of(document, path)["not_a_key"] = 1
    with pytest.raises(ConfigError) as refused:
        parse_config(yaml.safe_dump(document).encode(), {})
    (problem,) = [p for p in refused.value.problems if "not_a_key" in p]
    allowed = re.search(r"\(allowed: (.*)\)", problem)
    assert allowed is not None, problem
    return set(allowed.group(1).split(", "))


def test_the_config_with_every_section_is_valid() -> None:
    parse_config(yaml.safe_dump(EVERY_SECTION).encode(), {})


@pytest.mark.parametrize("path", [section.path for section in SECTIONS])
def test_each_table_lists_exactly_the_keys_the_reader_accepts(path: str) -> None:
    (section,) = [s for s in SECTIONS if s.path == path]
    documented = {name for name, _ in keys_of_section(section)}
    assert documented == accepted_keys(path)
    rows = re.findall(r"^\| `([a-z_0-9]+)` \|", table(path), re.MULTILINE)
    assert rows == [name for name, _ in keys_of_section(section)]


def test_defaults_are_shown_as_values_the_config_reads_back() -> None:
    shown = 0
    for section in SECTIONS:
        for name, found in keys_of_section(section):
            key = MEANINGS[section.path][name]
            if found is None or key.unit is Unit.PLAIN or found.default in (None, dataclasses.MISSING):
                continue
            value = found.default
            written = render(value, key.unit)
            reads = parse_duration(written) if key.unit is Unit.DURATION else parse_size(written)
            assert reads == pytest.approx(value), f"{section.path}.{name}: {written}"
            shown += 1
    assert shown > 20
    assert "| `timeout` | `120s` |" in table("deployments[]")
    assert "| `max_body_size` | `10MiB` |" in table("server")
    cooldown = "`{failures: 3, window: 30s, duration: 30s, max_retry_after: 60s}`"
    assert f"| `cooldown` | {cooldown} |" in table("deployments[]")


def test_a_page_without_a_sections_table_is_refused() -> None:
    page = (REPO / PAGE).read_text()
    without = re.sub(r"<!-- reference: state -->\n.*?<!-- /reference -->", "", page, flags=re.DOTALL)
    with pytest.raises(ValueError, match="no table for state"):
        regenerate(without)


def test_the_configuration_page_is_current() -> None:
    page = (REPO / PAGE).read_text()
    assert regenerate(page) == page, f"{PAGE} is stale: run {REGENERATE}"
