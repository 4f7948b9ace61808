"""Fixtures for the end-to-end browser tests: tests/web/conftest.py's, reused.

- `live_app` (session) and `browser` (module) are tests/web/conftest.py's fixtures, imported: the
  app served live on a seeded database of its own (tests/web/live.py; with REDIS_URL, two worker
  processes and the Redis channel layer) and Debian's chromium driven by Playwright. Imported into
  this folder, pytest keeps a session copy of `live_app` for it (a run of tests/web and tests/e2e
  together starts one server for each).
- `new_page(width=…, height=…)`: a page in a fresh browser context (no cookies), JavaScript on,
  its base URL the live app's; every context it made is closed after the test. A test that needs
  several people at once (a key worker and a partner) opens one context for each.
- `sign_in(page, username)` (tests/web/conftest.py): signs in through the sign-in page.

As in tests/web: no `db` fixture here (Playwright's sync API keeps an event loop in the main
thread, where Django's ORM refuses to run); read and write through the pages, the API or
`live_app.python(code)`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.web.conftest import TIMEOUT_MS, browser, live_app, sign_in  # noqa: F401 - fixtures

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def new_page(browser, live_app):  # noqa: F811 - the imported fixtures
    contexts = []

    def make(*, width: int = 1280, height: int = 900):
        context = browser.new_context(
            base_url=live_app.url, viewport={"width": width, "height": height}
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
