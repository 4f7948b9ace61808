"""The pages and the API docs work in a real browser under the Content-Security-Policy.

Chromium with JavaScript on, against the app served live (tests/web/conftest.py). Each page is
opened with a listener for `securitypolicyviolation` installed before any of its scripts run: a
page passes when nothing it loads or does is refused by the policy and its scripts did their work
(the Design System's `govuk-frontend-supported` class; live.js's socket opened; Swagger UI drew
the API's operations from the schema).
"""

from __future__ import annotations

import pytest

from tests.web.conftest import sign_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}`);
});
"""


def _violations(page) -> list[str]:
    return page.evaluate("window.__violations")


def test_the_pages_run_their_scripts_with_nothing_refused(js_page, live_app):
    page = js_page
    page.add_init_script(LISTEN)
    page.goto("/sign-in/")
    assert "govuk-frontend-supported" in page.get_attribute("body", "class")
    assert _violations(page) == []
    sign_in(page, live_app.users["key_worker"])
    for path in ("/caseload/", f"/families/{live_app.ids['family']}/", "/alerts/"):
        response = page.goto(path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert "govuk-frontend-supported" in page.get_attribute("body", "class"), path
        # live.js opened the alerts socket (connect-src 'self' covers ws: on the same host).
        page.wait_for_selector("html[data-live-alerts='open']")
        assert _violations(page) == [], path


def test_the_api_docs_draw_the_schema_under_the_policy(js_page, live_app):
    page = js_page
    page.add_init_script(LISTEN)
    sign_in(page, live_app.users["key_worker"])
    response = page.goto("/api/v1/docs/")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-eval" not in policy
    page.wait_for_selector(".opblock-tag", timeout=30_000)  # the operations, by tag
    assert page.locator(".opblock").count() > 20
    page.locator(".opblock-summary").first.click()  # an operation opened: its parameters drawn
    page.wait_for_selector(".opblock-body")
    # Swagger UI's files come from the app, not a CDN.
    sources = page.eval_on_selector_all(
        "script[src], link[href]", "els => els.map(e => e.src || e.href)"
    )
    assert all(s.startswith(live_app.url) for s in sources), sources
    assert _violations(page) == []
