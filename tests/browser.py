"""Headless Chromium for the tests: Debian's ``chromium``, driven by Playwright for Python.

Playwright's own browser builds are never downloaded (``playwright install`` is never run):
the system's ``/usr/bin/chromium`` is launched with ``executable_path``. Missing, the
browser tests are skipped on a developer's machine but fail in CI (``CI`` or
``RACEWAY_REQUIRE_BROWSER`` set; ``.ci/run`` installs the package and sets the latter).

Every page is offline: a request for anything but 127.0.0.1 is aborted and remembered, so a
test can assert that the page loaded nothing from elsewhere; its console errors and uncaught
exceptions are remembered too.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page, Route

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get install -y chromium"


def required() -> bool:
    return any(
        os.environ.get(name, "").lower() not in ("", "0", "false")
        for name in ("CI", "RACEWAY_REQUIRE_BROWSER")
    )


def _missing(reason: str) -> None:
    if required():
        pytest.fail(reason)
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[Browser]:
    """The system's Chromium, headless, for the block."""
    if shutil.which(CHROMIUM) is None:
        _missing(f"{CHROMIUM} is not installed: {INSTALL}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed: uv sync --group test")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class OfflinePage:
    page: Page
    refused: list[str] = field(default_factory=list)  # URLs the page tried to load from elsewhere
    errors: list[str] = field(default_factory=list)  # console errors and uncaught exceptions

    def assert_clean(self, *, allowed_errors: tuple[str, ...] = ()) -> None:
        """Nothing loaded from elsewhere; no console error but those ``allowed_errors`` name."""
        assert self.refused == []
        assert [e for e in self.errors if not any(allowed in e for allowed in allowed_errors)] == []


@contextmanager
def offline_page(browser: Browser) -> Iterator[OfflinePage]:
    context = browser.new_context(viewport={"width": 1500, "height": 1100})
    page = context.new_page()
    offline = OfflinePage(page)

    def route(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            offline.refused.append(route.request.url)
            route.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            offline.errors.append(f"{message.text} ({message.location.get('url', '')})")

    context.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda error: offline.errors.append(f"uncaught: {error}"))
    try:
        yield offline
    finally:
        context.close()
