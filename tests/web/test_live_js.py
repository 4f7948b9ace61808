"""static/js/live.js in a real browser against the app served live (tests/web/conftest.py): a
key worker's open caseload page hears a partner's contact at once, through the alerts socket
signed in with the session cookie: the header's count, the family's row (unread alerts, latest
from another agency) and the screen reader announcement change; the family page's chronology
gets the new entry; a reload counts each alert once.

The data is the test's own (a key worker, a family and a token for the school's practitioner,
made with `live_app.python`), so the other browser tests' seeded families and inboxes stay as
they were. The contact is recorded through the API of the same server, whose in-memory channel
layer pushes it to the socket.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime

import pytest

from tests.web.conftest import sign_in

MAKE = """
import json
from agencies.models import Agency
from agencies.roles import Role
from tests import factories as f
lead = Agency.objects.get(name="Riverside Early Help")
school = Agency.objects.get(name="Riverside Primary School")
kw = f.staff_make(agency=lead, role=Role.KEY_WORKER, username="kw.live")
family = f.family_make(by=kw, name="Live household", postcode="RB2 2BB")
f.involvement_make(family=family, by=kw, agency=school)
f.consent_make(family=family, by=kw, agencies=[school])
from django.contrib.auth import get_user_model
teacher = get_user_model().objects.get(username="teacher")
print(json.dumps({"family": family.id, "token": f.token_for(teacher)}))
"""


@pytest.fixture(scope="module")
def world(live_app):
    return json.loads(live_app.python(MAKE))


def record_contact(live_app, world, summary: str) -> None:
    body = json.dumps(
        {"occurred_at": datetime.now(UTC).isoformat(), "method": "phone", "summary": summary}
    ).encode()
    request = urllib.request.Request(
        f"{live_app.url}/api/v1/families/{world['family']}/contacts/",
        data=body,
        method="POST",
        headers={"Authorization": f"Token {world['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as answer:
        assert answer.status == 201


def socket_open(page) -> None:
    """Wait until live.js's socket has resumed (the server answered the resume)."""
    page.wait_for_selector("html[data-live-alerts=open]", state="attached")


def test_live_js_updates_count_row_chronology_and_announces(js_page, live_app, world):
    page = js_page
    family = world["family"]
    sign_in(page, "kw.live", next_path="/caseload/")
    page.goto("/caseload/")
    count = page.locator("#alert-count")
    row = page.locator(f'tr[data-family-id="{family}"]')
    before = int(count.get_attribute("data-count"))
    unread_before = int(row.locator(".app-unread").inner_text())
    assert "Spoke to mum" not in row.locator(".app-latest").inner_text()
    socket_open(page)

    record_contact(live_app, world, "Spoke to mum about mornings")
    # Waits are given functions, not bare expressions: Playwright evaluates a bare expression
    # with eval() at each poll, which the pages' Content-Security-Policy refuses.
    page.wait_for_function(
        f"() => document.getElementById('alert-count').dataset.count === '{before + 1}'"
    )
    assert count.inner_text().startswith(str(before + 1))
    assert int(row.locator(".app-unread").inner_text()) == unread_before + 1
    latest = row.locator(".app-latest").inner_text()
    assert "Spoke to mum about mornings" in latest and "Riverside Primary School" in latest
    page.wait_for_function("() => document.getElementById('live-announcer').textContent.length > 0")
    assert "Spoke to mum" in page.locator("#live-announcer").inner_text()
    stored = page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('teamaround'))")
    assert stored, "the last alert id seen is kept in sessionStorage"

    # A reload shows the server's count: each alert is counted once, resumed or not.
    page.reload()
    socket_open(page)
    assert int(page.locator("#alert-count").get_attribute("data-count")) == before + 1

    # The family page's chronology gets the new entry at the top.
    page.goto(f"/families/{family}/")
    socket_open(page)
    record_contact(live_app, world, "Second call about the school run")
    page.wait_for_function(
        "() => document.querySelector('#chronology > li[data-alert-id]') !== null"
    )
    first = page.locator("#chronology > li").first
    assert "Second call about the school run" in first.inner_text()
    assert "New" in first.inner_text()
    assert page.locator("#chronology li[data-alert-id]").count() == 1
