"""Withdrawing consent by API: the partner's very next request gets 404."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consent.models import AccessPeriod, SharingBasis

API = "/api/v1/"
REASON = "Mum withdrew consent by phone on 3 Nov."


@pytest.fixture
def basis(borough):
    return SharingBasis.objects.get(family=borough.family)


def _withdraw(client, family, basis, reason=REASON):
    return client.post(
        f"{API}families/{family.id}/sharing/{basis.id}/withdraw/", {"reason": reason}, format="json"
    )


def _alert_kinds(client) -> list[str]:
    response = client.get(API + "alerts/")
    assert response.status_code == 200
    return [a["kind"] for a in response.json()["results"]]


def test_withdrawal_ends_the_partners_access_on_its_very_next_request(borough, basis, client_for):
    family = borough.family
    partner = client_for(borough.partner.user)
    detail = f"{API}families/{family.id}/"
    assert partner.get(detail).status_code == 200
    assert partner.get(detail + "chronology/").status_code == 200

    response = _withdraw(client_for(borough.manager.user), family, basis)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "withdrawn"
    # No wait, no sweep: the next request is refused, reads and writes alike.
    assert partner.get(detail).status_code == 404
    assert partner.get(detail + "chronology/").status_code == 404
    contact = {"occurred_at": "2025-10-06T09:30:00+01:00", "method": "phone", "summary": "Hi."}
    assert partner.post(detail + "contacts/", contact, format="json").status_code == 404
    assert partner.get(API + "families/").json()["results"] == []
    # The lead agency and the key worker keep the record.
    assert client_for(borough.key_worker.user).get(detail).status_code == 200
    assert client_for(borough.lead_practitioner.user).get(detail).status_code == 200


def test_withdrawal_alerts_the_partner_and_the_key_worker(borough, basis, client_for):
    partner = client_for(borough.partner.user)
    key_worker = client_for(borough.key_worker.user)
    assert "access.lost" not in _alert_kinds(partner)
    assert "sharing.withdrawn" not in _alert_kinds(key_worker)

    assert _withdraw(client_for(borough.manager.user), borough.family, basis).status_code == 200

    partner_alerts = partner.get(API + "alerts/").json()["results"]
    lost = [a for a in partner_alerts if a["kind"] == "access.lost"]
    assert len(lost) == 1 and lost[0]["family"] == borough.family.id
    assert borough.family.reference in lost[0]["summary"]
    assert _alert_kinds(key_worker).count("sharing.withdrawn") == 1
    # Nobody else on the lead agency is told they lost access: they did not.
    assert "access.lost" not in _alert_kinds(client_for(borough.manager.user))


def test_disclosure_history_closes_the_schools_period(borough, basis, client_for):
    key_worker = client_for(borough.key_worker.user)
    url = f"{API}families/{borough.family.id}/disclosures/"
    open_before = [
        p for p in key_worker.get(url).json()["results"] if p["agency"] == borough.school.id
    ]
    assert [(p["footing"], p["basis"], p["ended_at"]) for p in open_before] == [
        ("team_basis", basis.id, None)
    ]

    assert _withdraw(key_worker, borough.family, basis).status_code == 200

    history = key_worker.get(url).json()["results"]
    school = [p for p in history if p["agency"] == borough.school.id]
    assert len(school) == 1
    basis.refresh_from_db()
    assert school[0]["ended_at"] is not None
    period = AccessPeriod.objects.get(id=school[0]["id"])
    # Closed by the withdrawal's own sync, in the same transaction (a few µs after it).
    assert basis.withdrawn_at <= period.ended_at < basis.withdrawn_at + timedelta(seconds=5)
    assert school[0]["basis_kind"] == "consent" and school[0]["agency_name"] == "Hill Primary"
    # The police's period closed earlier, when its involvement ended; the lead's stays open.
    police = [p for p in history if p["agency"] == borough.police.id]
    assert police and all(p["ended_at"] is not None for p in police)
    lead = [p for p in history if p["agency"] == borough.early_help.id and p["user"] is None]
    assert lead and lead[0]["ended_at"] is None


def test_withdrawing_twice_is_a_conflict(borough, basis, client_for):
    manager = client_for(borough.manager.user)
    assert _withdraw(manager, borough.family, basis).status_code == 200
    first = SharingBasis.objects.get(id=basis.id)

    again = _withdraw(client_for(borough.key_worker.user), borough.family, basis, "Again.")

    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    second = SharingBasis.objects.get(id=basis.id)
    assert (second.withdrawn_at, second.withdrawn_by_id, second.withdrawal_reason) == (
        first.withdrawn_at,
        first.withdrawn_by_id,
        REASON,
    )


def test_the_basis_is_kept_with_its_withdrawal(borough, basis, client_for):
    key_worker = client_for(borough.key_worker.user)
    assert _withdraw(key_worker, borough.family, basis).status_code == 200

    response = key_worker.get(f"{API}families/{borough.family.id}/sharing/")

    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == basis.id
    assert row["status"] == "withdrawn"
    assert row["withdrawal_reason"] == REASON
    assert row["withdrawn_by"] == borough.key_worker.user.id
    assert row["withdrawn_at"] is not None
    assert set(row["agencies"]) == {borough.school.id, borough.police.id}
    assert SharingBasis.objects.filter(family=borough.family).count() == 1
    detail = key_worker.get(f"{API}families/{borough.family.id}/").json()
    assert detail["sharing"]["status"] == "withdrawn"


def test_withdrawal_without_a_reason_is_refused_and_changes_nothing(borough, basis, client_for):
    partner = client_for(borough.partner.user)
    response = _withdraw(client_for(borough.key_worker.user), borough.family, basis, reason="  ")
    assert response.status_code == 400
    assert "reason" in response.json()
    assert SharingBasis.objects.get(id=basis.id).withdrawn_at is None
    assert partner.get(f"{API}families/{borough.family.id}/").status_code == 200
