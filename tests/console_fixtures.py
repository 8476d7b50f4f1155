"""The console's browser tests' fixtures (tests/test_console*.py), a plugin of tests/conftest.py so
every module shares their definitions: Debian's Chromium driven by Playwright, `switchboard
serve` (a real uvicorn) and a real webhook server, made once per module. Module scope matters:
Playwright's sync API runs an event loop in the test's thread while it is open, so it is closed
before a module of other tests (on the same xdist worker) calls asyncio.run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.processes import ServerProcess
from tests.webhook import Webhook

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SECRET = "console-secret"


@pytest.fixture(scope="module", name="hook")
def hook_fixture() -> Iterator[Webhook]:
    webhook = Webhook()
    try:
        yield webhook
    finally:
        webhook.close()


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("console"), admin_secret=SECRET, audit_sync_runs="true")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module", name="browser")
def browser_fixture() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(name="page")
def page_fixture(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page threw: {errors}"
