"""The home pages and the alerts page, through Django's test client signed in with a session:
each role's home page shows the families the access rule gives it and only them, search, sort
and filters work, a page of families costs the same statements whatever its length, the wrong
role gets 403 and nobody signed in is sent to sign in; alerts are marked read one by one and all
at once; the alerts socket accepts the session cookie and closes when the session ends."""

from __future__ import annotations

import gc
import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts import services as alert_services
from alerts.models import Alert
from cases import access
from cases import services as case_services
from cases.models import ChronologyEntry, Family
from tests import factories as f

pytestmark = pytest.mark.django_db


def web(who, **kwargs) -> Client:
    """A test client signed in (a session) as a staff member or a user."""
    client = Client(**kwargs)
    client.force_login(getattr(who, "user", who))
    return client


def table(response, table_id: str) -> str:
    html = response.content.decode()
    start = html.find(f'id="{table_id}"')
    assert start >= 0, f"no #{table_id} on the page"
    return html[start : html.index("</table>", start)]


def row_ids(response, table_id: str) -> list[int]:
    """The families of the table's rows, in order; none when the page has no such table."""
    if f'id="{table_id}"' not in response.content.decode():
        return []
    html = table(response, table_id)
    return [int(i) for i in re.findall(r'<tr[^>]* data-family-id="(\d+)"', html)]


def row(response, table_id: str, family_id: int) -> str:
    html = table(response, table_id)
    start = html.index(f'data-family-id="{family_id}"')
    return html[start : html.index("</tr>", start)]


def cell(row_html: str, css_class: str) -> str:
    match = re.search(rf'<td class="[^"]*\b{css_class}\b[^"]*">(.*?)</td>', row_html, re.S)
    assert match, f"no .{css_class} cell"
    return match.group(1).strip()


def alert_count(response) -> int:
    match = re.search(r'id="alert-count" data-count="(\d+)"', response.content.decode())
    return int(match.group(1))


def family_set(family: Family, **fields) -> Family:
    Family.objects.filter(pk=family.pk).update(**fields)
    family.refresh_from_db()
    return family


def intervention(family, by, title: str, visibility: str = "team"):
    return case_services.intervention_create(
        family=family,
        by=by,
        kind="parenting",
        title=title,
        started_on=timezone.localdate(),
        visibility=visibility,
    )


def contact(family, by, summary: str, visibility: str = "team"):
    return case_services.contact_create(
        family=family,
        by=by,
        occurred_at=timezone.now(),
        method="phone",
        summary=summary,
        visibility=visibility,
    )


def action(family, by, owner, due_in_days: int, status: str = "open", text: str = "Do it"):
    return case_services.plan_action_create(
        family=family,
        by=by,
        description=text,
        owner_agency=owner,
        due_on=timezone.localdate() + timedelta(days=due_in_days),
        needs=[],
        status=status,
    )


# --- who gets which page ------------------------------------------------------------------------

PAGES = ("/caseload/", "/families/", "/manager/", "/alerts/")


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_is_sent_to_sign_in(db, path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/sign-in/?next={path}"


@pytest.mark.parametrize("path", ["/alerts/1/read/", "/alerts/read-all/"])
def test_signed_out_cannot_mark_alerts_read(db, path):
    response = Client().post(path)
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def test_each_home_page_is_for_its_role_only(borough):
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    people = {
        "key worker": (borough.key_worker, "/caseload/"),
        "partner": (borough.partner, "/families/"),
        "lead practitioner": (borough.lead_practitioner, "/families/"),
        "outsider": (borough.outsider, "/families/"),
        "manager": (borough.manager, "/manager/"),
        "agency admin": (admin, None),
    }
    for who, (staff, home) in people.items():
        client = web(staff)
        for path in PAGES[:3]:
            status = client.get(path).status_code
            assert status == (200 if path == home else 403), (who, path, status)
        assert client.get("/alerts/").status_code == 200
        if home is not None:
            assert client.get("/home/")["Location"] == home, who


# --- the key worker's caseload ------------------------------------------------------------------


@pytest.fixture
def caseload(borough):
    """The borough's key worker with three families of their own (one closed), a colleague's
    family and another early help agency's family."""
    today = timezone.localdate()
    kw = borough.key_worker
    smith = family_set(borough.family, level_of_need=2, next_review_on=today - timedelta(days=1))
    jones = f.family_make(by=kw, name="Jones household", postcode="AB1 2DE")
    jones = family_set(jones, level_of_need=4, next_review_on=today + timedelta(days=10))
    closed = f.family_make(by=kw, name="Adams household", postcode="CD3 4EF")
    case_services.family_close(
        family_id=closed.id, by=kw, reason="outcomes_met", outcome_summary="Plan complete."
    )
    colleague = f.staff_make(agency=borough.early_help, role=Role.KEY_WORKER)
    theirs = f.family_make(by=colleague, name="Brown household")
    other_agency = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Other Early Help")
    elsewhere = f.family_make(
        by=f.staff_make(agency=other_agency, role=Role.KEY_WORKER), name="Green household"
    )
    return {"smith": smith, "jones": jones, "closed": closed, "theirs": theirs, "other": elsewhere}


def test_caseload_lists_the_key_workers_own_open_families_only(borough, caseload):
    response = web(borough.key_worker).get("/caseload/")
    assert response.status_code == 200
    assert row_ids(response, "caseload") == [caseload["smith"].id, caseload["jones"].id]
    html = response.content.decode()
    for hidden in ("closed", "theirs", "other"):
        assert caseload[hidden].reference not in html
    assert f'href="/families/{caseload["smith"].id}/"' in html
    assert "<h1" in html and html.count("<h1") == 1


def test_caseload_filters_search_and_sorts(borough, caseload):
    client = web(borough.key_worker)
    smith, jones, closed = caseload["smith"], caseload["jones"], caseload["closed"]

    def ids(**params):
        return row_ids(client.get("/caseload/", params), "caseload")

    assert ids(status="closed") == [closed.id]
    assert ids(status="all") == sorted([smith.id, jones.id, closed.id])
    assert ids(level="4") == [jones.id]
    assert ids(q=jones.reference) == [jones.id]
    assert ids(q="jones") == [jones.id]
    assert ids(q="ab1") == [jones.id]
    assert ids(q="AB1 2DE") == [jones.id]
    assert ids(q="nobody") == []
    assert ids(q=caseload["theirs"].reference) == []  # a colleague's family
    assert ids(sort="name") == [jones.id, smith.id]
    assert ids(sort="level_of_need") == [jones.id, smith.id]
    assert ids(sort="next_review") == [smith.id, jones.id]
    assert ids(sort="name", status="all") == [closed.id, jones.id, smith.id]
    # Nonsense parameters fall back to the defaults.
    assert ids(sort="drop table", status="x", level="9") == [smith.id, jones.id]


def test_caseload_marks_overdue_reviews(borough, caseload):
    response = web(borough.key_worker).get("/caseload/")
    assert "Overdue" in row(response, "caseload", caseload["smith"].id)
    assert "govuk-tag--red" in row(response, "caseload", caseload["smith"].id)
    assert "Overdue" not in row(response, "caseload", caseload["jones"].id)


def test_caseload_counts_actions_due_and_unread_alerts(borough, caseload):
    kw, smith = borough.key_worker, caseload["smith"]
    action(smith, kw, borough.school, 3)
    action(smith, kw, borough.school, -2)  # overdue
    action(smith, kw, borough.early_help, 14, status="in_progress")
    action(smith, kw, borough.school, 30)  # not yet due
    action(smith, kw, borough.school, 1, status="done")
    action(smith, kw, borough.school, -5, status="cancelled")
    alert_services.alert_read_all(user=kw.user)
    intervention(smith, borough.partner, "Attendance plan")
    intervention(smith, borough.partner, "Breakfast club")
    response = web(kw).get("/caseload/")
    smith_row = row(response, "caseload", smith.id)
    assert cell(smith_row, "app-actions-due") == "3"
    assert cell(smith_row, "app-unread") == "2"
    jones_row = row(response, "caseload", caseload["jones"].id)
    assert cell(jones_row, "app-actions-due") == "0"
    assert cell(jones_row, "app-unread") == "0"
    assert alert_count(response) == 2
    alert_services.alert_read_all(user=kw.user)
    response = web(kw).get("/caseload/")
    assert cell(row(response, "caseload", smith.id), "app-unread") == "0"


def test_caseload_shows_the_latest_activity_of_another_agency(borough, caseload):
    kw, smith = borough.key_worker, caseload["smith"]
    response = web(kw).get("/caseload/")
    # Only the lead agency's own entries (the family opened): nothing from another agency.
    assert cell(row(response, "caseload", caseload["jones"].id), "app-latest") == "None yet"
    contact(smith, borough.partner, "Talked about attendance")
    contact(smith, kw, "Our own home visit")  # the key worker's own agency
    latest = cell(row(web(kw).get("/caseload/"), "caseload", smith.id), "app-latest")
    assert "Talked about attendance" in latest and "Hill Primary" in latest
    assert "Our own" not in latest
    # The key worker sees the partner's restricted work too (as in the family's chronology).
    contact(smith, borough.partner, "Secret", visibility="restricted")
    latest = cell(row(web(kw).get("/caseload/"), "caseload", smith.id), "app-latest")
    assert "Hill Primary recorded a restricted contact" in latest


def test_restricted_entries_q_is_restricted_q_for_every_family(borough, caseload):
    """The many-families filter the caseload uses gives, for each family, what `restricted_q`
    gives for that family alone."""
    smith = caseload["smith"]
    intervention(smith, borough.partner, "School restricted", visibility="restricted")
    intervention(smith, borough.key_worker, "Lead restricted", visibility="restricted")
    intervention(smith, borough.partner, "School team")
    colleague_family = caseload["theirs"]
    intervention(colleague_family, colleague_family.key_worker.staff, "Theirs", "restricted")
    viewers = [
        borough.key_worker,
        borough.manager,
        borough.lead_practitioner,
        borough.partner,
        borough.outsider,
    ]
    families = [smith, colleague_family, caseload["jones"]]
    for staff in viewers:
        for family in families:
            entries = ChronologyEntry.objects.filter(family=family)
            many = set(entries.filter(access.restricted_entries_q(staff.user)).values_list("id"))
            one = set(entries.filter(access.restricted_q(staff.user, family)).values_list("id"))
            assert many == one, (staff.role, family.name)


def _statements(client, path: str, table_id: str) -> tuple[int, int]:
    client.get(path)  # warm the per-process caches (the visibility plan hint)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries), len(row_ids(response, table_id))


@pytest.mark.parametrize(
    "who, path, table_id",
    [
        ("key_worker", "/caseload/", "caseload"),
        ("partner", "/families/", "partner-families"),
        ("manager", "/manager/", "lead-families"),
    ],
)
def test_a_home_page_costs_the_same_statements_whatever_its_length(borough, who, path, table_id):
    """2 families, then 12, each with a plan action for the school, the school's work, unread
    alerts and an overdue review: the same statements (no query per row)."""
    kw = borough.key_worker
    from consent import services as consent_services

    def family_with_everything(name: str) -> None:
        family = f.family_make(by=kw, name=name)
        f.involvement_make(family=family, by=kw, agency=borough.school)
        f.consent_make(family=family, by=kw, agencies=[borough.school])
        family_set(family, level_of_need=3, next_review_on=timezone.localdate() - timedelta(1))
        action(family, kw, borough.school, 2)
        intervention(family, borough.partner, f"Work with {name}")
        consent_services.emergency_access_grant(
            family_id=family.id, by=f.staff_make(agency=borough.housing), reason="Urgent"
        )

    family_set(borough.family, next_review_on=timezone.localdate() - timedelta(1))
    family_with_everything("First household")  # with the borough's own: 2 families
    client = web(getattr(borough, who))
    few, shown = _statements(client, path, table_id)
    assert shown == 2
    for n in range(10):
        family_with_everything(f"Household {n}")
    many, shown = _statements(client, path, table_id)
    assert shown == 12
    assert many == few, f"{few} statements for 2 families, {many} for 12"


# --- a practitioner's families --------------------------------------------------------------------


def test_partner_page_lists_the_agencys_families_and_its_own_open_actions(borough):
    kw, family = borough.key_worker, borough.family
    ours = action(family, kw, borough.school, -1, text="School: attendance meeting")
    action(family, kw, borough.school, 5, status="done", text="School: finished work")
    action(family, kw, borough.early_help, 5, text="Early help: home visit")
    # A family the school is on the team of without a basis: hidden from the school.
    hidden = f.family_make(by=kw, name="Hidden household")
    f.involvement_make(family=hidden, by=kw, agency=borough.school)
    action(hidden, kw, borough.school, 2, text="School: hidden family's action")

    response = web(borough.partner).get("/families/")
    assert response.status_code == 200
    assert row_ids(response, "partner-families") == [family.id]
    html = response.content.decode()
    assert hidden.reference not in html and "Hidden household" not in html
    actions = table(response, "agency-actions")
    assert f'data-action-id="{ours.id}"' in actions and "Overdue" in actions
    assert "finished work" not in actions and "home visit" not in actions
    assert "hidden family" not in html

    for who in (borough.outsider, borough.ended_partner):
        page = web(who).get("/families/")
        assert page.status_code == 200
        assert family.reference not in page.content.decode()


def test_partner_page_search(borough):
    family = borough.family
    client = web(borough.partner)
    assert row_ids(client.get("/families/", {"q": family.reference}), "partner-families") == [
        family.id
    ]
    assert row_ids(client.get("/families/", {"q": "smith"}), "partner-families") == [family.id]
    page = client.get("/families/", {"q": "nobody"})
    assert 'id="partner-families"' not in page.content.decode()
    assert "No families match" in page.content.decode()


# --- a manager's overview -------------------------------------------------------------------------


@pytest.fixture
def lead(borough, caseload):
    unallocated = f.family_make(by=borough.manager, name="Unallocated household")
    return {**caseload, "unallocated": unallocated}


def test_manager_sees_every_family_the_agency_leads(borough, lead):
    response = web(borough.manager).get("/manager/")
    assert response.status_code == 200
    shown = set(row_ids(response, "lead-families"))
    led = {lead[k].id for k in ("smith", "jones", "closed", "theirs", "unallocated")}
    assert shown == led
    assert lead["other"].reference not in response.content.decode()
    by_key_worker = table(response, "by-key-worker")
    assert "Not allocated" in by_key_worker
    assert borough.key_worker.user.get_full_name() in by_key_worker


def test_manager_groups_by_key_worker_and_status(borough, lead):
    client = web(borough.manager)
    kw = borough.key_worker.user
    only_kw = row_ids(client.get("/manager/", {"key_worker": kw.id}), "lead-families")
    assert set(only_kw) == {lead["smith"].id, lead["jones"].id, lead["closed"].id}
    only_none = row_ids(client.get("/manager/", {"key_worker": "none"}), "lead-families")
    assert only_none == [lead["unallocated"].id]
    # Sorted by key worker (unallocated first), then status, then reference.
    families = {f.id: f for f in Family.objects.select_related("key_worker")}
    ordered = row_ids(client.get("/manager/"), "lead-families")
    keys = [
        (
            families[i].key_worker is not None,
            families[i].key_worker.last_name if families[i].key_worker else "",
        )
        for i in ordered
    ]
    assert keys == sorted(keys) and ordered[0] == lead["unallocated"].id
    by_status = row_ids(client.get("/manager/", {"sort": "status"}), "lead-families")
    statuses = [families[i].status for i in by_status]
    assert statuses == sorted(statuses) and "closed" in statuses
    assert row_ids(client.get("/manager/", {"status": "closed"}), "lead-families") == [
        lead["closed"].id
    ]
    assert row_ids(client.get("/manager/", {"q": "jones"}), "lead-families") == [lead["jones"].id]
    assert client.get("/manager/", {"key_worker": "9" * 40}).status_code == 200


def test_manager_sees_overdue_reviews(borough, lead):
    today = timezone.localdate()
    family_set(lead["theirs"], next_review_on=today - timedelta(days=30))
    family_set(lead["closed"], next_review_on=today - timedelta(days=3))  # closed: not listed
    response = web(borough.manager).get("/manager/")
    html = response.content.decode()
    start = html.index('id="overdue-reviews"')
    overdue = html[start : html.index("</ul>", start)]
    ids = [int(i) for i in re.findall(r'data-family-id="(\d+)"', overdue)]
    assert ids == [lead["theirs"].id, lead["smith"].id]  # longest overdue first


def test_manager_sees_emergency_access_waiting_for_review_or_approval(borough, lead):
    from consent import services as consent_services

    granted = consent_services.emergency_access_grant(
        family_id=borough.family.id, by=borough.outsider, reason="Child at risk tonight"
    )
    with override_settings(EMERGENCY_ACCESS_DAILY_LIMIT=0):
        waiting = consent_services.emergency_access_grant(
            family_id=lead["jones"].id, by=borough.ended_partner, reason="Welfare check"
        )
    assert waiting.granted_at is None and waiting.approval_required
    reviewed = consent_services.emergency_access_grant(
        family_id=lead["theirs"].id, by=borough.outsider, reason="Another"
    )
    consent_services.emergency_access_review(
        grant_id=reviewed.id, by=borough.manager, decision="upheld"
    )
    elsewhere = consent_services.emergency_access_grant(
        family_id=lead["other"].id, by=borough.outsider, reason="Not ours"
    )
    response = web(borough.manager).get("/manager/")
    waiting_table = table(response, "emergency-waiting")
    ids = [int(i) for i in re.findall(r'data-grant-id="(\d+)"', waiting_table)]
    assert ids == [granted.id, waiting.id]
    assert f'href="/emergency-access/{granted.id}/review/"' in waiting_table
    assert f'href="/emergency-access/{waiting.id}/review/"' in waiting_table
    assert f"/emergency-access/{reviewed.id}/" not in waiting_table
    assert f"/emergency-access/{elsewhere.id}/" not in waiting_table


def test_a_manager_of_another_agency_sees_none_of_ours(borough, lead):
    other_manager = f.staff_make(agency=borough.school, role=Role.MANAGER)
    response = web(other_manager).get("/manager/")
    assert response.status_code == 200
    html = response.content.decode()
    for family in lead.values():
        assert family.reference not in html


# --- alerts ---------------------------------------------------------------------------------------


def test_alerts_page_lists_marks_and_links(borough):
    kw, partner = borough.key_worker, borough.partner
    alert_services.alert_read_all(user=kw.user)
    Alert.objects.filter(recipient=kw.user).delete()
    for title in ("One", "Two", "Three"):
        intervention(borough.family, partner, title)
    alerts = list(Alert.objects.filter(recipient=kw.user).order_by("-id"))
    assert len(alerts) == 3
    client = web(kw)
    response = client.get("/alerts/")
    html = response.content.decode()
    assert alert_count(response) == 3
    assert f'data-last-alert-id="{alerts[0].id}"' in html
    listed = [int(i) for i in re.findall(r'<li class="app-alert[^"]*" data-alert-id="(\d+)"', html)]
    assert listed == [a.id for a in alerts]  # newest first
    assert html.count("app-alert--unread") == 3
    assert html.count(f'href="/families/{borough.family.id}/"') == 3

    back = "/alerts/?page=1"
    response = client.post(f"/alerts/{alerts[1].id}/read/", {"next": back})
    assert response.status_code == 302 and response["Location"] == back
    response = client.get("/alerts/")
    assert alert_count(response) == 2 and response.content.decode().count("app-alert--unread") == 2

    # Not one's own alert: 404; GET: 405; an address elsewhere: back to the alerts page.
    other = alert_services.alerts_to_users(
        user_ids=[partner.user.id], kind="report.ready", summary="Ready"
    )[0]
    assert client.post(f"/alerts/{other.id}/read/").status_code == 404
    assert client.post(f"/alerts/{10**30}/read/").status_code == 404
    assert client.get(f"/alerts/{alerts[0].id}/read/").status_code == 405
    response = client.post(f"/alerts/{alerts[0].id}/read/", {"next": "https://evil.example/"})
    assert response["Location"] == "/alerts/"
    assert alert_count(client.get("/alerts/")) == 1

    response = client.post("/alerts/read-all/", {"next": "/caseload/"})
    assert response.status_code == 302 and response["Location"] == "/caseload/"
    response = client.get("/alerts/")
    assert alert_count(response) == 0
    assert "app-alert--unread" not in response.content.decode()
    assert "Mark all as read" not in response.content.decode()


def test_alert_forms_need_the_csrf_token(borough):
    intervention(borough.family, borough.partner, "One")
    alert = Alert.objects.filter(recipient=borough.key_worker.user).first()
    client = web(borough.key_worker, enforce_csrf_checks=True)
    assert client.post(f"/alerts/{alert.id}/read/").status_code == 403
    assert client.post("/alerts/read-all/").status_code == 403
    page = client.get("/alerts/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 2


def test_alerts_page_paginates(borough):
    kw = borough.key_worker
    Alert.objects.filter(recipient=kw.user).delete()
    alert_services.alerts_to_users(
        user_ids=[kw.user.id], kind="report.ready", summary="Ready", family=None
    )
    for n in range(29):
        alert_services.alerts_to_users(
            user_ids=[kw.user.id], kind="report.ready", summary=f"Report {n}"
        )
    client = web(kw)
    first, second = client.get("/alerts/"), client.get("/alerts/", {"page": 2})
    pattern = r'<li class="app-alert[^"]*" data-alert-id="(\d+)"'
    ids_1 = re.findall(pattern, first.content.decode())
    ids_2 = re.findall(pattern, second.content.decode())
    assert len(ids_1) == 25 and len(ids_2) == 5 and not set(ids_1) & set(ids_2)
    assert "govuk-pagination" in first.content.decode()
    assert 'href="?page=2"' in first.content.decode()
    assert client.get("/alerts/", {"page": "x"}).status_code == 200
    assert client.get("/alerts/", {"page": "999"}).status_code == 200


def test_an_alert_about_a_family_no_longer_seen_is_listed_without_a_link(borough):
    partner = borough.partner
    hidden = f.family_make(by=borough.key_worker, name="Hidden household")
    alert = alert_services.alerts_to_users(
        user_ids=[partner.user.id],
        kind="access.lost",
        family=hidden,
        summary=f"Your access to family {hidden.reference} has ended: test.",
    )[0]
    html = web(partner).get("/alerts/").content.decode()
    assert f'data-alert-id="{alert.id}"' in html
    assert f"/families/{hidden.id}/" not in html


# --- the alerts socket signed in with the session -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_alerts_socket_takes_the_session_and_closes_when_it_ends(borough):
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing.websocket import WebsocketCommunicator

    from config.asgi import application

    kw = borough.key_worker
    client = web(kw)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    def connect(headers):
        return WebsocketCommunicator(
            application, "/ws/alerts/", headers=[(b"origin", b"http://localhost"), *headers]
        )

    async def scenario():
        refused = connect([])
        connected, _ = await refused.connect(timeout=5)
        assert not connected
        sock = connect([(b"cookie", cookie)])
        connected, _ = await sock.connect(timeout=5)
        assert connected
        await sock.send_json_to({"type": "resume", "after": 0})
        while (await sock.receive_json_from(timeout=5))["type"] != "resumed":
            pass
        await database_sync_to_async(intervention)(borough.family, borough.partner, "Live one")
        frame = await sock.receive_json_from(timeout=5)
        assert frame["type"] == "alert" and "Live one" in frame["alert"]["summary"]
        await sock.send_json_to({"type": "ping"})
        assert await sock.receive_json_from(timeout=5) == {"type": "pong"}
        await database_sync_to_async(client.logout)()
        await sock.send_json_to({"type": "ping"})
        closed = await sock.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4401}
        await sock.wait()
        again = connect([(b"cookie", cookie)])
        connected, _ = await again.connect(timeout=5)
        assert not connected

    async_to_sync(scenario)()
    # The consumer's executor threads are gone; their database connections go with them now
    # rather than whenever the collector runs (PostgreSQL: before the test database is dropped).
    gc.collect()


def test_a_home_list_pages_as_a_paginator_would(borough):
    """`_page` (the home pages' lists): the first page read with one row more, and the count
    only when there is more than a page; every page as Django's Paginator gives it."""
    from django.contrib.auth import get_user_model
    from django.core.paginator import Paginator
    from django.test import RequestFactory

    from cases.views import page_of

    users = get_user_model().objects.order_by("id")
    ids = list(users.values_list("id", flat=True))
    assert len(ids) >= 5
    for size in (2, 3, len(ids), len(ids) + 10):
        expected = Paginator(ids, size)
        for asked in (None, "", "1", "2", "x", "999"):
            query = {} if asked is None else {"page": asked}
            page = page_of(RequestFactory().get("/", query), users, size)["page_obj"]
            want = expected.get_page(asked)
            assert [u.id for u in page.object_list] == list(want.object_list), (size, asked)
            assert (page.number, page.paginator.count) == (want.number, expected.count)
    with CaptureQueriesContext(connection) as one_page:
        page = page_of(RequestFactory().get("/"), users, len(ids) + 1)["page_obj"]
        assert page.paginator.count == len(ids)
    assert len(one_page) == 1
