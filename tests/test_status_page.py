"""The status page in a real browser (headless Chromium, offline) against a real 2-worker gateway
and scripted upstreams: it follows the gateway live without a reload, its figures are /metrics',
its recent requests are the SDK's, its filters filter, and an admin key guards it."""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import openai
import pytest

from tests.browser import OfflinePage, chromium, offline_page
from tests.conftest import REPO, Gateways, RunningGateway, serving
from tests.upstream import Behaviour, FakeUpstream

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator

pytestmark = pytest.mark.integration

ARTIFACTS = REPO / "tmp" / "artifacts"
DOCS_SCREENSHOT = REPO / "docs" / "status.png"
ADMIN_KEY = "status-admin-key-1234"


def gateway_config(upstream: FakeUpstream, log: Path, *, admin: bool = False) -> str:
    native = f'provider: openai, base_url: "{upstream.base_url}", timeout: 10s'
    key = f", admin_key: {ADMIN_KEY}" if admin else ""
    return f"""
    server: {{graceful_timeout: 2s, request_log: {{path: "{log}"}}{key}}}
    deployments:
      - {{name: steady, {native}, model: steady, price: {{input: 1.0, output: 2.0}}}}
      - {{name: flaky, {native}, model: flaky, cooldown: {{failures: 1, duration: 60s}}}}
      - {{name: narrow, {native}, model: narrow, max_concurrency: 2, max_queue: 4}}
      - {{name: backup, {native}, model: backup}}
    models:
      - {{name: plain, deployments: [steady]}}
      - {{name: guarded, deployments: [flaky, backup]}}
      - {{name: slow, deployments: [narrow]}}
      - {{name: raced, deployments: [steady, backup], strategy: race}}
    keys: []
    """


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as found:
        yield found


@pytest.fixture(scope="module")
def gateway(module_upstream: FakeUpstream, gateways: Gateways) -> RunningGateway:
    directory = gateways.directory()
    config = gateway_config(module_upstream, directory / "requests.sqlite3")
    return gateways.serve(config, directory=directory)


@pytest.fixture
def page(browser: Browser, gateway: RunningGateway) -> Iterator[OfflinePage]:
    with offline_page(browser) as opened:
        opened.page.goto(f"{gateway.base_url}/status")
        opened.page.locator("#board").wait_for(state="visible")
        yield opened
        opened.assert_clean()


def sdk(gateway: RunningGateway) -> openai.OpenAI:
    # A connection per request, so the kernel spreads them over both workers.
    return openai.OpenAI(
        base_url=gateway.api_url, api_key="unused", max_retries=0, default_headers={"connection": "close"}
    )


def ask(gateway: RunningGateway, model: str, request_id: str) -> None:
    sdk(gateway).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}], extra_headers={"x-request-id": request_id}
    )


def row(page: OfflinePage, table: str, name: str) -> Locator:
    return page.page.locator(f"#{table} tbody tr[data-name='{name}']")


def metric_sum(gateway: RunningGateway, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(httpx.get(f"{gateway.base_url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def until(condition: object, what: str, patience: float = 10.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + patience
    while not condition():
        assert time.monotonic() < deadline, f"not within {patience}s: {what}"
        time.sleep(0.05)


def test_a_failing_deployment_shows_cooling_down_within_two_seconds_without_a_reload(
    page: OfflinePage, gateway: RunningGateway, module_upstream: FakeUpstream
) -> None:
    from playwright.sync_api import expect

    state = row(page, "deployments", "flaky").locator(".state")
    expect(state).to_have_text("usable")
    module_upstream.script("flaky", Behaviour(status=500, error={"message": "boom", "type": "server_error"}))
    ask(gateway, "guarded", "through-flaky")  # flaky fails, its breaker opens, backup answers
    opened = time.monotonic()
    expect(state).to_contain_text("cooling down until", timeout=2000)
    assert time.monotonic() - opened < 2.0
    expect(row(page, "deployments", "flaky").locator("td.err")).to_contain_text("upstream_error")
    page.page.reload()  # the reload is not what showed it: it was there already, and stays
    expect(state).to_contain_text("cooling down")


def test_in_flight_and_queue_move_under_load_and_return_to_zero(
    page: OfflinePage, gateway: RunningGateway, module_upstream: FakeUpstream
) -> None:
    from playwright.sync_api import expect

    module_upstream.script("narrow", Behaviour(delay=2.0))
    load = [threading.Thread(target=_try, args=(gateway, "slow", f"load-{n}")) for n in range(6)]
    for thread in load:
        thread.start()
    narrow = row(page, "deployments", "narrow")
    expect(narrow.locator(".in-flight")).not_to_have_text("0", timeout=5000)
    expect(narrow.locator(".queue")).not_to_have_text("0", timeout=5000)
    for thread in load:
        thread.join(20)
    expect(narrow.locator(".in-flight")).to_have_text("0", timeout=5000)
    expect(narrow.locator(".queue")).to_have_text("0", timeout=5000)


def _try(gateway: RunningGateway, model: str, request_id: str) -> None:
    with contextlib.suppress(openai.RateLimitError):  # a worker's queue was full: refused at once
        ask(gateway, model, request_id)


def test_an_sdk_request_appears_in_recent_requests_and_opens_its_detail(
    page: OfflinePage, gateway: RunningGateway
) -> None:
    from playwright.sync_api import expect

    ask(gateway, "raced", "seen-in-the-page")
    seen = page.page.locator("#requests tbody tr[data-request-id='seen-in-the-page']")
    expect(seen).to_be_visible(timeout=5000)
    expect(seen.locator(".status")).to_have_text("200")
    deployment = seen.locator(".deployment").inner_text()
    assert deployment in ("steady", "backup")
    seen.click()
    expect(page.page.locator("#detail-id")).to_have_text("seen-in-the-page")
    outcomes = page.page.locator("#calls tbody tr")
    expect(outcomes).to_have_count(2)  # a race: both deployments were called
    expect(page.page.locator("#calls tbody tr", has_text="won")).to_contain_text(deployment)
    expect(page.page.locator("#detail-trace")).to_have_text("(not traced)")


def test_filters_show_only_the_matching_requests(page: OfflinePage, gateway: RunningGateway) -> None:
    from playwright.sync_api import expect

    ask(gateway, "plain", "filter-ok")
    with pytest.raises(openai.NotFoundError):
        ask(gateway, "no-such-model", "filter-missing")
    requests = page.page.locator("#requests tbody tr")
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-missing']")).to_be_visible(
        timeout=5000
    )
    page.page.select_option("#f-status", "error")
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-ok']")).to_have_count(0)
    statuses = requests.locator(".status").all_inner_texts()
    assert statuses and all(int(status) >= 400 for status in statuses)
    page.page.select_option("#f-status", "")
    page.page.select_option("#f-model", "plain")
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-ok']")).to_be_visible(timeout=5000)
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-missing']")).to_have_count(0)
    models = requests.locator("td:nth-child(3)").all_inner_texts()
    assert models and set(models) == {"plain"}
    page.page.select_option("#f-model", "")
    # Every model again (the unfiltered answer is drawn), before the next filter is chosen.
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-missing']")).to_be_visible(
        timeout=5000
    )
    page.page.select_option("#f-deployment", "steady")
    # The table is redrawn when the filtered answer arrives: wait for it, then read it.
    expect(page.page.locator("#requests tbody tr[data-request-id='filter-missing']")).to_have_count(0)
    expect(requests.locator(".deployment").filter(has_not_text="steady")).to_have_count(0, timeout=5000)
    assert set(requests.locator(".deployment").all_inner_texts()) == {"steady"}


def test_the_page_shows_the_figures_of_metrics_summed_over_both_workers(
    page: OfflinePage, gateway: RunningGateway
) -> None:
    from playwright.sync_api import expect

    served_by: set[str] = set()
    for number in range(40):  # until both workers served some (the kernel spreads connections)
        ask(gateway, "plain", f"figures-{number}")
        served_by |= {
            line.split('"worker":"')[1][0] for line in gateway.output if f'"figures-{number}"' in line
        }
        if served_by == {"0", "1"} and number >= 5:
            break
    assert served_by == {"0", "1"}
    # A worker writes a turn's counts, then its access-log lines, at the end of the turn, which
    # may come after its answer was read: once the last request's line is out, its counts are in.
    last = f'"figures-{number}"'
    until(lambda: any(last in line for line in list(gateway.output)), "the last request's access-log line")
    calls = metric_sum(gateway, "raceway_upstream_requests_total", deployment="steady")
    requests = metric_sum(gateway, "raceway_requests_total", model="plain")
    expect(row(page, "deployments", "steady").locator(".calls")).to_have_text(str(round(calls)), timeout=5000)
    expect(row(page, "models", "plain").locator(".requests")).to_have_text(str(round(requests)), timeout=5000)
    expect(page.page.locator("#workers tbody tr")).to_have_count(2)


def test_a_screenshot_of_the_page_is_kept(page: OfflinePage, gateway: RunningGateway) -> None:
    from playwright.sync_api import expect

    for number in range(3):
        ask(gateway, "plain", f"shot-{number}")
    expect(page.page.locator("#requests tbody tr[data-request-id='shot-2']")).to_be_visible(timeout=5000)
    page.page.locator("#requests tbody tr[data-request-id='shot-2']").click()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "status.png"
    page.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("RACEWAY_UPDATE_DOCS_SCREENSHOT"):  # refresh the one docs/status.md shows
        shutil.copyfile(shot, DOCS_SCREENSHOT)


def test_the_admin_key_is_asked_for_and_a_wrong_one_refused(
    browser: Browser, module_upstream: FakeUpstream, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    config = gateway_config(module_upstream, tmp_path / "requests.sqlite3", admin=True)
    with serving(config, tmp_path) as guarded, offline_page(browser) as opened:
        page = opened.page
        page.goto(f"{guarded.base_url}/status")
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#board")).to_be_hidden()
        page.fill("#login-key", "not-the-admin-key")
        page.click("#login-submit")
        expect(page.locator("#login-error")).to_have_text("invalid admin key")
        expect(page.locator("#board")).to_be_hidden()
        page.fill("#login-key", ADMIN_KEY)
        page.click("#login-submit")
        expect(page.locator("#board")).to_be_visible()
        expect(row(opened, "deployments", "steady")).to_be_visible()
        assert page.context.cookies() == []  # the key lives in the page's memory only
        assert httpx.get(f"{guarded.base_url}/status.json").status_code == 401
        # The browser reports each refused fetch (401) on its console: those, and nothing else.
        opened.assert_clean(allowed_errors=("status of 401",))
