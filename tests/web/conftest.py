"""Fixtures for browser tests of the pages: the app served live, and Debian's chromium driven by
Playwright.

- `live_app` (session): the app under `python -m core.serve` on a database of its own, migrated
  and seeded (tests/web/live.py `LiveServer`: `.url`, `.users` seed key → username, `.ids` seed key
  → id, `.password`, `.python(code)` to run code on its database). Every test of the session
  shares it: make new data (`.python`) for a test that changes what others read. Served as the
  leg serves the app: one process with the in-memory channel layer on the embedded default; with
  REDIS_URL, two worker processes with the Redis channel layer on a Redis database of their own
  (`.redis_url`, `.worker_count`; `.workers()` and `.connections()` show which process holds
  which connection).
- `browser` (module): headless chromium. Playwright's sync API keeps an event loop running in the
  main thread while it is started, and Django's ORM refuses to run there then
  (SynchronousOnlyOperation): browser tests use no `db` fixture and read and write through the
  pages or `live_app.python`; the browser is closed at the end of each module so the modules after
  it can use the ORM.
- `no_js_page` / `js_page`: a fresh context (no cookies) with JavaScript off / on, its base URL
  the live app's; `sign_in(page, username)` signs in through the sign-in page.

Skipped when chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.web.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def live_app() -> Iterator[LiveServer]:
    server = LiveServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"needs chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


def _page(browser, live_app: LiveServer, *, javascript: bool):
    context = browser.new_context(java_script_enabled=javascript, base_url=live_app.url)
    context.set_default_timeout(TIMEOUT_MS)
    return context, context.new_page()


@pytest.fixture
def no_js_page(browser, live_app):
    context, page = _page(browser, live_app, javascript=False)
    yield page
    context.close()


@pytest.fixture
def js_page(browser, live_app):
    context, page = _page(browser, live_app, javascript=True)
    yield page
    context.close()


def sign_in(page, username: str, password: str | None = None, next_path: str = "") -> None:
    """Sign in through the sign-in page as a person would (works with JavaScript off)."""
    from tests.web.live import PASSWORD

    page.goto("/sign-in/" + (f"?next={next_path}" if next_path else ""))
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]:has-text('Sign in')")
    assert "/sign-in/" not in page.url, f"still on the sign-in page as {username}"
