"""Sharing without consent (public task, vital interests, safeguarding, court order), through the
HTTP API with real token auth.

Recorded by the key worker naming the lead-agency manager who decided, it grants nothing until
that manager confirms it; recorded by that manager, it is in force at once. A lead-agency manager
reviews it to keep it in force; unreviewed, it lapses at its review date (the sweep ends the
access and tells the key worker and the manager), with a warning 14 days ahead.

Time is moved by passing `now=` to `consent.services.sharing_sweep`, or by moving `review_on`
into the past with a queryset update.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from consent.models import SharingBasis
from consent.services import sharing_sweep
from tests import factories as f

API = "/api/v1/"
WITHOUT_CONSENT = ["public_task", "vital_interests", "safeguarding", "court_order"]
JUSTIFICATION = "Risk of significant harm to the youngest child; the parents refuse to share."
NO_CHANGE = {
    "bases_expired": 0,
    "bases_lapsed": 0,
    "emergency_expired": 0,
    "expiry_warnings": 0,
    "review_warnings": 0,
}


def _detail(family) -> str:
    return f"{API}families/{family.id}/"


def _sharing(family) -> str:
    return _detail(family) + "sharing/"


def _noon(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=12)


def _withdraw_consent(borough, client_for) -> None:
    """The family withdraws its consent: the school (on the team) loses sight."""
    basis = SharingBasis.objects.get(family=borough.family, basis="consent")
    response = client_for(borough.key_worker.user).post(
        _sharing(borough.family) + f"{basis.id}/withdraw/",
        {"reason": "The family withdrew consent."},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404


def _record(client, borough, *, decided_by, basis="safeguarding", review_on=None):
    body = {
        "basis": basis,
        "agencies": [borough.school.id],
        "justification": JUSTIFICATION,
        "decided_by": decided_by,
    }
    if review_on is not None:
        body["review_on"] = review_on.isoformat()
    return client.post(_sharing(borough.family), body, format="json")


def _recorded(client_for, borough, *, by, basis="safeguarding", review_on=None) -> dict:
    response = _record(
        client_for(by.user),
        borough,
        decided_by=borough.manager.user.id,
        basis=basis,
        review_on=review_on,
    )
    assert response.status_code == 201, response.content[:300]
    return response.json()


def _confirm(client, borough, basis_id: int):
    return client.post(_sharing(borough.family) + f"{basis_id}/confirm/", format="json")


def _review(client, borough, basis_id: int, review_on, notes="Still needed."):
    return client.post(
        _sharing(borough.family) + f"{basis_id}/review/",
        {"review_on": review_on.isoformat(), "notes": notes},
        format="json",
    )


def _status(client_for, borough, basis_id: int) -> str:
    rows = client_for(borough.key_worker.user).get(_sharing(borough.family)).json()["results"]
    return {row["id"]: row["status"] for row in rows}[basis_id]


def _alerts(client_for, staff, kind: str) -> list[dict]:
    results = client_for(staff.user).get(API + "alerts/?page_size=200").json()["results"]
    return [a for a in results if a["kind"] == kind]


def _recipients(kind: str) -> list[int]:
    return sorted(Alert.objects.filter(kind=kind).values_list("recipient_id", flat=True))


# --- confirmation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", WITHOUT_CONSENT)
def test_without_consent_nothing_is_granted_until_the_named_manager_confirms(
    borough, client_for, kind
):
    _withdraw_consent(borough, client_for)
    partner = client_for(borough.partner.user)

    body = _recorded(client_for, borough, by=borough.key_worker, basis=kind)

    assert (body["basis"], body["status"], body["decided_by"]) == (
        kind,
        "awaiting_confirmation",
        borough.manager.user.id,
    )
    assert (body["confirmed_at"], body["confirmed_by"]) == (None, None)
    assert _status(client_for, borough, body["id"]) == "awaiting_confirmation"
    # The withdrawn agency does not see the family again through an unconfirmed decision.
    assert partner.get(_detail(borough.family)).status_code == 404
    assert partner.get(API + "families/").json()["results"] == []
    needed = _alerts(client_for, borough.manager, "sharing.confirmation_needed")
    assert len(needed) == 1 and borough.family.reference in needed[0]["summary"]
    assert _recipients("sharing.confirmation_needed") == [borough.manager.user.id]
    assert _recipients("sharing.confirmed") == []
    granted = Alert.objects.filter(recipient=borough.partner.user, kind="access.granted")
    granted_before = granted.count()

    confirmed = _confirm(client_for(borough.manager.user), borough, body["id"])

    assert confirmed.status_code == 200, confirmed.content[:300]
    assert confirmed.json()["status"] == "active"
    assert confirmed.json()["confirmed_by"] == borough.manager.user.id
    assert _status(client_for, borough, body["id"]) == "active"
    assert partner.get(_detail(borough.family)).status_code == 200
    assert [r["id"] for r in partner.get(API + "families/").json()["results"]] == [
        borough.family.id
    ]
    assert len(_alerts(client_for, borough.key_worker, "sharing.confirmed")) == 1
    assert _recipients("sharing.confirmed") == [borough.key_worker.user.id]
    assert granted.count() == granted_before + 1
    assert (
        _alerts(client_for, borough.partner, "access.granted")[0]["id"] == granted.latest("id").id
    )


def test_only_the_named_manager_confirms(borough, client_for):
    _withdraw_consent(borough, client_for)
    other_manager = f.staff_make(agency=borough.early_help, role=Role.MANAGER)
    basis_id = _recorded(client_for, borough, by=borough.key_worker)["id"]

    forbidden = {
        "another lead-agency manager": other_manager,
        "the key worker who recorded it": borough.key_worker,
        "a lead-agency practitioner": borough.lead_practitioner,
    }
    for who, staff in forbidden.items():
        response = _confirm(client_for(staff.user), borough, basis_id)
        assert response.status_code == 403, (who, response.content[:300])
    for staff in (borough.partner, borough.outsider):  # they do not see the family
        assert _confirm(client_for(staff.user), borough, basis_id).status_code == 404

    assert _status(client_for, borough, basis_id) == "awaiting_confirmation"
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404
    assert _recipients("sharing.confirmed") == []

    assert _confirm(client_for(borough.manager.user), borough, basis_id).status_code == 200
    assert _confirm(client_for(borough.manager.user), borough, basis_id).status_code == 409
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200


def test_recorded_by_the_named_manager_it_is_in_force_at_once(borough, client_for):
    _withdraw_consent(borough, client_for)

    body = _recorded(client_for, borough, by=borough.manager)

    assert body["status"] == "active"
    assert (body["decided_by"], body["confirmed_by"]) == ((borough.manager.user.id,) * 2)
    assert body["confirmed_at"] is not None
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200
    assert _recipients("sharing.confirmation_needed") == []
    assert _confirm(client_for(borough.manager.user), borough, body["id"]).status_code == 409


def test_a_confirmed_decision_withdrawn_ends_the_access_again(borough, client_for):
    _withdraw_consent(borough, client_for)
    basis_id = _recorded(client_for, borough, by=borough.manager)["id"]
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200

    response = client_for(borough.key_worker.user).post(
        _sharing(borough.family) + f"{basis_id}/withdraw/",
        {"reason": "The court order was discharged."},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404
    assert _confirm(client_for(borough.manager.user), borough, basis_id).status_code == 409


def test_naming_anyone_but_a_lead_agency_manager_is_400(borough, client_for):
    school_manager = f.staff_make(agency=borough.school, role=Role.MANAGER)
    other_lead = f.agency_make(kind=AgencyKind.EARLY_HELP, name="North Early Help")
    other_lead_manager = f.staff_make(agency=other_lead, role=Role.MANAGER)
    left_manager = f.staff_make(agency=borough.early_help, role=Role.MANAGER)
    left_manager.user.is_active = False
    left_manager.user.save(update_fields=["is_active"])
    other_key_worker = f.staff_make(agency=borough.early_help, role=Role.KEY_WORKER)
    named = {
        "the key worker themself": borough.key_worker.user.id,
        "another lead-agency key worker": other_key_worker.user.id,
        "a lead-agency practitioner": borough.lead_practitioner.user.id,
        "the school's manager": school_manager.user.id,
        "another early help agency's manager": other_lead_manager.user.id,
        "a lead-agency manager who has left": left_manager.user.id,
        "a partner practitioner": borough.partner.user.id,
        "nobody that exists": 10**9,
        "nobody": None,
    }
    key_worker = client_for(borough.key_worker.user)
    before = SharingBasis.objects.count()

    for who, user_id in named.items():
        response = _record(key_worker, borough, decided_by=user_id)
        assert response.status_code == 400, (who, response.content[:300])
        assert "decided_by" in response.json(), (who, response.json())

    assert SharingBasis.objects.count() == before
    assert Alert.objects.filter(kind="sharing.confirmation_needed").count() == 0


# --- review and lapse -----------------------------------------------------------------------------


def test_a_review_keeps_the_decision_in_force_past_its_old_date(borough, client_for):
    _withdraw_consent(borough, client_for)
    today = timezone.localdate()
    basis_id = _recorded(
        client_for, borough, by=borough.manager, review_on=today + timedelta(days=10)
    )["id"]
    other_manager = f.staff_make(agency=borough.early_help, role=Role.MANAGER)

    response = _review(client_for(other_manager.user), borough, basis_id, today + timedelta(60))

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert (body["review_on"], body["reviewed_by"], body["status"]) == (
        (today + timedelta(days=60)).isoformat(),
        other_manager.user.id,
        "active",
    )
    assert "Still needed." in body["justification"]
    # Past the old review date: still in force.
    assert sharing_sweep(now=_noon(today + timedelta(days=11))) == NO_CHANGE
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200
    # Past the new one: lapsed.
    assert sharing_sweep(now=_noon(today + timedelta(days=61)))["bases_lapsed"] == 1
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404


def test_who_may_review_and_to_when(borough, client_for):
    _withdraw_consent(borough, client_for)
    today = timezone.localdate()
    basis_id = _recorded(client_for, borough, by=borough.manager)["id"]
    manager = client_for(borough.manager.user)

    for staff in (borough.key_worker, borough.lead_practitioner):
        response = _review(client_for(staff.user), borough, basis_id, today + timedelta(30))
        assert response.status_code == 403, response.content[:300]
    for day in (today - timedelta(days=1), today, today + timedelta(days=91)):
        response = _review(manager, borough, basis_id, day)
        assert response.status_code == 400, (day, response.content[:300])
        assert "review_on" in response.json()
    assert SharingBasis.objects.get(id=basis_id).reviewed_at is None

    assert _review(manager, borough, basis_id, today + timedelta(days=90)).status_code == 200


def test_an_unconfirmed_decision_cannot_be_reviewed(borough, client_for):
    basis_id = _recorded(client_for, borough, by=borough.key_worker)["id"]

    response = _review(
        client_for(borough.manager.user), borough, basis_id, timezone.localdate() + timedelta(30)
    )

    assert response.status_code == 409, response.content[:300]
    assert _status(client_for, borough, basis_id) == "awaiting_confirmation"


def test_unreviewed_it_lapses_at_its_review_date(borough, client_for):
    _withdraw_consent(borough, client_for)
    other_manager = f.staff_make(agency=borough.early_help, role=Role.MANAGER)
    review_on = timezone.localdate() + timedelta(days=10)
    basis_id = _recorded(client_for, borough, by=borough.key_worker, review_on=review_on)["id"]
    assert _confirm(client_for(borough.manager.user), borough, basis_id).status_code == 200
    partner = client_for(borough.partner.user)
    assert partner.get(_detail(borough.family)).status_code == 200

    # On its review date it is still in force.
    assert sharing_sweep(now=_noon(review_on))["bases_lapsed"] == 0
    assert partner.get(_detail(borough.family)).status_code == 200

    counts = sharing_sweep(now=_noon(review_on + timedelta(days=1)))

    assert counts == dict(NO_CHANGE, bases_lapsed=1)
    assert partner.get(_detail(borough.family)).status_code == 404
    assert partner.get(API + "families/").json()["results"] == []
    assert _recipients("sharing.lapsed") == sorted(
        [borough.key_worker.user.id, borough.manager.user.id]
    )
    assert other_manager.user.id not in _recipients("sharing.lapsed")
    (lapsed,) = _alerts(client_for, borough.key_worker, "sharing.lapsed")
    assert borough.family.reference in lapsed["summary"]
    assert len(_alerts(client_for, borough.manager, "sharing.lapsed")) == 1
    lost = _alerts(client_for, borough.partner, "access.lost")  # newest first
    assert [a["summary"] for a in lost] == [
        f"Your access to family {borough.family.reference} has ended:"
        " the sharing decision lapsed unreviewed.",
        f"Your access to family {borough.family.reference} has ended: sharing was withdrawn.",
    ]
    # Once.
    assert sharing_sweep(now=_noon(review_on + timedelta(days=2))) == NO_CHANGE
    assert len(_recipients("sharing.lapsed")) == 2
    # A lapsed decision is over: it can be neither confirmed again nor reviewed back.
    manager = client_for(borough.manager.user)
    assert _confirm(manager, borough, basis_id).status_code == 409
    assert _review(manager, borough, basis_id, review_on + timedelta(days=20)).status_code == 409


def test_a_lapsed_decision_reads_lapsed(borough, client_for):
    _withdraw_consent(borough, client_for)
    basis_id = _recorded(client_for, borough, by=borough.manager)["id"]
    SharingBasis.objects.filter(id=basis_id).update(
        review_on=timezone.localdate() - timedelta(days=1)
    )

    assert sharing_sweep()["bases_lapsed"] == 1

    assert _status(client_for, borough, basis_id) == "lapsed"
    detail = client_for(borough.key_worker.user).get(_detail(borough.family)).json()
    assert detail["sharing"]["status"] == "lapsed"
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404


def test_the_review_is_due_alert_comes_14_days_ahead_once(borough, client_for):
    _withdraw_consent(borough, client_for)
    today = timezone.localdate()
    review_on = today + timedelta(days=30)
    basis_id = _recorded(client_for, borough, by=borough.key_worker, review_on=review_on)["id"]
    assert _confirm(client_for(borough.manager.user), borough, basis_id).status_code == 200

    assert sharing_sweep(now=_noon(review_on - timedelta(days=15))) == NO_CHANGE
    assert _recipients("sharing.review_due") == []

    counts = sharing_sweep(now=_noon(review_on - timedelta(days=14)))

    assert counts == dict(NO_CHANGE, review_warnings=1)
    expected = sorted([borough.key_worker.user.id, borough.manager.user.id])
    assert _recipients("sharing.review_due") == expected
    (due,) = _alerts(client_for, borough.manager, "sharing.review_due")
    assert borough.family.reference in due["summary"]
    assert len(_alerts(client_for, borough.key_worker, "sharing.review_due")) == 1
    for days_before in (14, 13, 1):
        assert sharing_sweep(now=_noon(review_on - timedelta(days=days_before))) == NO_CHANGE
    assert _recipients("sharing.review_due") == expected
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200

    # Reviewed to a new date: warned again ahead of that one.
    new_date = today + timedelta(days=80)
    assert _review(client_for(borough.manager.user), borough, basis_id, new_date).status_code == 200
    assert sharing_sweep(now=_noon(review_on - timedelta(days=14))) == NO_CHANGE
    assert sharing_sweep(now=_noon(new_date - timedelta(days=14)))["review_warnings"] == 1
    assert _recipients("sharing.review_due") == sorted(expected * 2)
