"""The README is the entry to the docs: short, with a map that names every page of docs/, and
every relative link in the README and docs/ reaches a file and a heading that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

README = REPO / "README.md"
PAGES = sorted((REPO / "docs").glob("*.md"))
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchor(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces to hyphens."""
    kept = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return kept.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return {anchor(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}


def test_the_readme_is_short_and_keeps_its_two_commands() -> None:
    text = README.read_text()
    assert len(text.splitlines()) < 200
    install = "python3 -m pip install --require-hashes -r deploy/uv-requirements.txt"
    assert f"{install} && python3 -m uv run --locked raceway serve -c config/gateway.yaml" in text
    assert f"{install} && python3 -m uv run --locked --group test pytest" in text


def test_the_docs_map_names_every_page() -> None:
    text = README.read_text()
    mapped = set(re.findall(r"^\| \[[^]]+\]\(docs/([^)#]+\.md)\) \|", text, re.MULTILINE))
    assert mapped == {page.name for page in PAGES}, "add the page to the README's docs map"


@pytest.mark.parametrize("page", [README, *PAGES], ids=lambda page: page.name)
def test_every_relative_link_reaches_its_file_and_heading(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in _LINK.findall(text):
        if target.startswith(("http://", "https://")):
            continue
        path, _, fragment = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists() or (
            fragment and destination.suffix == ".md" and fragment not in anchors(destination)
        ):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"
