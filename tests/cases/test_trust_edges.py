"""Who may *do* things on the family record, through HTTP: key-worker allocation, a need's
status, work on a closed family, date bounds, hidden and missing families answering alike, and
the rules that live in the services (a page or task calling a service meets them too)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.roles import Role
from alerts.models import Alert
from cases import access, services
from cases.models import ChronologyEntry, Family, Involvement, Need, PlanAction
from tests import factories as f

API = "/api/v1/"


def _url(family, tail=""):
    return f"{API}families/{family.id}/{tail}"


def _if_match(version):
    return {"HTTP_IF_MATCH": f'"{version}"'}


def _patch_family(client, family, body):
    family.refresh_from_db()
    return client.patch(_url(family), body, format="json", **_if_match(family.version))


# --- allocating the key worker ------------------------------------------------------------------


def test_a_lead_key_worker_cannot_make_themselves_key_worker(borough, client_for):
    other = f.staff_make(agency=borough.early_help, role=Role.KEY_WORKER)
    family = borough.family
    client = client_for(other.user)

    response = _patch_family(client, family, {"key_worker": other.user.id})

    assert response.status_code == 403, response.content
    family.refresh_from_db()
    assert family.key_worker_id == borough.key_worker.user.id
    # and so cannot read the restricted entries a key worker sees
    restricted = client_for(borough.partner.user).post(
        _url(family, "contacts/"),
        {
            "occurred_at": "2025-10-06T09:30:00+01:00",
            "method": "phone",
            "summary": "mother disclosed",
            "visibility": "restricted",
        },
        format="json",
    )
    assert restricted.status_code == 201
    entries = client.get(_url(family, "contacts/")).json()["results"]
    assert restricted.json()["id"] not in {e["id"] for e in entries}


def test_a_manager_allocates_and_both_key_workers_are_told(borough, client_for):
    family = borough.family
    new = f.staff_make(agency=borough.early_help, role=Role.KEY_WORKER)
    previous = borough.key_worker.user

    response = _patch_family(client_for(borough.manager.user), family, {"key_worker": new.user.id})

    assert response.status_code == 200, response.content
    assert response.json()["key_worker"] == new.user.id
    told = set(
        Alert.objects.filter(kind="key_worker.changed", family=family).values_list(
            "recipient_id", flat=True
        )
    )
    assert told == {previous.id, new.user.id}
    entry = ChronologyEntry.objects.get(family=family, type="family.key_worker_changed")
    manager = borough.manager.user
    for name in (manager.get_full_name(), previous.get_full_name(), new.user.get_full_name()):
        assert name in entry.summary, (name, entry.summary)


def test_the_key_worker_hands_over_to_a_colleague_but_not_to_another_agency(borough, client_for):
    family = borough.family
    colleague = f.staff_make(agency=borough.early_help, role=Role.KEY_WORKER)
    client = client_for(borough.key_worker.user)

    assert _patch_family(client, family, {"key_worker": colleague.user.id}).status_code == 200
    assert Alert.objects.filter(
        kind="key_worker.changed", family=family, recipient=colleague.user
    ).exists()
    # the previous key worker no longer holds the case and cannot take it back
    taken_back = _patch_family(client, family, {"key_worker": borough.key_worker.user.id})
    assert taken_back.status_code == 403


# --- a need's status ------------------------------------------------------------------------------


@pytest.fixture
def need(borough):
    return services.need_create(
        family=borough.family,
        by=borough.partner,
        outcome=f.outcome("education"),
        descriptor="Attendance at 70%",
    )


def test_a_partner_cannot_mark_a_need_achieved(borough, need, client_for):
    url = _url(borough.family, f"needs/{need.id}/")
    response = client_for(borough.partner.user).patch(
        url, {"status": "achieved"}, format="json", **_if_match(need.version)
    )
    assert response.status_code == 403
    need.refresh_from_db()
    assert need.status == "identified"


def test_need_status_needs_if_match_and_refuses_a_stale_one(borough, need, client_for):
    client = client_for(borough.key_worker.user)
    url = _url(borough.family, f"needs/{need.id}/")
    assert client.patch(url, {"status": "in_progress"}, format="json").status_code == 428
    etag = client.get(url)["ETag"]
    ok = client.patch(url, {"status": "in_progress"}, format="json", HTTP_IF_MATCH=etag)
    assert ok.status_code == 200 and ok["ETag"] != etag
    stale = client.patch(url, {"status": "achieved"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412
    need.refresh_from_db()
    assert need.status == "in_progress"


# --- closed families ---------------------------------------------------------------------------

CONTACT = {"occurred_at": "2025-10-06T09:30:00+01:00", "method": "phone", "summary": "Call."}


def test_no_work_is_recorded_on_a_closed_family_until_it_is_reopened(borough, client_for):
    family = borough.family
    kw = client_for(borough.key_worker.user)
    closing = {"reason": "outcomes_met", "outcome_summary": "Plan complete."}
    assert kw.post(_url(family, "close/"), closing, format="json").status_code == 200
    partner = client_for(borough.partner.user)
    before = ChronologyEntry.objects.filter(family=family).count()

    refused = partner.post(_url(family, "contacts/"), CONTACT, format="json")

    assert refused.status_code == 409 and refused.json()["code"] == "conflict"
    assert ChronologyEntry.objects.filter(family=family).count() == before
    reopening = {"reason": "New concerns."}
    assert kw.post(_url(family, "reopen/"), reopening, format="json").status_code == 200
    assert partner.post(_url(family, "contacts/"), CONTACT, format="json").status_code == 201


# --- dates within sensible bounds, per field ----------------------------------------------------


@pytest.mark.parametrize(
    "tail, body, field",
    [
        ("contacts/", dict(CONTACT, occurred_at="0001-01-01T09:00:00+00:00"), "occurred_at"),
        (
            "members/",
            {
                "given_name": "Old",
                "family_name": "Smith",
                "date_of_birth": "1800-01-01",
                "relationship": "grandparent",
            },
            "date_of_birth",
        ),
        (
            "interventions/",
            {"kind": "attendance", "title": "Support", "started_on": "0001-01-01"},
            "started_on",
        ),
        (
            "interventions/",
            {
                "kind": "attendance",
                "title": "Support",
                "started_on": "2025-01-01",
                "ended_on": "9999-12-31",
            },
            "ended_on",
        ),
        ("assessments/", {"completed_on": "1500-06-01", "summary": "Old."}, "completed_on"),
    ],
    ids=["contact in year 1", "born 1800", "intervention from year 1", "ends 9999", "1500"],
)
def test_dates_out_of_bounds_are_refused(borough, client_for, tail, body, field):
    response = client_for(borough.key_worker.user).post(
        _url(borough.family, tail), body, format="json"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_plan_action_due_date_and_review_date_bounds(borough, need, client_for):
    client = client_for(borough.key_worker.user)
    action = client.post(
        _url(borough.family, "actions/"),
        {
            "description": "Weekly check-in",
            "owner_agency": borough.school.id,
            "due_on": "9999-12-31",
            "needs": [need.id],
        },
        format="json",
    )
    assert action.status_code == 400 and "due_on" in action.json()
    review = _patch_family(client, borough.family, {"next_review_on": "9999-01-01"})
    assert review.status_code == 400 and "next_review_on" in review.json()


def test_consent_cannot_run_to_9999(borough, client_for):
    parent = f.parent_make(family=borough.family, by=borough.key_worker)
    response = client_for(borough.key_worker.user).post(
        _url(borough.family, "sharing/"),
        {
            "basis": "consent",
            "agencies": [borough.school.id],
            "given_by": [parent.id],
            "method": "written",
            "expires_on": "9999-12-31",
        },
        format="json",
    )
    assert response.status_code == 400 and "expires_on" in response.json()


# --- a hidden family answers like a missing one -------------------------------------------------


def _shape(sql: str) -> str:
    # The access log's row names the request by its id (a uuid4 in hex), new each request.
    sql = re.sub(r"'[0-9a-f]{32}'", "'REQUEST-ID'", sql)
    return re.sub(r"\b\d+\b", "N", sql)


@pytest.mark.parametrize("tail", ["", "members/", "chronology/", "needs/"])
def test_hidden_and_missing_families_run_the_same_statements(borough, client_for, tail):
    client = client_for(borough.outsider.user)
    missing = Family.objects.order_by("-id").first().id + 1000
    runs = {}
    for name, family_id in (("hidden", borough.family.id), ("missing", missing)):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{API}families/{family_id}/{tail}")
        assert response.status_code == 404
        runs[name] = [_shape(q["sql"]) for q in queries.captured_queries]
    assert runs["hidden"] == runs["missing"]


# --- rules in the services, not only in the views -----------------------------------------------


def test_plan_action_owner_rule_is_in_the_service(borough, need):
    lead_action = services.plan_action_create(
        family=borough.family,
        by=borough.key_worker,
        description="Parenting course",
        owner_agency=borough.early_help,
        due_on=date(2026, 9, 1),
        needs=[need],
    )
    with pytest.raises(access.Forbidden):
        services.plan_action_update(
            action_id=lead_action.id, by=borough.partner, expected_version=1, status="done"
        )
    assert PlanAction.objects.get(id=lead_action.id).status == "open"


def test_need_status_rule_is_in_the_service(borough, need):
    with pytest.raises(access.Forbidden):
        services.need_update(
            need_id=need.id, by=borough.partner, expected_version=1, status="achieved"
        )
    assert Need.objects.get(id=need.id).status == "identified"


def test_restricted_alerts_go_exactly_to_who_sees_the_entry(borough, client_for):
    """Alert fan-out and the chronology decide restricted entries with the same predicate."""
    family = borough.family
    lead_practitioner = borough.lead_practitioner
    # the lead agency's practitioner is the lead involvement's named practitioner (on the team)
    Involvement.objects.filter(family=family, agency=borough.early_help).update(
        practitioner=lead_practitioner.user
    )
    response = client_for(borough.partner.user).post(
        _url(family, "contacts/"), dict(CONTACT, visibility="restricted"), format="json"
    )
    assert response.status_code == 201
    told = set(
        Alert.objects.filter(kind="contact.recorded", source_id=response.json()["id"]).values_list(
            "recipient_id", flat=True
        )
    )
    seeing = set()
    for staff in (borough.key_worker, lead_practitioner, borough.manager):
        ids = {
            e["id"] for e in client_for(staff.user).get(_url(family, "contacts/")).json()["results"]
        }
        if response.json()["id"] in ids:
            seeing.add(staff.user.id)
    team = {borough.key_worker.user.id, lead_practitioner.user.id}
    assert told == seeing & team
    assert lead_practitioner.user.id not in told
