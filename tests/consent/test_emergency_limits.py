"""Limits on emergency (break-glass) access, through the HTTP API with real token auth.

One live grant per person per family (409). A request waits for a lead-agency manager's approval
(202, grants nothing) after a "not justified" review of that person's grant on that family, or
once the person has taken settings.EMERGENCY_ACCESS_DAILY_LIMIT grants since local midnight. A
lead-agency manager approves (the grant starts) or refuses it; nobody else. A grant says when it
overrides the family's withdrawal of sharing.
"""

from __future__ import annotations

import os
import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from consent.models import EmergencyAccess, SharingBasis
from consent.services import sharing_sweep
from tests import factories as f

API = "/api/v1/"
REASON = "Police call-out at 02:00; need to know who is involved."


def _detail(family_id: int) -> str:
    return f"{API}families/{family_id}/"


def _ask(client, family_id: int):
    return client.post(_detail(family_id) + "emergency-access/", {"reason": REASON}, format="json")


def _review(client, grant_id: int, decision: str):
    return client.post(
        f"{API}emergency-access/{grant_id}/review/",
        {"decision": decision, "notes": "Reviewed."},
        format="json",
    )


def _approve(client, grant_id: int, approve: bool, notes: str = ""):
    return client.post(
        f"{API}emergency-access/{grant_id}/approve/",
        {"approve": approve, "notes": notes},
        format="json",
    )


def _alerts(client_for, staff, kind: str) -> list[dict]:
    results = client_for(staff.user).get(API + "alerts/?page_size=200").json()["results"]
    return [a for a in results if a["kind"] == kind]


def _visible_ids(client) -> set[int]:
    body = client.get(API + "families/?page_size=200").json()
    return {row["id"] for row in body["results"]}


def _families(borough, n: int) -> list:
    return [
        f.family_make(by=borough.key_worker, name=f"Household {i}", postcode="SW1A 1AA")
        for i in range(n)
    ]


def _not_justified(borough, client_for) -> int:
    """The outsider's grant on the family, found not justified by a lead-agency manager."""
    outsider = client_for(borough.outsider.user)
    granted = _ask(outsider, borough.family.id)
    assert granted.status_code == 201, granted.content[:300]
    reviewed = _review(client_for(borough.manager.user), granted.json()["id"], "not_justified")
    assert reviewed.status_code == 200, reviewed.content[:300]
    assert outsider.get(_detail(borough.family.id)).status_code == 404
    return granted.json()["id"]


# --- one live grant per person per family ---------------------------------------------------------


def test_a_second_request_while_the_grant_is_live_is_409(borough, client_for):
    outsider = client_for(borough.outsider.user)
    first = _ask(outsider, borough.family.id)
    assert first.status_code == 201

    again = _ask(outsider, borough.family.id)

    assert again.status_code == 409, again.content[:300]
    assert again.json()["code"] == "conflict"
    assert EmergencyAccess.objects.filter(user=borough.outsider.user).count() == 1
    # Somebody else may still ask for the same family, and the same person for another family.
    assert _ask(client_for(borough.ended_partner.user), borough.family.id).status_code == 201
    (other,) = _families(borough, 1)
    assert _ask(outsider, other.id).status_code == 201


def test_once_the_grant_has_ended_the_person_may_ask_again(borough, client_for):
    outsider = client_for(borough.outsider.user)
    grant_id = _ask(outsider, borough.family.id).json()["id"]
    EmergencyAccess.objects.filter(id=grant_id).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert sharing_sweep()["emergency_expired"] == 1
    assert outsider.get(_detail(borough.family.id)).status_code == 404

    again = _ask(outsider, borough.family.id)

    assert again.status_code == 201, again.content[:300]
    assert again.json()["status"] == "granted"
    assert outsider.get(_detail(borough.family.id)).status_code == 200


# --- after "not justified" ------------------------------------------------------------------------


def test_after_not_justified_the_same_person_asking_again_waits_for_approval(borough, client_for):
    _not_justified(borough, client_for)
    outsider = client_for(borough.outsider.user)

    response = _ask(outsider, borough.family.id)

    assert response.status_code == 202, response.content[:300]
    body = response.json()
    assert (body["status"], body["expires_at"], body["overrides_withdrawal"]) == (
        "awaiting_approval",
        None,
        False,
    )
    grant = EmergencyAccess.objects.get(id=body["id"])
    assert (grant.approval_required, grant.granted_at, grant.expires_at) == (True, None, None)
    # A pending request grants nothing.
    assert outsider.get(_detail(borough.family.id)).status_code == 404
    assert outsider.get(_detail(borough.family.id) + "chronology/").status_code == 404
    assert borough.family.id not in _visible_ids(outsider)
    # The lead-agency managers are asked; nobody else is.
    requested = _alerts(client_for, borough.manager, "emergency_access.requested")
    assert len(requested) == 1 and borough.family.reference in requested[0]["summary"]
    assert not Alert.objects.filter(kind="emergency_access.requested").exclude(
        recipient=borough.manager.user
    )
    # Asking again while it waits is no way round it: one waiting request at a time (409).
    again = _ask(outsider, borough.family.id)
    assert again.status_code == 409 and again.json()["code"] == "conflict"
    assert EmergencyAccess.objects.filter(user=borough.outsider.user, granted_at=None).count() == 1
    assert outsider.get(_detail(borough.family.id)).status_code == 404


def test_not_justified_binds_that_person_on_that_family_only(borough, client_for):
    _not_justified(borough, client_for)
    (other,) = _families(borough, 1)

    assert _ask(client_for(borough.outsider.user), other.id).status_code == 201
    assert _ask(client_for(borough.ended_partner.user), borough.family.id).status_code == 201


def test_an_upheld_review_leaves_asking_again_free(borough, client_for):
    outsider = client_for(borough.outsider.user)
    grant_id = _ask(outsider, borough.family.id).json()["id"]
    assert _review(client_for(borough.manager.user), grant_id, "upheld").status_code == 200
    EmergencyAccess.objects.filter(id=grant_id).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    sharing_sweep()

    assert _ask(outsider, borough.family.id).status_code == 201


# --- approval -------------------------------------------------------------------------------------


def test_a_lead_manager_approves_a_waiting_request_and_the_grant_starts(borough, client_for):
    _not_justified(borough, client_for)
    outsider = client_for(borough.outsider.user)
    request_id = _ask(outsider, borough.family.id).json()["id"]
    before = timezone.now()

    response = _approve(client_for(borough.manager.user), request_id, True, "Call-out confirmed.")

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert (body["id"], body["approved_by"], body["refused_at"], body["review_notes"]) == (
        request_id,
        borough.manager.user.id,
        None,
        "Call-out confirmed.",
    )
    granted_at, expires_at = parse_datetime(body["granted_at"]), parse_datetime(body["expires_at"])
    assert granted_at >= before and expires_at - granted_at == timedelta(hours=4)
    assert outsider.get(_detail(borough.family.id)).status_code == 200
    assert borough.family.id in _visible_ids(outsider)
    assert len(_alerts(client_for, borough.key_worker, "emergency_access.granted")) == 2
    # Decided once.
    assert _approve(client_for(borough.manager.user), request_id, True).status_code == 409
    assert _approve(client_for(borough.manager.user), request_id, False).status_code == 409


def test_a_lead_manager_refuses_a_waiting_request(borough, client_for):
    _not_justified(borough, client_for)
    outsider = client_for(borough.outsider.user)
    request_id = _ask(outsider, borough.family.id).json()["id"]

    response = _approve(client_for(borough.manager.user), request_id, False, "Not needed.")

    assert response.status_code == 200, response.content[:300]
    body = response.json()
    assert body["refused_at"] is not None
    assert (body["granted_at"], body["expires_at"], body["approved_at"]) == (None, None, None)
    assert outsider.get(_detail(borough.family.id)).status_code == 404
    assert _approve(client_for(borough.manager.user), request_id, True).status_code == 409
    assert outsider.get(_detail(borough.family.id)).status_code == 404


def test_only_a_lead_agency_manager_who_sees_the_family_decides(borough, client_for):
    _not_justified(borough, client_for)
    request_id = _ask(client_for(borough.outsider.user), borough.family.id).json()["id"]
    school_manager = f.staff_make(agency=borough.school, role=Role.MANAGER)
    other_lead = f.agency_make(kind=AgencyKind.EARLY_HELP, name="North Early Help")
    other_manager = f.staff_make(agency=other_lead, role=Role.MANAGER)

    forbidden = {
        "key worker": borough.key_worker,
        "lead practitioner": borough.lead_practitioner,
        "school practitioner on the team": borough.partner,
        "school manager on the team": school_manager,
    }
    for who, staff in forbidden.items():
        response = _approve(client_for(staff.user), request_id, True)
        assert response.status_code == 403, (who, response.content[:300])
    unseen = {"the requester": borough.outsider, "another agency's manager": other_manager}
    for who, staff in unseen.items():
        response = _approve(client_for(staff.user), request_id, True)
        assert response.status_code == 404, (who, response.content[:300])
    assert _approve(client_for(borough.manager.user), 10**9, True).status_code == 404

    grant = EmergencyAccess.objects.get(id=request_id)
    assert (grant.approved_at, grant.refused_at, grant.expires_at) == (None, None, None)
    assert client_for(borough.outsider.user).get(_detail(borough.family.id)).status_code == 404


def test_a_grant_not_waiting_for_approval_cannot_be_approved(borough, client_for):
    grant_id = _ask(client_for(borough.outsider.user), borough.family.id).json()["id"]

    response = _approve(client_for(borough.manager.user), grant_id, False)

    assert response.status_code == 409, response.content[:300]
    assert EmergencyAccess.objects.get(id=grant_id).refused_at is None
    assert client_for(borough.outsider.user).get(_detail(borough.family.id)).status_code == 200


def test_a_waiting_request_cannot_be_reviewed_before_it_is_granted(borough, client_for):
    _not_justified(borough, client_for)
    request_id = _ask(client_for(borough.outsider.user), borough.family.id).json()["id"]

    response = _review(client_for(borough.manager.user), request_id, "upheld")

    assert response.status_code == 409, response.content[:300]
    assert EmergencyAccess.objects.get(id=request_id).reviewed_at is None


# --- the daily limit ------------------------------------------------------------------------------


def test_twenty_families_in_a_day_only_the_first_three_are_granted(borough, client_for):
    assert settings.EMERGENCY_ACCESS_DAILY_LIMIT == 3  # the default
    families = _families(borough, 20)
    outsider = client_for(borough.outsider.user)

    responses = [_ask(outsider, family.id) for family in families]

    assert [r.status_code for r in responses] == [201] * 3 + [202] * 17
    assert [r.json()["status"] for r in responses[3:]] == ["awaiting_approval"] * 17
    assert all(r.json()["expires_at"] is None for r in responses[3:])
    assert _visible_ids(outsider) == {family.id for family in families[:3]}
    for family in families[3:]:
        assert outsider.get(_detail(family.id)).status_code == 404
    requested = _alerts(client_for, borough.manager, "emergency_access.requested")
    assert sorted(a["family"] for a in requested) == sorted(fam.id for fam in families[3:])
    # Another practitioner has a limit of their own.
    assert _ask(client_for(borough.ended_partner.user), families[10].id).status_code == 201


@pytest.mark.parametrize("limit", [1, 5])
def test_the_daily_limit_setting_is_honoured(borough, client_for, limit):
    families = _families(borough, limit + 2)
    outsider = client_for(borough.outsider.user)

    with override_settings(EMERGENCY_ACCESS_DAILY_LIMIT=limit):
        statuses = [_ask(outsider, family.id).status_code for family in families]

    assert statuses == [201] * limit + [202] * 2
    assert _visible_ids(outsider) == {family.id for family in families[:limit]}


def test_an_approved_request_counts_towards_the_limit_and_a_waiting_one_does_not(
    borough, client_for
):
    families = _families(borough, 5)
    outsider = client_for(borough.outsider.user)
    manager = client_for(borough.manager.user)
    with override_settings(EMERGENCY_ACCESS_DAILY_LIMIT=1):
        assert _ask(outsider, families[0].id).status_code == 201
        waiting = _ask(outsider, families[1].id)
        assert waiting.status_code == 202
        assert _ask(outsider, families[2].id).status_code == 202
        assert _approve(manager, waiting.json()["id"], True).status_code == 200
        assert _ask(outsider, families[3].id).status_code == 202
    with override_settings(EMERGENCY_ACCESS_DAILY_LIMIT=3):
        # Two grants taken (one at once, one approved); the two waiting requests take none.
        assert _ask(outsider, families[4].id).status_code == 201
        (sixth,) = _families(borough, 1)
        assert _ask(outsider, sixth.id).status_code == 202


def test_the_day_starts_at_local_midnight(borough, client_for):
    families = _families(borough, 5)
    outsider = client_for(borough.outsider.user)
    assert [_ask(outsider, fam.id).status_code for fam in families[:4]] == [201] * 3 + [202]
    # The three grants move to one minute before local midnight: within the last 24 hours, but
    # yesterday.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    EmergencyAccess.objects.filter(user=borough.outsider.user, granted_at__isnull=False).update(
        requested_at=midnight - timedelta(minutes=1),
        granted_at=midnight - timedelta(minutes=1),
        expires_at=midnight - timedelta(minutes=1) + timedelta(hours=4),
    )

    assert _ask(outsider, families[4].id).status_code == 201


# --- overriding a withdrawal ----------------------------------------------------------------------


def _withdraw_consent(borough, client_for) -> None:
    basis = SharingBasis.objects.get(family=borough.family)
    response = client_for(borough.key_worker.user).post(
        _detail(borough.family.id) + f"sharing/{basis.id}/withdraw/",
        {"reason": "The family withdrew consent."},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    assert client_for(borough.partner.user).get(_detail(borough.family.id)).status_code == 404


def test_a_grant_overriding_the_familys_withdrawal_says_so(borough, client_for):
    _withdraw_consent(borough, client_for)
    partner = client_for(borough.partner.user)

    response = _ask(partner, borough.family.id)

    assert response.status_code == 201, response.content[:300]
    assert response.json()["overrides_withdrawal"] is True
    assert partner.get(_detail(borough.family.id)).status_code == 200
    (alert,) = _alerts(client_for, borough.key_worker, "emergency_access.granted")
    assert "overrides the family's withdrawal" in alert["summary"]
    # The police were covered by the withdrawn consent too (their involvement since ended).
    police = _ask(client_for(borough.ended_partner.user), borough.family.id)
    assert police.json()["overrides_withdrawal"] is True
    # Housing never was: nothing withdrawn to override.
    housing = _ask(client_for(borough.outsider.user), borough.family.id)
    assert housing.json()["overrides_withdrawal"] is False
    summaries = [
        a["summary"] for a in _alerts(client_for, borough.manager, "emergency_access.granted")
    ]
    assert sum("overrides the family's withdrawal" in s for s in summaries) == 2


def test_no_override_while_a_current_basis_covers_the_agency(borough, client_for):
    # Withdrawn, then consent recorded again for the school: nothing to override.
    _withdraw_consent(borough, client_for)
    f.consent_make(family=borough.family, by=borough.key_worker, agencies=[borough.school])
    colleague = f.staff_make(agency=borough.school, role=Role.PRACTITIONER)

    response = _ask(client_for(colleague.user), borough.family.id)

    assert response.status_code == 201
    assert response.json()["overrides_withdrawal"] is False
    (alert,) = _alerts(client_for, borough.key_worker, "emergency_access.granted")
    assert "overrides" not in alert["summary"]


def test_a_waiting_request_overriding_a_withdrawal_tells_the_managers(borough, client_for):
    _withdraw_consent(borough, client_for)
    partner = client_for(borough.partner.user)
    with override_settings(EMERGENCY_ACCESS_DAILY_LIMIT=0):
        response = _ask(partner, borough.family.id)

    assert response.status_code == 202, response.content[:300]
    assert response.json()["overrides_withdrawal"] is True
    assert partner.get(_detail(borough.family.id)).status_code == 404
    (alert,) = _alerts(client_for, borough.manager, "emergency_access.requested")
    assert "overrides the family's withdrawal" in alert["summary"]
    approved = _approve(client_for(borough.manager.user), response.json()["id"], True)
    assert approved.status_code == 200
    assert approved.json()["overrides_withdrawal"] is True
    assert partner.get(_detail(borough.family.id)).status_code == 200


# --- concurrent requests (PostgreSQL) -------------------------------------------------------------

POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
CONCURRENT = 12


@pytest.mark.skipif(not POSTGRES, reason="needs PostgreSQL (real concurrent transactions)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_many_families_keep_the_daily_limit(borough):
    """One practitioner asks for twelve families at the same instant, from twelve connections:
    the limit holds as it does for requests one after another."""
    assert connection.vendor == "postgresql"
    families = _families(borough, CONCURRENT)
    token = f.token_for(borough.outsider.user)
    start = threading.Barrier(CONCURRENT)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def ask(family_id: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            start.wait(timeout=30)
            response = _ask(client, family_id)
            with lock:
                statuses.append(response.status_code)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(fam.id,)) for fam in families]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, errors

    assert sorted(statuses) == [201] * 3 + [202] * (CONCURRENT - 3), statuses
    granted = EmergencyAccess.objects.filter(user=borough.outsider.user, granted_at__isnull=False)
    assert granted.count() == 3
