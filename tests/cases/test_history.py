"""The field history of the family record (django-simple-history, decision 0018).

- a field changed through the API shows in the history, with the old and the new value and who
  changed it (and their agency), in the API and on the page;
- every service that writes a tracked model leaves its history row, naming its author: no write
  escapes the history (and on the seeded borough, built through every service, the newest
  history row of every record equals the record);
- the sweep's bookkeeping columns are not tracked, and their writes leave no row;
- the history reads in a constant number of statements however long it is, and pages by cursor.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import selectors, services
from cases.models import Family, Involvement, Need, Person, PlanAction
from consent import services as consent_services
from consent.models import SharingBasis
from tests import factories as f

API = "/api/v1/"


def history_of(obj):
    """The object's history rows, oldest first."""
    return list(type(obj).history.filter(id=obj.id).order_by("history_date", "history_id"))


def latest_row(obj):
    return history_of(obj)[-1]


def assert_by(row, staff) -> None:
    assert (row.history_user_id, row.history_agency_id) == (staff.user_id, staff.agency_id)


def items(client, family, **params) -> list[dict]:
    response = client.get(f"{API}families/{family.id}/history/", {"page_size": 200, **params})
    assert response.status_code == 200, response.content[:300]
    return response.json()["results"]


def family_version(family) -> str:
    return f'"{Family.objects.get(id=family.id).version}"'


# --- a change through the API, read back ---------------------------------------------------------


def test_a_field_changed_through_the_api_shows_with_old_new_and_who(borough, client_for):
    b = borough
    kw = client_for(b.key_worker.user)
    response = kw.patch(
        f"{API}families/{b.family.id}/",
        {"level_of_need": 3, "postcode": "ls1 4ap"},
        format="json",
        HTTP_IF_MATCH=family_version(b.family),
    )
    assert response.status_code == 200, response.content[:300]

    # Read by another agency on the team: it sees who changed what.
    history = items(client_for(b.partner.user), b.family)
    changed = {
        i["field"]: i for i in history if i["change"] == "changed" and i["object_type"] == "family"
    }
    assert set(changed) == {"level_of_need", "postcode"}
    level = changed["level_of_need"]
    assert (level["old"], level["new"]) == (None, 3)
    assert (changed["postcode"]["old"], changed["postcode"]["new"]) == ("SW1A 1AA", "LS1 4AP")
    assert level["user"] == b.key_worker.user_id
    assert level["user_name"] == b.key_worker.user.get_full_name()
    assert (level["agency"], level["agency_name"]) == (b.early_help.id, "Early Help")
    assert (level["object_type"], level["object_id"]) == ("family", b.family.id)
    assert level["object_name"] == f"{b.family.reference} {b.family.name}"
    assert history[0]["field"] in {"level_of_need", "postcode"}  # newest first

    # The same change on the page, with names and words.
    client = Client()
    client.force_login(b.partner.user)
    page = client.get(f"/families/{b.family.id}/history/")
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index('data-field="level_of_need" data-change="changed"') :]
    row = row[: row.index("</tr>")]
    assert "Level of need" in row and b.key_worker.user.get_full_name() in row
    assert "Early Help" in row
    assert '<td class="govuk-table__cell app-history-old">Not set</td>' in row
    assert '<td class="govuk-table__cell app-history-new">3</td>' in row


def test_a_member_changed_through_the_api_shows_with_old_new_and_who(borough, client_for):
    b = borough
    person = services.person_create(
        family=b.family,
        by=b.key_worker,
        given_name="Amie",
        family_name="Smith",
        date_of_birth=date(2015, 3, 1),
        relationship="child",
    )
    response = client_for(b.manager.user).patch(
        f"{API}families/{b.family.id}/members/{person.id}/",
        {"given_name": "Amy", "date_of_birth": "2015-03-02", "nhs_number": "943 476 5919"},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]

    # Read by another agency on the team: who changed which of the member's fields, from what.
    history = items(client_for(b.partner.user), b.family)
    changed = {
        i["field"]: i
        for i in history
        if i["change"] == "changed" and (i["object_type"], i["object_id"]) == ("member", person.id)
    }
    assert set(changed) == {"given_name", "date_of_birth", "nhs_number"}
    assert (changed["given_name"]["old"], changed["given_name"]["new"]) == ("Amie", "Amy")
    assert (changed["date_of_birth"]["old"], changed["date_of_birth"]["new"]) == (
        "2015-03-01",
        "2015-03-02",
    )
    assert (changed["nhs_number"]["old"], changed["nhs_number"]["new"]) == ("", "9434765919")
    for item in changed.values():
        assert (item["user"], item["user_name"]) == (
            b.manager.user_id,
            b.manager.user.get_full_name(),
        )
        assert (item["agency"], item["agency_name"]) == (b.early_help.id, "Early Help")
    rows = history_of(person)
    assert [r.history_type for r in rows] == ["+", "~"], "one change, one history row"
    assert_by(rows[-1], b.manager)

    # The same change on the page.
    client = Client()
    client.force_login(b.partner.user)
    html = client.get(f"/families/{b.family.id}/history/").content.decode()
    row = html[html.index('data-field="given_name" data-change="changed"') :]
    row = row[: row.index("</tr>")]
    assert "Amie" in row and "Amy" in row and b.manager.user.get_full_name() in row


def test_the_family_page_links_to_its_history(borough):
    client = Client()
    client.force_login(borough.partner.user)
    html = client.get(f"/families/{borough.family.id}/").content.decode()
    assert f'href="/families/{borough.family.id}/history/"' in html


def test_a_key_worker_change_names_people_on_the_page(borough, client_for):
    b = borough
    other = f.staff_make(agency=b.early_help, role=Role.KEY_WORKER)
    response = client_for(b.manager.user).patch(
        f"{API}families/{b.family.id}/",
        {"key_worker": other.user_id},
        format="json",
        HTTP_IF_MATCH=family_version(b.family),
    )
    assert response.status_code == 200, response.content[:300]
    history = items(client_for(b.key_worker.user), b.family)
    key_worker = next(i for i in history if i["field"] == "key_worker")
    assert (key_worker["old"], key_worker["new"]) == (b.key_worker.user_id, other.user_id)
    assert key_worker["user"] == b.manager.user_id
    # The lead agency's involvement followed (a save, not QuerySet.update(): in the history).
    lead = next(
        i for i in history if i["object_type"] == "involvement" and i["change"] == "changed"
    )
    assert (lead["field"], lead["old"], lead["new"]) == (
        "practitioner",
        b.key_worker.user_id,
        other.user_id,
    )
    client = Client()
    client.force_login(other.user)
    html = client.get(f"/families/{b.family.id}/history/").content.decode()
    row = html[html.index('data-field="key_worker" data-change="changed"') :]
    row = row[: row.index("</tr>")]
    assert b.key_worker.user.get_full_name() in row and other.user.get_full_name() in row


# --- every service that writes a tracked model leaves its row -----------------------------------


def test_family_create_is_one_created_row_with_its_reference(borough):
    b = borough
    family = f.family_make(by=b.key_worker, name="Jones household")
    rows = history_of(family)
    assert [r.history_type for r in rows] == ["+"]
    assert rows[0].reference == family.reference and rows[0].reference.startswith("TA")
    assert rows[0].key_worker_id == b.key_worker.user_id
    assert_by(rows[0], b.key_worker)
    lead = Involvement.objects.get(family=family, agency=b.early_help)
    assert [r.history_type for r in history_of(lead)] == ["+"]
    assert_by(latest_row(lead), b.key_worker)


def test_family_update_and_the_lead_involvement(borough):
    b = borough
    family = Family.objects.get(id=b.family.id)
    services.family_close(
        family_id=family.id, by=b.manager, reason="outcomes_met", outcome_summary="Plan complete."
    )
    row = latest_row(family)
    assert (row.history_type, row.status, row.closed_on) == ("~", "closed", timezone.localdate())
    assert_by(row, b.manager)


def test_person_create(borough):
    person = f.parent_make(family=borough.family, by=borough.key_worker, given_name="Kim")
    row = latest_row(person)
    assert (row.history_type, row.given_name) == ("+", "Kim")
    assert_by(row, borough.key_worker)


def test_person_update(borough):
    b = borough
    person = f.parent_make(family=b.family, by=b.key_worker, given_name="Kim")
    services.person_update(
        family_id=b.family.id, person_id=person.id, by=b.manager, competent_to_consent=True
    )
    services.person_update(  # nothing changes: no row
        family_id=b.family.id, person_id=person.id, by=b.manager, given_name="Kim"
    )
    rows = history_of(person)
    assert [(r.history_type, r.competent_to_consent) for r in rows] == [("+", False), ("~", True)]
    assert_by(rows[-1], b.manager)


def test_involvement_create_and_end(borough):
    b = borough
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    involvement = f.involvement_make(family=b.family, by=b.key_worker, agency=health)
    assert_by(latest_row(involvement), b.key_worker)
    services.involvement_end(involvement=involvement, by=b.manager)
    rows = history_of(involvement)
    assert [r.history_type for r in rows] == ["+", "~"]
    assert (rows[0].ended_on, rows[1].ended_on) == (None, timezone.localdate())
    assert_by(rows[1], b.manager)


def test_need_create_and_update(borough):
    b = borough
    need = services.need_create(
        family=b.family, by=b.partner, outcome=f.outcome("health"), descriptor="Dental"
    )
    assert_by(latest_row(need), b.partner)
    services.need_update(need_id=need.id, by=b.key_worker, expected_version=1, status="achieved")
    rows = history_of(need)
    assert [(r.history_type, r.status) for r in rows] == [("+", "identified"), ("~", "achieved")]
    assert_by(rows[1], b.key_worker)


def test_plan_action_create_and_update_with_its_needs(borough):
    b = borough
    needs = [
        services.need_create(
            family=b.family, by=b.key_worker, outcome=f.outcome("health"), descriptor=str(i)
        )
        for i in range(3)
    ]
    action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Dentist",
        owner_agency=b.school,
        due_on=timezone.localdate() + timedelta(days=30),
        needs=needs[:2],
    )
    # Created, then its needs set (a row of their own: the action must exist to link them).
    assert [r.history_type for r in history_of(action)] == ["+", "~"]
    services.plan_action_update(
        action_id=action.id,
        by=b.partner,
        expected_version=1,
        status="done",
        needs=[needs[2]],
    )
    rows = history_of(action)
    assert len(rows) == 3, "one write, one history row, its needs included"
    assert rows[2].status == "done"
    assert sorted(n.need_id for n in rows[2].needs.all()) == [needs[2].id]
    assert_by(rows[2], b.partner)
    changes = {
        c.field: c
        for c in selectors.family_history(user=b.key_worker.user, family=b.family)
        if c.object_type == "plan_action" and c.user == b.partner.user_id
    }
    assert set(changes) == {"status", "needs"}  # not its version
    assert (changes["status"].old, changes["status"].new) == ("open", "done")
    assert changes["needs"].old == sorted(n.id for n in needs[:2])
    assert changes["needs"].new == [needs[2].id]


def _decision(b) -> SharingBasis:
    return consent_services.sharing_basis_create(
        family=b.family,
        by=b.key_worker,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of harm reported by the school.",
        decided_by_id=b.manager.user_id,
    )


def test_sharing_basis_create_confirm_review_withdraw(borough):
    b = borough
    basis = _decision(b)
    assert_by(latest_row(basis), b.key_worker)
    consent_services.sharing_basis_confirm(basis_id=basis.id, by=b.manager)
    assert latest_row(basis).confirmed_by_id == b.manager.user_id
    assert_by(latest_row(basis), b.manager)
    review_on = timezone.localdate() + timedelta(days=30)
    consent_services.sharing_basis_review(basis_id=basis.id, by=b.manager, review_on=review_on)
    assert latest_row(basis).review_on == review_on
    consent_services.sharing_basis_withdraw(basis=basis, by=b.key_worker, reason="Asked to stop")
    rows = history_of(basis)
    assert [r.history_type for r in rows] == ["+", "~", "~", "~"]
    assert rows[-1].withdrawal_reason == "Asked to stop"
    assert_by(rows[-1], b.key_worker)


def test_the_sweeps_bookkeeping_leaves_no_history_row(borough):
    b = borough
    basis = SharingBasis.objects.get(family=b.family, basis="consent")
    before = len(history_of(basis))
    # Expiring within the warning days: warned; then expired: swept.
    SharingBasis.objects.filter(id=basis.id).update(
        expires_on=timezone.localdate() + timedelta(days=3)
    )
    assert consent_services.sharing_sweep()["expiry_warnings"] == 1
    later = timezone.now() + timedelta(days=5)
    assert consent_services.sharing_sweep(now=later)["bases_expired"] == 1
    basis.refresh_from_db()
    assert basis.expiring_alerted_at and basis.expiry_swept_at
    assert len(history_of(basis)) == before
    assert not hasattr(type(basis).history.model, "expiry_swept_at")


def test_excluded_fields_are_not_in_the_history_tables():
    assert not {"version", "updated_at", "created_at"} & {
        f.name for f in Family.history.model._meta.fields
    }
    assert "version" not in {f.name for f in Need.history.model._meta.fields}
    # A plan action's are kept (the library would read them back to copy its needs): not shown.
    assert "version" in {f.name for f in PlanAction.history.model._meta.fields}
    assert {"history_user", "history_agency"} <= {f.name for f in Person.history.model._meta.fields}


# --- reading it ---------------------------------------------------------------------------------


def _grow(b, n: int) -> None:
    """n more changes of each kind: the family, a member, the team, a need, a plan action and a
    sharing basis."""
    for i in range(n):
        family = Family.objects.get(id=b.family.id)
        services.family_update(
            family_id=family.id,
            by=b.key_worker,
            expected_version=family.version,
            level_of_need=1 + i % 4,
        )
        f.parent_make(family=b.family, by=b.key_worker, given_name=f"Parent{i}")
        agency = f.agency_make(kind=AgencyKind.VOLUNTARY)
        involvement = f.involvement_make(family=b.family, by=b.key_worker, agency=agency)
        services.involvement_end(involvement=involvement, by=b.key_worker)
        need = services.need_create(
            family=b.family, by=b.key_worker, outcome=f.outcome("health"), descriptor=f"N{i}"
        )
        services.need_update(
            need_id=need.id, by=b.key_worker, expected_version=1, status="in_progress"
        )
        action = services.plan_action_create(
            family=b.family,
            by=b.key_worker,
            description=f"A{i}",
            owner_agency=b.school,
            due_on=date(2027, 1, 1),
            needs=[need],
        )
        services.plan_action_update(
            action_id=action.id, by=b.key_worker, expected_version=1, status="done", needs=[]
        )
        basis = _decision(b)
        consent_services.sharing_basis_confirm(basis_id=basis.id, by=b.manager)


def _count(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured.captured_queries)


def test_the_selector_reads_a_constant_number_of_statements(borough):
    b = borough
    _grow(b, 1)
    small = _count(lambda: selectors.family_history(user=b.key_worker.user, family=b.family))
    size = len(selectors.family_history(user=b.key_worker.user, family=b.family))
    _grow(b, 6)
    large = _count(lambda: selectors.family_history(user=b.key_worker.user, family=b.family))
    assert len(selectors.family_history(user=b.key_worker.user, family=b.family)) > 3 * size
    # Six history tables, the plan actions' needs, the people and the agencies named.
    assert small == large == 9
    models = selectors.history_models()
    for change in selectors.family_history(user=b.key_worker.user, family=b.family):
        models[change.object_type][0]._meta.get_field(change.field)  # each its own model's


def test_pages_by_cursor_cover_the_history_once(borough, client_for):
    b = borough
    _grow(b, 2)
    client = client_for(b.key_worker.user)
    everything = items(client, b.family)
    url = f"{API}families/{b.family.id}/history/?page_size=7"
    seen, pages = [], 0
    while url:
        body = client.get(url).json()
        seen += body["results"]
        url, pages = body["next"], pages + 1
    assert pages > 2
    assert seen == everything
    keys = [(i["at"], i["object_type"], i["object_id"], i["field"]) for i in seen]
    assert len(set(keys)) == len(keys)
    # Back again from the last page.
    last = client.get(f"{API}families/{b.family.id}/history/?page_size=7").json()
    second = client.get(last["next"]).json()
    assert client.get(second["previous"]).json()["results"] == last["results"]


# p=123, p=xyz (positions it never writes), and not base64 at all.
@pytest.mark.parametrize("cursor", ["cD0xMjM%3D", "cD14eXo%3D", "%21%21"])
def test_a_cursor_it_did_not_write_is_400(borough, client_for, cursor):
    response = client_for(borough.key_worker.user).get(
        f"{API}families/{borough.family.id}/history/?cursor={cursor}"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_the_history_is_for_whoever_sees_the_family(borough, client_for):
    b = borough
    for staff in (b.outsider, b.ended_partner):
        response = client_for(staff.user).get(f"{API}families/{b.family.id}/history/")
        assert response.status_code == 404
    # Emergency access (view only) reads it as the family's other lists.
    consent_services.emergency_access_grant(
        family_id=b.family.id, by=b.outsider, reason="Urgent safeguarding concern overnight."
    )
    assert items(client_for(b.outsider.user), b.family)


def test_created_records_show_the_values_they_were_given(borough, client_for):
    b = borough
    person = services.person_create(
        family=b.family,
        by=b.key_worker,
        given_name="Amy",
        family_name="Smith",
        date_of_birth=date(2015, 3, 1),
        relationship="child",
        nhs_number="9434765919",
    )
    created = {
        i["field"]: i
        for i in items(client_for(b.partner.user), b.family)
        if i["object_type"] == "member" and i["object_id"] == person.id
    }
    assert set(created) == {
        "given_name",
        "family_name",
        "date_of_birth",
        "relationship",
        "nhs_number",
    }
    assert {i["change"] for i in created.values()} == {"created"}
    assert created["date_of_birth"]["old"] is None
    assert created["date_of_birth"]["new"] == "2015-03-01"
    assert created["relationship"]["new"] == "child"
