"""Emergency (break-glass) access: granted at once for 4 hours to a practitioner who cannot see
the family, view only, alerted to the key worker and lead-agency managers, every read under it
marked in the audit log, reviewed by a lead-agency manager."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.models import Alert
from audit.models import AccessEvent
from consent.models import AccessPeriod, EmergencyAccess

API = "/api/v1/"
REASON = "Police call-out at 02:00; need to know who is involved."


@pytest.fixture
def urls(borough):
    base = f"{API}families/{borough.family.id}/"
    return {"detail": base, "emergency": base + "emergency-access/", "base": base}


def _request(client, urls):
    response = client.post(urls["emergency"], {"reason": REASON}, format="json")
    assert response.status_code == 201, response.content[:300]
    return response


def test_an_uninvolved_practitioner_gets_view_access_at_once_for_four_hours(
    borough, urls, client_for
):
    outsider = client_for(borough.outsider.user)
    assert outsider.get(urls["detail"]).status_code == 404
    before = timezone.now()

    response = _request(outsider, urls)

    body = response.json()
    assert set(body) == {"id", "status", "expires_at", "overrides_withdrawal"}
    assert (body["status"], body["overrides_withdrawal"]) == ("granted", False)
    expires_at = parse_datetime(body["expires_at"])
    assert before + timedelta(hours=4) <= expires_at <= timezone.now() + timedelta(hours=4)
    grant = EmergencyAccess.objects.get(id=body["id"])
    assert (grant.user_id, grant.agency_id, grant.reason) == (
        borough.outsider.user.id,
        borough.housing.id,
        REASON,
    )
    detail = outsider.get(urls["detail"])
    assert detail.status_code == 200 and detail.json()["id"] == borough.family.id
    assert outsider.get(urls["base"] + "chronology/").status_code == 200
    assert outsider.get(urls["base"] + "members/").status_code == 200
    assert [r["id"] for r in outsider.get(API + "families/").json()["results"]] == [
        borough.family.id
    ]
    period = AccessPeriod.objects.get(family=borough.family, user=borough.outsider.user)
    assert (period.footing, period.agency_id, period.ended_at) == (
        "emergency",
        borough.housing.id,
        None,
    )


def test_writes_under_emergency_access_are_refused(borough, urls, client_for):
    outsider = client_for(borough.outsider.user)
    _request(outsider, urls)
    contact = {"occurred_at": "2025-10-06T09:30:00+01:00", "method": "phone", "summary": "Hi."}
    refused = [
        outsider.post(urls["base"] + "contacts/", contact, format="json"),
        outsider.post(
            urls["base"] + "needs/", {"outcome": "health", "descriptor": "x"}, format="json"
        ),
        outsider.patch(urls["detail"], {"level_of_need": 3}, format="json", HTTP_IF_MATCH='"1"'),
        outsider.post(
            urls["base"] + "sharing/",
            {"basis": "consent", "agencies": [borough.housing.id]},
            format="json",
        ),
        outsider.get(urls["base"] + "disclosures/"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert {r.json()["code"] for r in refused} == {"permission_denied"}


def test_the_key_worker_and_lead_managers_are_alerted(borough, urls, client_for):
    _request(client_for(borough.outsider.user), urls)

    def kinds(staff) -> list[str]:
        results = client_for(staff.user).get(API + "alerts/").json()["results"]
        return [a["kind"] for a in results]

    assert kinds(borough.key_worker).count("emergency_access.granted") == 1
    assert kinds(borough.manager).count("emergency_access.granted") == 1
    for staff in (borough.lead_practitioner, borough.partner, borough.outsider):
        assert "emergency_access.granted" not in kinds(staff)
    alert = Alert.objects.filter(
        kind="emergency_access.granted", recipient=borough.key_worker.user
    ).get()
    assert "Housing" in alert.summary and borough.family.reference in alert.summary


def test_reads_under_emergency_access_are_marked_in_the_audit_log(borough, urls, client_for):
    outsider = client_for(borough.outsider.user)
    _request(outsider, urls)
    outsider.get(urls["detail"])
    outsider.get(urls["base"] + "chronology/")
    outsider.post(urls["base"] + "contacts/", {}, format="json")  # refused, still audited
    client_for(borough.key_worker.user).get(urls["detail"])
    client_for(borough.partner.user).get(urls["detail"])

    mine = AccessEvent.objects.filter(user=borough.outsider.user, family_id=borough.family.id)
    columns = ("method", "object_type", "footing", "outcome", "emergency", "status_code")
    assert list(mine.order_by("id").values_list(*columns)) == [
        # asking for it stands on break-glass; then reads on it; a write it does not allow
        ("POST", "emergency_access", "emergency", "allowed", True, 201),
        ("GET", "family", "emergency", "allowed", True, 200),
        ("GET", "chronology", "emergency", "allowed", True, 200),
        ("POST", "contact", "", "denied", False, 403),
    ]
    assert all(e.agency_id == borough.housing.id for e in mine)
    normal = AccessEvent.objects.filter(
        user__in=[borough.key_worker.user, borough.partner.user], family_id=borough.family.id
    )
    assert sorted(normal.values_list("footing", flat=True)) == ["key_worker", "team"]
    assert not normal.filter(emergency=True).exists()


def test_emergency_request_by_a_team_member_does_not_mark_its_normal_reads(
    borough, urls, client_for
):
    """Reads are marked only when sight comes from break-glass alone."""
    partner = client_for(borough.partner.user)
    _request(partner, urls)
    assert partner.get(urls["detail"]).status_code == 200
    event = AccessEvent.objects.filter(user=borough.partner.user).latest("id")
    assert (event.emergency, event.footing) == (False, "team")


def test_a_lead_manager_upholds_the_access(borough, urls, client_for):
    outsider = client_for(borough.outsider.user)
    grant_id = _request(outsider, urls).json()["id"]

    response = client_for(borough.manager.user).post(
        f"{API}emergency-access/{grant_id}/review/",
        {"decision": "upheld", "notes": "Proportionate to the call-out."},
        format="json",
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["decision"], body["reviewed_by"], body["review_notes"]) == (
        "upheld",
        borough.manager.user.id,
        "Proportionate to the call-out.",
    )
    assert body["reviewed_at"] is not None
    assert outsider.get(urls["detail"]).status_code == 200  # runs to the end of its window


def test_not_justified_ends_the_access_at_once(borough, urls, client_for):
    outsider = client_for(borough.outsider.user)
    grant_id = _request(outsider, urls).json()["id"]
    assert outsider.get(urls["detail"]).status_code == 200

    response = client_for(borough.manager.user).post(
        f"{API}emergency-access/{grant_id}/review/",
        {"decision": "not_justified", "notes": "No safeguarding reason."},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["decision"] == "not_justified"
    assert outsider.get(urls["detail"]).status_code == 404
    assert outsider.get(urls["base"] + "chronology/").status_code == 404
    grant = EmergencyAccess.objects.get(id=grant_id)
    assert grant.expires_at == grant.reviewed_at
    period = AccessPeriod.objects.get(family=borough.family, user=borough.outsider.user)
    assert period.ended_at is not None
