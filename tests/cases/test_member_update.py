"""PATCH /api/v1/families/{id}/members/{mid}/ (the partners' API contract: "change | any of the
fields above"), through HTTP with real tokens: what a key worker sees after a change, what is
recorded, and what is refused. The matrix (tests/cases/test_authz_matrix.py), the access events
(tests/audit/test_access_events.py), bad input (tests/cases/test_bad_input.py), the field history
(tests/cases/test_history.py) and the query count (tests/cases/test_query_counts.py) hold their
rows for it too.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from cases import access, services, validators
from cases.models import ChronologyEntry, Family, Person
from tests import factories as f

API = "/api/v1/"


def member_url(family, person) -> str:
    return f"{API}families/{family.id}/members/{person.id}/"


def details(person: Person) -> dict:
    person = Person.objects.get(id=person.id)
    return {
        "family_id": person.family_id,
        "given_name": person.given_name,
        "family_name": person.family_name,
        "date_of_birth": person.date_of_birth,
        "relationship": person.relationship,
        "nhs_number": person.nhs_number,
        "upn": person.upn,
        "ni_number": person.ni_number,
        "parental_responsibility": person.parental_responsibility,
        "competent_to_consent": person.competent_to_consent,
        "expected_birth_on": person.expected_birth_on,
    }


def history_count(person: Person) -> int:
    return Person.history.filter(id=person.id).count()


@pytest.fixture
def child(borough) -> Person:
    return services.person_create(
        family=borough.family,
        by=borough.key_worker,
        given_name="Amie",
        family_name="Smith",
        date_of_birth=date(2015, 3, 1),
        relationship="child",
    )


def test_a_change_answers_the_member_as_the_list_shows_it(borough, child, client_for):
    b = borough
    kw = client_for(b.key_worker.user)
    alerts = Alert.objects.count()
    response = kw.patch(
        member_url(b.family, child),
        {
            "given_name": "Amy",
            "date_of_birth": "2015-03-02",
            "nhs_number": "943 476 5919",
            "ni_number": "ab 12 34 56 c",
            "competent_to_consent": True,
        },
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["nhs_number"] == "9434765919"  # normalised, as when a member is added
    assert body["ni_number"] == "AB123456C"
    assert (body["given_name"], body["date_of_birth"]) == ("Amy", "2015-03-02")
    listed = kw.get(f"{API}families/{b.family.id}/members/").json()["results"]
    assert [m for m in listed if m["id"] == child.id] == [body]

    # The team reads on the chronology which fields changed (their values are in the history).
    entries = client_for(b.partner.user).get(f"{API}families/{b.family.id}/chronology/").json()
    changed = [e for e in entries["results"] if e["type"] == "member.updated"]
    assert len(changed) == 1
    assert changed[0]["object_id"] == child.id
    assert changed[0]["summary"] == (
        "Amy Smith: given name, date of birth, NHS number, NI number, competent to consent changed"
    )
    assert "9434765919" not in changed[0]["summary"]
    assert Alert.objects.count() == alerts  # as adding a member: no alert


def test_a_field_not_sent_is_left_as_it_is(borough, child, client_for):
    before = details(child)
    response = client_for(borough.manager.user).patch(
        member_url(borough.family, child), {"relationship": "sibling"}, format="json"
    )
    assert response.status_code == 200, response.content[:300]
    assert details(child) == {**before, "relationship": "sibling"}


def test_fields_can_be_cleared(borough, client_for):
    b = borough
    person = services.person_create(
        family=b.family,
        by=b.key_worker,
        given_name="Kim",
        family_name="Smith",
        date_of_birth=date(1990, 1, 1),
        relationship="parent",
        nhs_number="9434765919",
        expected_birth_on=timezone.localdate() + timedelta(days=60),
    )
    response = client_for(b.key_worker.user).patch(
        member_url(b.family, person),
        {"nhs_number": "", "expected_birth_on": None, "date_of_birth": None},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    after = details(person)
    assert (after["nhs_number"], after["expected_birth_on"], after["date_of_birth"]) == (
        "",
        None,
        None,
    )


def test_a_member_of_one_family_cannot_be_changed_through_another_familys_address(
    borough, child, client_for
):
    """The key worker and the lead-agency manager may change members of both families: a
    member of A named under B's address (and B's under A's) is not there, 404, nothing written."""
    b = borough
    other = f.family_make(by=b.key_worker, name="Jones household")
    theirs = f.PersonFactory(family=other, given_name="Ben")
    pairs = [(other, child), (b.family, theirs)]
    before = {p.id: details(p) for p in (child, theirs)}
    rows = {p.id: history_count(p) for p in (child, theirs)}
    entries = ChronologyEntry.objects.count()
    for staff in (b.key_worker, b.manager):
        client = client_for(staff.user)
        for family, person in pairs:
            response = client.patch(
                member_url(family, person),
                {"given_name": "Changed", "family_name": "Elsewhere"},
                format="json",
            )
            assert response.status_code == 404, (staff, response.content[:300])
            assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert {p.id: details(p) for p in (child, theirs)} == before
    assert {p.id: history_count(p) for p in (child, theirs)} == rows
    assert ChronologyEntry.objects.count() == entries
    # Through its own family's address the same change goes through.
    for family, person in ((b.family, child), (other, theirs)):
        response = client_for(b.key_worker.user).patch(
            member_url(family, person), {"given_name": "Changed"}, format="json"
        )
        assert response.status_code == 200, response.content[:300]
    # The service refuses it on its own too: the member must be of the family it locked.
    with pytest.raises(access.NoAccess):
        services.person_update(
            family_id=other.id, person_id=child.id, by=b.key_worker, given_name="Again"
        )
    assert details(child)["given_name"] == "Changed"


def test_the_service_rechecks_the_permission_under_the_lock(borough, child):
    """A partner on the team sees the family but may not change it (the view's 403); the
    service, asked directly, refuses as it does for adding a member."""
    with pytest.raises(access.NoAccess):
        services.person_update(
            family_id=borough.family.id, person_id=child.id, by=borough.partner, given_name="X"
        )
    assert details(child)["given_name"] == "Amie"


def test_a_closed_family_is_reopened_first(borough, child, client_for):
    b = borough
    services.family_close(
        family_id=b.family.id, by=b.manager, reason="outcomes_met", outcome_summary="Done."
    )
    before, rows = details(child), history_count(child)
    response = client_for(b.key_worker.user).patch(
        member_url(b.family, child), {"given_name": "Amy"}, format="json"
    )
    assert response.status_code == 409, response.content[:300]
    assert response.json()["code"] == "conflict"
    assert (details(child), history_count(child)) == (before, rows)


def test_nothing_changed_writes_nothing(borough, child, client_for):
    b = borough
    services.person_update(
        family_id=b.family.id, person_id=child.id, by=b.key_worker, nhs_number="9434765919"
    )
    rows, entries = history_count(child), ChronologyEntry.objects.count()
    kw = client_for(b.key_worker.user)
    current = kw.get(f"{API}families/{b.family.id}/members/").json()["results"]
    current = next(m for m in current if m["id"] == child.id)
    for body in ({}, {"given_name": "Amie"}, {"nhs_number": "943 476 5919"}):
        response = kw.patch(member_url(b.family, child), body, format="json")
        assert response.status_code == 200, response.content[:300]
        assert response.json() == current
    assert (history_count(child), ChronologyEntry.objects.count()) == (rows, entries)


def test_a_value_sent_back_as_recorded_is_not_checked_again(borough, client_for):
    """A client sends back the member as it read it, with one field changed: an expected date of
    birth now past the window a new one must fall in is left as it is, not refused."""
    b = borough
    person = f.PersonFactory(
        family=b.family,
        relationship="parent",
        date_of_birth=date(1990, 1, 1),
        expected_birth_on=timezone.localdate() - timedelta(days=400),
    )
    kw = client_for(b.key_worker.user)
    listed = kw.get(f"{API}families/{b.family.id}/members/").json()["results"]
    body = {k: v for k, v in next(m for m in listed if m["id"] == person.id).items() if k != "id"}
    response = kw.patch(member_url(b.family, person), {**body, "family_name": "Jones"}, "json")
    assert response.status_code == 200, response.content[:300]
    assert details(person)["family_name"] == "Jones"
    # Changed to another date out of the window, it is refused.
    stale = str(timezone.localdate() - timedelta(days=401))
    response = kw.patch(member_url(b.family, person), {"expected_birth_on": stale}, "json")
    assert response.status_code == 400
    assert "expected_birth_on" in response.json()


def test_the_response_is_as_the_schema_says(borough, child, client_for):
    """No ETag (a member has no version); the body is the members list's item."""
    body = "123456789012"
    upn = validators.upn_check_letter(body) + body
    response = client_for(borough.key_worker.user).patch(
        member_url(borough.family, child), {"upn": upn.lower()}, format="json"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["upn"] == upn
    assert "ETag" not in response
    assert set(response.json()) == {
        "id",
        "given_name",
        "family_name",
        "date_of_birth",
        "relationship",
        "nhs_number",
        "upn",
        "ni_number",
        "parental_responsibility",
        "competent_to_consent",
        "expected_birth_on",
    }
    assert Family.objects.get(id=borough.family.id).version == borough.family.version
