"""The family page (/families/<id>/) through Django's test Client, signed in with a session:

- what it shows (household, members with their ages, key worker, lead agency, level of need, the
  sharing banner, the team, needs, the plan by owner agency, the chronology with each entry's
  agency) and which links to forms each person gets;
- restricted entries only for those `access.restricted_q` lets see them;
- the chronology's filters (agency, type), its pages of 50, and the "New" marker across visits;
- not visible → the 404 page (the same for a family that does not exist), no access event;
  every view → one access event, as the API writes;
- a constant number of queries whatever the size of the record.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import AccessEvent
from cases import services
from cases.models import ChronologyEntry, FamilyVisit
from cases.views import age_text
from tests import factories as f


def page_for(user, family, query: str = "") -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/families/{family.id}/{query}")
    return response.status_code, response.content.decode()


def chronology_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-entry-id="(\d+)"', html)]


def contact(family, by, summary: str, *, visibility: str = "team", minutes_ago: int = 5):
    return services.contact_create(
        family=family,
        by=by,
        occurred_at=timezone.now() - timedelta(minutes=minutes_ago),
        method="phone",
        summary=summary,
        visibility=visibility,
    )


@pytest.fixture
def record(borough):
    """The borough's family with a child of 9, a need, two plan actions and contacts of both
    agencies, one restricted of each."""
    b = borough
    today = timezone.localdate()
    child = services.person_create(
        family=b.family,
        by=b.key_worker,
        given_name="Ella",
        family_name="Smith",
        date_of_birth=date(today.year - 9, 1, 1) if today >= date(today.year, 1, 2) else None,
        relationship="child",
    )
    need = services.need_create(
        family=b.family, by=b.key_worker, outcome=f.outcome("education"), descriptor="Attendance"
    )
    services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Attendance plan",
        owner_agency=b.school,
        due_on=today + timedelta(days=30),
        needs=[need],
    )
    services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Parenting course referral",
        owner_agency=b.early_help,
        due_on=today + timedelta(days=10),
        needs=[],
    )
    contact(b.family, b.partner, "School phoned mum about attendance")
    contact(b.family, b.key_worker, "Key worker restricted note", visibility="restricted")
    contact(b.family, b.partner, "School restricted note", visibility="restricted")
    return b, child, need


def test_ages_as_people_say_them():
    today = date(2026, 3, 15)
    assert age_text(date(2016, 3, 15), today) == "10 years"
    assert age_text(date(2016, 3, 16), today) == "9 years"
    assert age_text(date(2024, 9, 15), today) == "18 months"
    assert age_text(date(2025, 2, 15), today) == "13 months"
    assert age_text(date(2026, 2, 15), today) == "1 month"
    assert age_text(date(2026, 3, 1), today) == "2 weeks"
    assert age_text(None, today) == ""


def test_the_page_shows_the_household_team_sharing_needs_plan_and_chronology(record):
    b, child, need = record
    status, html = page_for(b.key_worker.user, b.family)
    assert status == 200
    assert "<h1" in html and html.count("<h1") == 1
    for text in (
        b.family.reference,
        "Smith household",
        "SW1A 1AA",
        b.key_worker.user.get_full_name(),
        "Early Help",
        "Level of need",
        "Ella Smith",
        "Who can see this record",
        "Hill Primary",
        "Consent",
        "Attendance plan",
        "Parenting course referral",
        "School phoned mum about attendance",
    ):
        assert text in html, text
    if child.date_of_birth:
        assert "9 years" in html
    # The plan is grouped by owner agency: a heading for each.
    assert re.search(r'<h3 class="govuk-heading-s">\s*Early Help\s*</h3>', html)
    assert re.search(r'<h3 class="govuk-heading-s">\s*Hill Primary\s*</h3>', html)
    # The chronology's markup for the live script, with each entry's agency.
    assert (
        f'<ol class="app-chronology" id="chronology" data-family-id="{b.family.id}"'
        ' data-live="true"' in html
    )
    assert '<span class="app-chronology__agency">Hill Primary</span>' in html
    assert html.count('class="app-chronology__item') == len(chronology_ids(html))


def test_restricted_entries_only_for_the_recording_agency_the_key_worker_and_managers(record):
    b, _, _ = record
    restricted = ChronologyEntry.objects.filter(family=b.family, visibility="restricted")
    lead_entry = restricted.get(agency=b.early_help).id
    school_entry = restricted.get(agency=b.school).id
    team_entries = set(
        ChronologyEntry.objects.filter(family=b.family, visibility="team").values_list(
            "id", flat=True
        )
    )
    seen = {
        who: set(chronology_ids(page_for(getattr(b, who).user, b.family)[1]))
        for who in ("key_worker", "manager", "partner", "lead_practitioner")
    }
    assert seen["key_worker"] == seen["manager"] == team_entries | {lead_entry, school_entry}
    assert seen["partner"] == team_entries | {school_entry}  # its own agency's
    assert seen["lead_practitioner"] == team_entries | {lead_entry}  # recorded by its agency
    _, partner = page_for(b.partner.user, b.family)
    assert "School phoned mum" in partner
    assert "Early Help recorded a restricted contact" not in partner


def test_links_to_forms_only_for_those_who_may_use_them(record):
    b, _, need = record
    fam = f"/families/{b.family.id}/"
    _, kw = page_for(b.key_worker.user, b.family)
    for link in (
        "contacts/new/",
        "interventions/new/",
        "edit/",
        "members/new/",
        "team/new/",
        "needs/new/",
        f"needs/{need.id}/status/",
        "assessments/new/",
        "actions/new/",
        "sharing/new/",
    ):
        assert f'href="{fam}{link}"' in kw, link
    assert kw.count(f'href="{fam}actions/') == 3  # new, and both actions
    _, partner = page_for(b.partner.user, b.family)
    for link in ("contacts/new/", "interventions/new/", "needs/new/", "actions/new/"):
        assert f'href="{fam}{link}"' in partner, link
    for link in (
        "edit/",
        "members/new/",
        "team/new/",
        f"needs/{need.id}/status/",
        "assessments/new/",
        "sharing/new/",
        "/withdraw/",
        "/end/",
    ):
        assert f'href="{fam}{link}"' not in partner, link
    assert "/withdraw/" not in partner and "/end/" not in partner
    # The partner updates its own agency's action only.
    school_action, lead_action = (
        b.family.actions.get(owner_agency=b.school),
        b.family.actions.get(owner_agency=b.early_help),
    )
    assert f'href="{fam}actions/{school_action.id}/edit/"' in partner
    assert f'href="{fam}actions/{lead_action.id}/edit/"' not in partner


def test_a_closed_family_offers_no_work_forms(record):
    b, _, _ = record
    b.family.refresh_from_db()
    services.family_close(
        family_id=b.family.id,
        by=b.key_worker,
        reason="outcomes_met",
        outcome_summary="Plan complete.",
    )
    status, html = page_for(b.key_worker.user, b.family)
    assert status == 200
    assert "Closed" in html
    assert "contacts/new/" not in html and "actions/new/" not in html
    assert f'href="/families/{b.family.id}/reopen/"' in html  # to reopen it


def test_not_visible_is_the_404_page_the_same_as_no_such_family(record):
    b, _, _ = record
    for user in (b.outsider.user, b.ended_partner.user):
        status, html = page_for(user, b.family)
        assert status == 404
        status_missing, missing = page_for(user, type(b.family)(id=b.family.id + 1000))
        assert status_missing == 404
        assert _normalised(html, b.family.id) == _normalised(missing, b.family.id + 1000)
        assert "Smith household" not in html and b.family.reference not in html
        assert "emergency-access/" in html  # they may ask for emergency access
        # Each attempt is in the access log, as a denial naming the family asked for.
        attempts = AccessEvent.objects.filter(user=user).order_by("id")
        assert list(attempts.values_list("family_id", "outcome", "footing", "status_code")) == [
            (b.family.id, "denied", "", 404),
            (b.family.id + 1000, "denied", "", 404),
        ]
    response = Client().get(f"/families/{b.family.id}/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def _normalised(html: str, family_id: int) -> str:
    """The page with its family id and CSRF tokens taken out."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return html.replace(f"/families/{family_id}/", "/families/ID/")


def test_every_view_writes_the_access_event_the_api_writes(record):
    b, _, _ = record
    before = AccessEvent.objects.count()
    page_for(b.partner.user, b.family)
    event = AccessEvent.objects.order_by("-id").first()
    assert AccessEvent.objects.count() == before + 1
    assert (event.user_id, event.family_id, event.agency_id) == (
        b.partner.user_id,
        b.family.id,
        b.school.id,
    )
    assert (event.method, event.path, event.status_code, event.action, event.emergency) == (
        "GET",
        f"/families/{b.family.id}/",
        200,
        "read",
        False,
    )
    # A form the partner may not use: 403, and audited as the API audits its 403.
    client = Client()
    client.force_login(b.partner.user)
    assert client.get(f"/families/{b.family.id}/edit/").status_code == 403
    event = AccessEvent.objects.order_by("-id").first()
    assert (event.path, event.status_code) == (f"/families/{b.family.id}/edit/", 403)


def test_the_chronology_filters_by_agency_and_type(record):
    b, _, _ = record
    _, all_html = page_for(b.key_worker.user, b.family)
    status, school = page_for(b.key_worker.user, b.family, f"?agency={b.school.id}")
    assert status == 200
    visible = ChronologyEntry.objects.filter(family=b.family)
    assert set(chronology_ids(school)) == set(
        visible.filter(agency=b.school).values_list("id", flat=True)
    )
    assert 'data-live="false"' in school
    _, contacts = page_for(b.key_worker.user, b.family, "?type=contact.recorded")
    assert set(chronology_ids(contacts)) == set(
        visible.filter(type="contact.recorded").values_list("id", flat=True)
    )
    _, both = page_for(b.key_worker.user, b.family, f"?type=contact.recorded&agency={b.school.id}")
    assert set(chronology_ids(both)) == set(
        visible.filter(type="contact.recorded", agency=b.school).values_list("id", flat=True)
    )
    # An agency or type not offered is ignored: the whole chronology.
    _, ignored = page_for(b.key_worker.user, b.family, "?agency=999999&type=nonsense")
    assert chronology_ids(ignored) == chronology_ids(all_html)
    # The partner is not offered, and cannot filter to, what it does not see.
    _, partner = page_for(b.partner.user, b.family, "?type=contact.recorded")
    assert "Key worker restricted note" not in partner


def test_the_chronology_is_paged_by_50(record):
    b, _, _ = record
    for n in range(60):
        contact(b.family, b.partner, f"Contact number {n}", minutes_ago=200 + n)
    total = ChronologyEntry.objects.filter(family=b.family).exclude(visibility="restricted").count()
    total += ChronologyEntry.objects.filter(
        family=b.family, visibility="restricted", agency=b.school
    ).count()
    _, first = page_for(b.partner.user, b.family)
    _, second = page_for(b.partner.user, b.family, "?page=2")
    assert len(chronology_ids(first)) == 50
    assert len(chronology_ids(second)) == total - 50
    assert not set(chronology_ids(first)) & set(chronology_ids(second))
    assert 'class="govuk-pagination"' in first
    assert 'href="?page=2"' in first
    assert 'data-live="false"' in second
    # Filters are kept by the page links.
    _, filtered = page_for(b.partner.user, b.family, f"?agency={b.school.id}")
    assert f"agency={b.school.id}&amp;page=2" in filtered
    # Newest first across pages.
    entries = dict(ChronologyEntry.objects.filter(family=b.family).values_list("id", "at"))
    times = [entries[i] for i in chronology_ids(first) + chronology_ids(second)]
    assert times == sorted(times, reverse=True)


def test_new_entries_are_marked_across_two_visits(record):
    b, _, _ = record
    _, first = page_for(b.key_worker.user, b.family)
    assert "app-chronology__new" not in first  # a first visit marks nothing
    visit = FamilyVisit.objects.get(user=b.key_worker.user, family=b.family)
    assert visit.last_entry_id == ChronologyEntry.objects.filter(family=b.family).latest("id").id
    # Another agency records a contact that happened before the visit: still new to them.
    fresh = contact(b.family, b.partner, "Late entry from yesterday", minutes_ago=60 * 24)
    entry = ChronologyEntry.objects.get(type="contact.recorded", object_id=fresh.id)
    _, second = page_for(b.key_worker.user, b.family)
    new_ids = [
        int(i)
        for i in re.findall(
            r'data-entry-id="(\d+)" data-type="[^"]+">\s*<p[^>]*>(?:(?!</p>).)*app-chronology__new',
            second,
            flags=re.S,
        )
    ]
    assert new_ids == [entry.id]
    assert second.count("app-chronology__new") == 1
    assert "1 new entry since your last visit" in second
    # The partner's own first visit: nothing new; the key worker's third: nothing new.
    _, third = page_for(b.key_worker.user, b.family)
    assert "app-chronology__new" not in third
    assert "Nothing new since your last visit" in third


def _grow(b, n: int) -> None:
    today = timezone.localdate()
    need = None
    for i in range(n):
        f.PersonFactory(family=b.family)
        need = services.need_create(
            family=b.family, by=b.key_worker, outcome=f.outcome("health"), descriptor=f"Need {i}"
        )
        services.plan_action_create(
            family=b.family,
            by=b.key_worker,
            description=f"Action {i}",
            owner_agency=b.school if i % 2 else b.early_help,
            due_on=today + timedelta(days=i + 1),
            needs=[need],
        )
        contact(b.family, b.partner, f"Contact {i}", minutes_ago=i + 1)
        contact(b.family, b.key_worker, f"Restricted {i}", visibility="restricted")


def _queries(user, family) -> int:
    client = Client()
    client.force_login(user)
    client.get(f"/families/{family.id}/")  # the visit exists: the same path both times
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/families/{family.id}/")
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("who", ["key_worker", "partner", "manager"])
def test_the_page_costs_the_same_queries_whatever_the_size_of_the_record(borough, who):
    b = borough
    user = getattr(b, who).user
    _grow(b, 2)
    small = _queries(user, b.family)
    _grow(b, 28)
    large = _queries(user, b.family)
    assert small == large, (small, large)
    assert large <= 17, large  # 16, and the emergency access list for a lead manager


def test_the_sharing_banner_shows_decisions_awaiting_confirmation(record):
    from consent import services as consent_services

    b, _, _ = record
    consent_services.sharing_basis_create(
        family=b.family,
        by=b.key_worker,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of harm",
        decided_by_id=b.manager.user_id,
    )
    _, html = page_for(b.key_worker.user, b.family)
    start = html.index('id="sharing-banner"')
    banner = html[start : html.index('href="#sharing"', start)]
    assert "Safeguarding without consent" in banner
    assert "awaiting confirmation by" in banner
    assert b.manager.user.get_full_name() in banner
    # The named manager gets the link to confirm it; the key worker does not.
    _, manager = page_for(b.manager.user, b.family)
    assert "/confirm/" in manager and "/confirm/" not in html


def test_emergency_access_is_marked_on_the_page(record):
    from consent import services as consent_services

    b, _, _ = record
    consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.outsider, reason="Police called to the address overnight."
    )
    status, html = page_for(b.outsider.user, b.family)
    assert status == 200
    assert "emergency access" in html and "govuk-warning-text" in html
    event = AccessEvent.objects.filter(user=b.outsider.user).latest("id")
    assert event.emergency is True
    # Lead-agency managers see the grant to review.
    _, manager = page_for(b.manager.user, b.family)
    assert 'id="emergency-access"' in manager and "/review/" in manager
    _, kw = page_for(b.key_worker.user, b.family)
    assert 'id="emergency-access"' not in kw


def test_timestamps_are_shown_in_local_time(record):
    b, _, _ = record
    at = timezone.make_aware(datetime(2025, 7, 1, 9, 30))
    services.contact_create(
        family=b.family, by=b.partner, occurred_at=at, method="phone", summary="Summer call"
    )
    _, html = page_for(b.partner.user, b.family)
    assert "1 July 2025, 09:30" in html


def test_the_family_pages_ask_access_before_reading_case_data(borough, monkeypatch):
    """tests/test_architecture.py walks every route with token authentication, which the pages
    (signed in with a session) answer with the sign-in page: here the family's pages are walked
    signed in, as a partner and as an outsider, GET and an empty POST, and each must have asked
    cases.access before its first statement on case data."""
    from consent import services as consent_services
    from tests.test_architecture import Recorder, unasked

    b = borough
    need = services.need_create(
        family=b.family, by=b.key_worker, outcome=f.outcome("education"), descriptor="Need"
    )
    action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Action",
        owner_agency=b.school,
        due_on=timezone.localdate() + timedelta(days=5),
        needs=[],
    )
    grant = consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.ended_partner, reason="Police called to the address."
    )
    basis = b.family.sharing_bases.first()
    involvement = b.family.involvements.filter(agency=b.school).first()
    fam = f"/families/{b.family.id}/"
    paths = [
        fam,
        fam + "edit/",
        fam + "contacts/new/",
        fam + "interventions/new/",
        fam + "members/new/",
        fam + "team/new/",
        fam + f"team/{involvement.id}/end/",
        fam + "needs/new/",
        fam + f"needs/{need.id}/status/",
        fam + "assessments/new/",
        fam + "actions/new/",
        fam + f"actions/{action.id}/edit/",
        fam + "sharing/new/",
        fam + f"sharing/{basis.id}/withdraw/",
        fam + f"sharing/{basis.id}/confirm/",
        fam + "emergency-access/",
        f"/emergency-access/{grant.id}/review/",
    ]
    recorder = Recorder(monkeypatch)
    problems, reached = [], 0
    try:
        for who in ("partner", "outsider"):
            client = Client()
            client.force_login(getattr(b, who).user)
            for path in paths:
                for method in ("get", "post"):
                    with transaction.atomic():
                        with recorder.watch() as trace:
                            getattr(client, method)(path, {})
                        transaction.set_rollback(True)
                    reached += trace.touched
                    statement = unasked(trace)
                    if statement is not None:
                        problems.append(f"{method.upper()} {path} as {who}: {statement[:200]}")
    finally:
        recorder.uninstall()
    assert reached >= 30
    assert not problems, "\n".join(problems)
