"""Live updates end to end, three people in three browser contexts against the app served live
(tests/web/conftest.py): a key worker with the caseload and the family page open, a partner
practitioner (the school, on the family's team under consent) logging contacts through the contact
form, and a practitioner of an agency not on the team.

- A contact logged through the form reaches the key worker's open pages within
  `WITHIN_S` of the form's POST returning, without a reload: the header's unread count, the
  family's caseload row (unread alerts, latest from another agency), the family page's chronology
  (a new first item) and the screen reader announcement.
- The key worker's sockets are dropped (Playwright's WebSocket routing closes both sides of
  each) and reconnection is refused for a while; the contacts logged meanwhile change nothing on the
  open pages; once the sockets may connect again, live.js resumes after the last alert it saw and
  each missed alert shows once: the count, the row and the chronology hold each exactly once,
  and agree with what the server renders on a reload.
- The uninvolved agency's practitioner gets the "Page not found" page for the family page and for
  every form of the family, the same page as for a family id that does not exist; the emergency
  access page (the way to ask for access) is the same form whatever the id, naming no family.

The world is the test's own (`live_app.python`): a key worker, a school practitioner and a family,
so the seeded people's inboxes stay as the other browser tests expect.

How the app is served follows the leg (tests/web/live.py). Embedded: one process, in-memory
channel layer. With REDIS_URL: two worker processes and the Redis channel layer; the test checks
that the served settings use channels_redis and that two distinct worker processes serve, then
places the key worker's two sockets on different workers (reloading the family page until the
kernel hands its socket to the worker not holding the caseload's). Whichever worker then handles
the partner's POST, one of the two pages is reached only through Redis, and both must show the
contact in time: the test does not depend on which worker gets which connection.
"""

from __future__ import annotations

import json
import os
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.web.conftest import sign_in

WITHIN_S = 2.0
RECONNECT_TIMEOUT_MS = 30_000  # live.js backs off up to 10 s between attempts
REDIS_LAYER = "core.channel_layer.RedisPubSubChannelLayer"  # channels-redis' pub/sub layer
# uvicorn closes a keep-alive connection idle for 5 s: after that only the sockets stay open.
IDLE_TIMEOUT_S = 20
PLACING_ATTEMPTS = 12  # each reload puts the socket on the other worker one time in two
SCHOOL = "Riverside Primary School"
OUTSIDER = "housing"  # the seeded housing practitioner, never on a team
MISSING_FAMILY = 987654321

MAKE = """
import json
from datetime import date
from django.contrib.auth import get_user_model
from agencies.models import Agency
from agencies.roles import Role
from cases import services
from consent import services as consent_services
from tests import factories as f
lead = Agency.objects.get(name="Riverside Early Help")
school = Agency.objects.get(name="Riverside Primary School")
kw = f.staff_make(agency=lead, role=Role.KEY_WORKER, username="kw.e2e")
teacher = f.staff_make(agency=school, role=Role.PRACTITIONER, username="teacher.e2e")
family = f.family_make(by=kw, name="Live end-to-end household", postcode="RB3 3DD")
involvement = f.involvement_make(family=family, by=kw, agency=school, practitioner=teacher.user)
consent = f.consent_make(family=family, by=kw, agencies=[school])
need = services.need_create(
    family=family, by=kw, outcome=f.outcome("education"), descriptor="Late most mornings"
)
action = services.plan_action_create(
    family=family, by=kw, description="Walking bus place", owner_agency=school,
    due_on=date(2026, 9, 1), needs=[need],
)
decision = consent_services.sharing_basis_create(
    family=family, by=kw, basis="safeguarding", agencies=[school],
    justification="Risk of harm reported by the school.",
    decided_by_id=get_user_model().objects.get(username="manager").id,
)
print(json.dumps({
    "family": family.id, "name": family.name, "involvement": involvement.id,
    "consent": consent.id, "decision": decision.id, "need": need.id, "action": action.id,
}))
"""


@pytest.fixture(scope="module")
def world(live_app):
    return json.loads(live_app.python(MAKE))


# Every form URL of a family page, formatted with the world's ids.
FORM_PATHS = (
    "/families/{family}/edit/",
    "/families/{family}/contacts/new/",
    "/families/{family}/interventions/new/",
    "/families/{family}/members/new/",
    "/families/{family}/team/new/",
    "/families/{family}/team/{involvement}/end/",
    "/families/{family}/needs/new/",
    "/families/{family}/needs/{need}/status/",
    "/families/{family}/assessments/new/",
    "/families/{family}/actions/new/",
    "/families/{family}/actions/{action}/edit/",
    "/families/{family}/sharing/new/",
    "/families/{family}/sharing/{consent}/withdraw/",
    "/families/{family}/sharing/{decision}/confirm/",
)


# --- the people's pages -----------------------------------------------------------------------


def log_contact(page, family_id: int, summary: str) -> float:
    """The partner logs a phone contact through the form; the time (time.monotonic()) the
    browser got the answer to its POST (the redirect after the contact was saved), before the
    page it leads to loads."""
    now = datetime.now(ZoneInfo("Europe/London")) - timedelta(minutes=2)
    path = f"/families/{family_id}/contacts/new/"
    page.goto(path)
    form = page.locator("main form[method='post']")
    form.locator("[name='occurred_on-day']").fill(str(now.day))
    form.locator("[name='occurred_on-month']").fill(str(now.month))
    form.locator("[name='occurred_on-year']").fill(str(now.year))
    form.locator("[name='occurred_time']").fill(now.strftime("%H:%M"))
    form.locator("input[name='method'][value='phone']").check()
    form.locator("[name='summary']").fill(summary)
    form.locator("input[name='visibility'][value='team']").check()
    returned: list[float] = []

    def answered(response) -> None:
        if response.request.method == "POST" and response.url.endswith(path):
            returned.append(time.monotonic())

    page.on("response", answered)
    try:
        with page.expect_navigation():
            form.locator("button[type='submit']").first.click()
    finally:
        page.remove_listener("response", answered)
    assert page.locator(".govuk-error-summary").count() == 0, page.locator("main").inner_text()
    assert not page.url.endswith(path), f"the contact was not accepted: {page.url}"
    assert len(returned) == 1, returned
    return returned[0]


def socket_state(page, state: str, timeout: float | None = None) -> None:
    """live.js marks <html data-live-alerts>: "open" once the server answered its resume."""
    page.wait_for_selector(f"html[data-live-alerts={state}]", state="attached", timeout=timeout)


def alert_count(page) -> int:
    return int(page.locator("#alert-count").get_attribute("data-count"))


def row_unread(page, family_id: int) -> int:
    return int(page.locator(f'tr[data-family-id="{family_id}"] .app-unread').inner_text())


def chronology_texts(page) -> list[str]:
    return page.locator("#chronology > li").all_inner_texts()


def times_shown(texts: list[str], summary: str) -> int:
    return sum(summary in text for text in texts)


CASELOAD_SHOWS = """([familyId, count, unread, summary, agency]) => {
  const badge = document.getElementById("alert-count");
  const row = document.querySelector(`tr[data-family-id="${familyId}"]`);
  const latest = row && row.querySelector(".app-latest").textContent;
  return badge.dataset.count === String(count)
    && badge.textContent.trim().startsWith(String(count))
    && row.querySelector(".app-unread").textContent.trim() === String(unread)
    && latest.includes(summary) && latest.includes(agency)
    && document.getElementById("live-announcer").textContent.includes(summary);
}"""

FAMILY_PAGE_SHOWS = """([count, summary]) => {
  const first = document.querySelector("#chronology > li");
  return document.getElementById("alert-count").dataset.count === String(count)
    && first !== null && first.hasAttribute("data-alert-id")
    && first.textContent.includes(summary)
    && document.getElementById("live-announcer").textContent.includes(summary);
}"""


class SocketSwitch:
    """Routes the pages' alert sockets through Playwright: passed to the server while `allowed`;
    `drop()` ends every open one on both sides (the page's socket closes as on a lost connection,
    the server's consumer disconnects) and refuses new ones, closing them at once, until
    `allow()`."""

    def __init__(self):
        self.allowed = True
        self.open: list = []  # (page side, server side) of each socket passed through
        self.refused = 0

    def route(self, ws) -> None:
        if not self.allowed:
            self.refused += 1
            ws.close(code=1013, reason="Try again later")
            return
        self.open.append((ws, ws.connect_to_server()))

    def drop(self) -> None:
        self.allowed = False
        sockets, self.open = self.open, []
        for page_side, server_side in sockets:
            server_side.close(code=1000, reason="Dropped by the test")
            page_side.close(code=1012, reason="Service restart")

    def allow(self) -> None:
        self.allowed = True


# --- the served processes (with Redis) -------------------------------------------------------


def served_with_redis(live_app) -> list[int]:
    """The app is served the production way: the Redis channel layer (as the served processes'
    settings load it, on a Redis database apart from the test run's) and two worker processes,
    each taking connections. Their pids."""
    backend = live_app.python(
        "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
    )
    assert backend.strip() == REDIS_LAYER, backend
    assert live_app.env["REDIS_URL"] == live_app.redis_url != os.environ["REDIS_URL"]
    workers = live_app.workers()
    assert len(workers) == len(set(workers)) == live_app.worker_count == 2, workers
    assert live_app.serving() == set(workers), "every worker listens on the port"
    return workers


def socket_holders(live_app, sockets: int) -> dict[int, set[int]]:
    """Worker pid → the client ports of the connections it holds, once the only connections
    left are the `sockets` alert sockets (the pages' keep-alive HTTP connections closed)."""
    deadline = time.monotonic() + IDLE_TIMEOUT_S
    while True:
        held = live_app.connections()
        if sum(len(ports) for ports in held.values()) == sockets:
            return held
        assert time.monotonic() < deadline, f"{sockets} sockets expected, held: {held}"
        time.sleep(0.25)


def place_sockets_on_two_workers(live_app, family_page) -> dict[int, set[int]]:
    """Reload the family page until its socket and the caseload's are held by different worker
    processes (the kernel picks a worker for each new connection); who holds what."""
    for _ in range(PLACING_ATTEMPTS):
        held = socket_holders(live_app, sockets=2)
        if all(len(ports) == 1 for ports in held.values()):
            return held
        family_page.reload()
        socket_state(family_page, "open")
    raise AssertionError(f"both sockets on one worker after {PLACING_ATTEMPTS} reloads: {held}")


# --- the tests --------------------------------------------------------------------------------


def test_a_partners_contact_reaches_the_key_workers_open_pages_and_survives_a_dropped_socket(
    new_page, world, live_app
):
    family = world["family"]
    switch = SocketSwitch()
    workers = served_with_redis(live_app) if live_app.redis_url else []

    caseload = new_page()
    caseload.context.route_web_socket("**/ws/alerts/**", switch.route)
    sign_in(caseload, "kw.e2e", next_path="/caseload/")
    assert caseload.url.endswith("/caseload/")
    family_page = caseload.context.new_page()
    family_page.goto(f"/families/{family}/")
    socket_state(caseload, "open")
    socket_state(family_page, "open")
    if workers:
        # One socket on each worker: whichever takes the partner's POST, the other's page
        # hears of it only through Redis.
        held = place_sockets_on_two_workers(live_app, family_page)
        assert set(held) == set(workers), held
    count = alert_count(caseload)
    unread = row_unread(caseload, family)
    assert alert_count(family_page) == count
    entries = len(chronology_texts(family_page))

    partner = new_page()
    sign_in(partner, "teacher.e2e")

    # 1. A contact reaches both open pages at once, without a reload.
    first = "Walked to school with dad, on time all week"
    returned = log_contact(partner, family, first)
    deadline = returned + WITHIN_S
    caseload.wait_for_function(
        CASELOAD_SHOWS,
        arg=[family, count + 1, unread + 1, first, SCHOOL],
        timeout=max(1, (deadline - time.monotonic()) * 1000),
    )
    family_page.wait_for_function(
        FAMILY_PAGE_SHOWS,
        arg=[count + 1, first],
        timeout=max(1, (deadline - time.monotonic()) * 1000),
    )
    assert time.monotonic() <= deadline + 0.1, "the pages changed too late"
    assert "New" in family_page.locator("#chronology > li").first.inner_text()
    assert SCHOOL in family_page.locator("#chronology > li").first.inner_text()
    assert len(chronology_texts(family_page)) == entries + 1
    if workers:
        assert live_app.workers() == workers, "a worker was restarted"

    # 2. The sockets drop and may not reconnect for a while; three contacts meanwhile.
    switch.drop()
    socket_state(caseload, "closed")
    socket_state(family_page, "closed")
    missed = [
        "Missed call one: attendance meeting booked",
        "Missed call two: uniform grant sorted",
        "Missed call three: breakfast club place",
    ]
    for summary in missed:
        log_contact(partner, family, summary)
    caseload.wait_for_timeout(1500)  # long enough for a delivery on a live socket
    assert switch.refused >= 1, "live.js tried to reconnect while refused"
    assert alert_count(caseload) == count + 1, "nothing may arrive while the socket is down"
    assert row_unread(caseload, family) == unread + 1
    assert len(chronology_texts(family_page)) == entries + 1

    # 3. Reconnection allowed: live.js resumes after the last alert it saw; each missed alert
    # shows once.
    switch.allow()
    socket_state(caseload, "open", timeout=RECONNECT_TIMEOUT_MS)
    socket_state(family_page, "open", timeout=RECONNECT_TIMEOUT_MS)
    total = count + 1 + len(missed)
    caseload.wait_for_function(
        CASELOAD_SHOWS, arg=[family, total, unread + 1 + len(missed), missed[-1], SCHOOL]
    )
    family_page.wait_for_function(FAMILY_PAGE_SHOWS, arg=[total, missed[-1]])
    caseload.wait_for_timeout(1500)  # a duplicate arriving late would show now
    assert alert_count(caseload) == total
    assert alert_count(family_page) == total
    assert row_unread(caseload, family) == unread + 1 + len(missed)
    texts = chronology_texts(family_page)
    assert len(texts) == entries + 1 + len(missed), texts
    for summary in [first, *missed]:
        assert times_shown(texts, summary) == 1, (summary, texts)
    live_ids = family_page.eval_on_selector_all(
        "#chronology > li[data-alert-id]", "items => items.map(i => i.dataset.alertId)"
    )
    assert len(live_ids) == len(set(live_ids)) == 1 + len(missed), live_ids

    # 4. What the server renders agrees: a reload shows the same count, row and entries.
    caseload.reload()
    assert alert_count(caseload) == total
    assert row_unread(caseload, family) == unread + 1 + len(missed)
    family_page.reload()
    texts = chronology_texts(family_page)
    assert len(texts) == entries + 1 + len(missed), texts
    for summary in [first, *missed]:
        assert times_shown(texts, summary) == 1, (summary, texts)
    if workers:
        assert live_app.workers() == workers, "a worker was restarted"


def _main_text(page, *ids: int) -> str:
    """The page's <main> text, with the ids in it made alike."""
    text = page.locator("main").inner_text()
    for value in ids:
        text = re.sub(rf"\b{value}\b", "<id>", text)
    return text


def test_an_agency_not_on_the_team_finds_no_family_page_and_no_form(new_page, world):
    family = world["family"]
    page = new_page()
    sign_in(page, OUTSIDER)

    answer = page.goto(f"/families/{MISSING_FAMILY}/")
    assert answer.status == 404
    missing = _main_text(page, MISSING_FAMILY)
    answer = page.goto(f"/families/{family}/")
    assert answer.status == 404, answer.status
    assert page.title().startswith("Page not found")
    assert page.locator("h1").inner_text() == "Page not found"
    assert _main_text(page, family) == missing, "the page tells a hidden family from none"
    assert world["name"] not in page.content()

    ids = {key: value for key, value in world.items() if isinstance(value, int)}
    missing_ids = {key: MISSING_FAMILY + n for n, key in enumerate(ids)}
    for path in FORM_PATHS:
        answer = page.goto(path.format(**missing_ids))
        assert answer.status == 404, (path, answer.status)
        missing = _main_text(page, *missing_ids.values())
        answer = page.goto(path.format(**ids))
        assert answer.status == 404, (path, answer.status)
        assert page.title().startswith("Page not found"), (path, page.title())
        assert page.locator("h1").inner_text() == "Page not found", path
        assert page.locator("#alert-count").count() == 1, "the site's header, as everywhere"
        assert _main_text(page, *ids.values()) == missing, path
        assert world["name"] not in page.content(), path

    # Asking for emergency access: the same form whatever the id, naming no family.
    answer = page.goto(f"/families/{MISSING_FAMILY}/emergency-access/")
    assert answer.status == 200
    missing = _main_text(page, MISSING_FAMILY)
    answer = page.goto(f"/families/{family}/emergency-access/")
    assert answer.status == 200
    assert _main_text(page, family) == missing
    assert world["name"] not in page.content()
