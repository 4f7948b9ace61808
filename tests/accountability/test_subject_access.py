"""The subject access export: asked for through the API (202, then built in the background) and
the page; who may; and its PDF's extracted text (pypdf) holds the person's details, each agency
that accessed the family's record and each basis, as the API shows them, with every restricted
entry of the family."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from agencies.models import AgencyKind, StaffMember
from agencies.roles import Role
from cases import services as case_services
from consent import services as consent_services
from tests import factories as f
from tests.reports.conftest import api_all, pdf_text, words

API = "/api/v1/"
pytestmark = pytest.mark.django_db

SECRET_CONTACT = "Disclosed domestic abuse to the school nurse"
SECRET_INTERVENTION = "IDVA safety planning"
OTHER_CHILDS_NEED = "Bed-wetting worries of the younger brother"


def _url(family_id, member_id) -> str:
    return f"{API}families/{family_id}/members/{member_id}/subject-access/"


def _record(accountable) -> dict:
    """A record with work about the person, the whole family and another member; restricted
    entries by the school; a decision to share without consent, confirmed; emergency access by
    a health visitor; reads by the school and the health visitor."""
    b = accountable.borough
    kw, person = b.key_worker, accountable.member
    brother = f.PersonFactory(family=b.family, given_name="Noah", family_name="Smith")
    theirs = case_services.need_create(
        family=b.family,
        by=kw,
        outcome=f.outcome("education"),
        descriptor="Attendance at 70%",
        person=person,
    )
    everyone = case_services.need_create(
        family=b.family,
        by=kw,
        outcome=f.outcome("health"),
        descriptor="Household debts",
    )
    case_services.need_create(
        family=b.family,
        by=kw,
        outcome=f.outcome("health"),
        descriptor=OTHER_CHILDS_NEED,
        person=brother,
    )
    case_services.plan_action_create(
        family=b.family,
        by=kw,
        description="Walk to school with a mentor",
        owner_agency=b.school,
        due_on=timezone.localdate() + timedelta(days=30),
        needs=[theirs],
    )
    case_services.plan_action_create(
        family=b.family,
        by=kw,
        description="Budgeting course",
        owner_agency=b.early_help,
        due_on=timezone.localdate() + timedelta(days=40),
        needs=[everyone],
    )
    case_services.intervention_create(
        family=b.family,
        by=b.partner,
        kind="domestic_abuse",
        title=SECRET_INTERVENTION,
        started_on=timezone.localdate() - timedelta(days=3),
        persons=[person],
        visibility="restricted",
    )
    case_services.contact_create(
        family=b.family,
        by=b.partner,
        occurred_at=timezone.now() - timedelta(hours=2),
        method="phone",
        summary=SECRET_CONTACT,
        persons=[person],
        visibility="restricted",
    )
    decision = consent_services.sharing_basis_create(
        family=b.family,
        by=b.manager,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of significant harm.",
        decided_by_id=b.manager.user_id,
        review_on=timezone.localdate() + timedelta(days=60),
    )
    assert decision.confirmed_at is not None  # decided by the manager who records it
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Riverside Health Visiting")
    nurse = f.staff_make(agency=health, role=Role.PRACTITIONER)
    consent_services.emergency_access_grant(
        family_id=b.family.id, by=nurse, reason="Urgent health referral out of hours."
    )
    return {"nurse": nurse, "health": health, "decision": decision}


def test_the_pdf_matches_the_api(accountable, client_for, reports_as):
    """DoD: the PDF's text holds the person's details (the members endpoint), each agency that
    accessed the record and each footing and basis (the access log endpoint), each agency the
    record was disclosed to under its basis (the sharing and disclosures endpoints), and the
    family's restricted entries (the manager's own lists, who sees them all)."""
    b = accountable.borough
    made = _record(accountable)
    for who in (b.partner, made["nurse"], b.key_worker):
        assert client_for(who.user).get(f"{API}families/{b.family.id}/").status_code == 200
    assert client_for(b.outsider.user).get(f"{API}families/{b.family.id}/").status_code == 404

    manager = client_for(b.manager.user)
    base = f"{API}families/{b.family.id}/"
    member = next(
        m for m in api_all(manager, base + "members/") if m["id"] == accountable.member.id
    )
    events = api_all(manager, base + "access-log/?page_size=200")
    bases = {s["id"]: s for s in api_all(manager, base + "sharing/")}
    periods = api_all(manager, base + "disclosures/")
    contacts = api_all(manager, base + "contacts/")
    interventions = api_all(manager, base + "interventions/")

    reports = reports_as(b.manager.user)
    with reports.capture(execute=True):
        response = manager.post(_url(b.family.id, accountable.member.id))
    assert response.status_code == 202, response.content[:300]
    assert response["Location"] == f"/api/v1/reports/{response.json()['id']}/"
    report = manager.get(response["Location"]).json()
    assert (report["kind"], report["format"], report["status"]) == ("subject_access", "pdf", "done")
    assert (report["family"], report["person"]) == (b.family.id, accountable.member.id)
    data = reports.download(report)
    text = pdf_text(data)
    said = words(text.splitlines())

    dob = date.fromisoformat(member["date_of_birth"])
    for value in (
        f"{member['given_name']} {member['family_name']}",
        f"{dob.day} {dob:%B %Y}",
        member["nhs_number"],
        member["upn"],
        b.family.reference,
    ):
        assert value in said, value

    accessing = {e["agency_name"] for e in events if e["agency_name"]}
    assert {b.school.name, made["health"].name, b.early_help.name, b.housing.name} <= accessing
    for name in accessing:
        assert name in said, name
    footings = {e["footing_label"] for e in events}
    assert {"On the team under a lawful basis", "Emergency access", "None: refused"} <= footings
    for label in footings:
        assert label in said, label
    labels = {e["basis_label"] for e in events if e["basis_label"]}
    assert labels, "the school's reads stand on a basis"
    for label in labels:
        assert label in said, label
    kinds = {"consent": "Consent", "safeguarding": "Safeguarding without consent"}
    for basis in bases.values():
        given = date.fromisoformat(basis["given_on"])
        assert f"{kinds[basis['basis']]} recorded {given.day} {given:%b %Y}" in said
    disclosed = {p["agency_name"] for p in periods if p["agency_name"]}
    assert {b.school.name, b.early_help.name} <= disclosed
    for name in disclosed:
        assert name in said, name
    for period in periods:
        if period["basis"]:
            basis = bases[period["basis"]]
            given = date.fromisoformat(basis["given_on"])
            assert f"{kinds[basis['basis']]} recorded {given.day} {given:%b %Y}" in said

    # Restricted entries are included: the person is their subject.
    assert SECRET_CONTACT in {c["summary"] for c in contacts}
    assert SECRET_INTERVENTION in {i["title"] for i in interventions}
    for c in contacts:
        assert c["summary"] in said
    assert SECRET_INTERVENTION in said and "Restricted" in said
    # Another member's own need is theirs, not this person's.
    assert OTHER_CHILDS_NEED not in said
    assert "Attendance at 70%" in said and "Household debts" in said
    assert "Walk to school with a mentor" in said and "Budgeting course" in said

    for number, page in enumerate(PdfReader(BytesIO(data)).pages, start=1):
        page_text = page.extract_text()
        assert "OFFICIAL-SENSITIVE" in page_text, number
        assert f"Page {number}" in page_text, number
        assert "Generated" in page_text and b.manager.user.get_full_name() in page_text


def test_a_build_holds_every_access_up_to_it(accountable, client_for, reports_as):
    """The export asked for after a partner's read lists that read, with its footing."""
    b = accountable.borough
    assert client_for(b.partner.user).get(f"{API}families/{b.family.id}/").status_code == 200
    reports = reports_as(b.manager.user)
    with reports.capture(execute=True):
        response = client_for(b.manager.user).post(_url(b.family.id, accountable.member.id))
    said = words(pdf_text(reports.download(response.json())).splitlines())
    assert f"GET /api/v1/families/{b.family.id}/" in said
    assert b.partner.user.get_full_name() in said


def test_who_may_ask_for_an_export(accountable, client_for):
    b = accountable.borough
    other_family = f.family_make(by=b.key_worker, name="Jones household")
    stranger = f.PersonFactory(family=other_family)
    url = _url(b.family.id, accountable.member.id)
    answers = {
        who: client_for(user).post(url).status_code
        for who, user in {
            "manager": b.manager.user,
            "key worker": b.key_worker.user,
            "lead practitioner": b.lead_practitioner.user,
            "partner": b.partner.user,
            "outsider": b.outsider.user,
            "dpo": accountable.dpo.user,
            "anonymous": None,
        }.items()
    }
    assert answers == {
        "manager": 202,
        "key worker": 403,
        "lead practitioner": 403,
        "partner": 403,
        "outsider": 404,
        "dpo": 404,
        "anonymous": 401,
    }
    manager = client_for(b.manager.user)
    for member_id in (stranger.id, stranger.id + 1000, 2**63, 2**70):
        response = manager.post(_url(b.family.id, member_id))
        assert response.status_code == 404, member_id
    assert manager.get(url).status_code == 405


def test_the_export_is_its_requesters_while_they_may_ask(accountable, client_for, reports_as):
    b = accountable.borough
    reports = reports_as(b.manager.user)
    with reports.capture(execute=True):
        response = client_for(b.manager.user).post(_url(b.family.id, accountable.member.id))
    report_url = response["Location"]
    other_manager = f.staff_make(agency=b.early_help, role=Role.MANAGER)
    assert client_for(other_manager.user).get(report_url).status_code == 404
    listed = client_for(b.manager.user).get(f"{API}reports/").json()["results"]
    assert [r["kind"] for r in listed] == ["subject_access"]
    StaffMember.objects.filter(id=b.manager.id).update(role=Role.KEY_WORKER)
    manager = client_for(b.manager.user)
    assert manager.get(report_url).status_code == 404
    assert manager.get(report_url + "download/").status_code == 404
    assert manager.get(f"{API}reports/").json()["results"] == []


def test_asking_through_the_reports_endpoint(accountable, client_for):
    b = accountable.borough
    manager = client_for(b.manager.user)
    body = {"kind": "subject_access", "format": "pdf", "family": b.family.id}
    missing = manager.post(f"{API}reports/", body, format="json")
    assert missing.status_code == 400 and "person" in missing.json()
    csv = manager.post(
        f"{API}reports/", {**body, "format": "csv", "person": accountable.member.id}, format="json"
    )
    assert csv.status_code == 400 and "format" in csv.json()
    ok = manager.post(f"{API}reports/", {**body, "person": accountable.member.id}, format="json")
    assert ok.status_code == 202
    elsewhere = f.PersonFactory(family=f.family_make(by=b.key_worker, name="Other household"))
    wrong = manager.post(f"{API}reports/", {**body, "person": elsewhere.id}, format="json")
    assert wrong.status_code == 404
    summary = manager.post(
        f"{API}reports/",
        {"kind": "family_summary", "format": "pdf", "family": b.family.id, "person": 1},
        format="json",
    )
    assert summary.status_code == 400 and "person" in summary.json()


def test_the_page_asks_for_an_export(accountable, reports_as):
    b = accountable.borough
    path = f"/families/{b.family.id}/members/{accountable.member.id}/subject-access/"
    page = Client()
    page.force_login(b.manager.user)
    shown = page.get(path)
    assert shown.status_code == 200
    assert "Amelia Smith" in shown.content.decode()
    reports = reports_as(b.manager.user)
    with reports.capture(execute=True):
        response = page.post(path)
    assert response.status_code == 302 and response["Location"].startswith("/reports/")
    report_page = page.get(response["Location"])
    assert report_page.status_code == 200
    assert "Subject access export" in report_page.content.decode()
    key_worker = Client()
    key_worker.force_login(b.key_worker.user)
    assert key_worker.get(path).status_code == 403
    assert key_worker.post(path).status_code == 403
    stranger = f.PersonFactory(family=f.family_make(by=b.key_worker, name="Other household"))
    assert (
        page.get(f"/families/{b.family.id}/members/{stranger.id}/subject-access/").status_code
        == 404
    )
