"""Unusual access, checked against its definitions (access.reads_outside_caseload_q,
accountability.selectors.read_bursts): emergency access by person, reads outside one's caseload
or team, bursts of reads; through the API and the page, as a manager and as the data protection
officer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from audit.models import AccessEvent
from cases.models import Involvement
from consent import services as consent_services
from tests import factories as f

API = "/api/v1/"
pytestmark = pytest.mark.django_db


def _unusual(client, **params) -> dict:
    response = client.get(f"{API}audit/unusual/", params)
    assert response.status_code == 200, response.content[:300]
    return response.json()


def _read(client, family) -> None:
    assert client.get(f"{API}families/{family.id}/").status_code == 200


def test_emergency_access_by_person_counts_grants_reviews_and_reads(accountable, client_for):
    b = accountable.borough
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    nurse = f.staff_make(agency=health, role=Role.PRACTITIONER)
    grant = consent_services.emergency_access_grant(
        family_id=b.family.id, by=nurse, reason="Urgent health referral out of hours."
    )
    nurse_client = client_for(nurse.user)
    _read(nurse_client, b.family)
    assert nurse_client.get(f"{API}families/{b.family.id}/needs/").status_code == 200

    for reader in (b.manager, accountable.dpo):
        rows = _unusual(client_for(reader.user))["emergency"]
        assert [(r["user"], r["agency_name"]) for r in rows] == [(nurse.user_id, health.name)]
        row = rows[0]
        assert (row["grants"], row["reviewed"], row["unreviewed"], row["reads"]) == (1, 0, 1, 2)
        assert row["latest_granted_at"] is not None

    consent_services.emergency_access_review(grant_id=grant.id, by=b.manager, decision="upheld")
    row = _unusual(client_for(b.manager.user))["emergency"][0]
    assert (row["grants"], row["reviewed"], row["unreviewed"]) == (1, 1, 0)
    # Reads under emergency access are reads outside the reader's caseload or team.
    outside = _unusual(client_for(b.manager.user))["outside"]
    assert {(e["user"], e["footing"]) for e in outside} == {(nurse.user_id, "emergency")}


def _spell_on_team(family, agency, user, *, ended_on: date) -> None:
    """An earlier spell of `user` on the family's team for `agency`, ended on `ended_on` (the
    lead agency's current involvement names the key worker; a practitioner of the lead agency
    named on the team is such a spell, or the key worker before a handover)."""
    Involvement.objects.create(
        family=family,
        agency=agency,
        practitioner=user,
        started_on=ended_on - timedelta(days=30),
        ended_on=ended_on,
    )


def test_reads_outside_caseload_or_team(accountable, client_for):
    """Unusual: a lead-agency colleague who is neither the key worker, nor a manager, nor named
    on the team that day. Not unusual: the key worker, a manager, the lead agency's practitioner
    named on the team that day, a partner agency on the team under a basis."""
    b = accountable.borough
    other_kw = f.staff_make(agency=b.early_help, role=Role.KEY_WORKER)
    named = f.staff_make(agency=b.early_help, role=Role.PRACTITIONER)
    _spell_on_team(b.family, b.early_help, named.user, ended_on=timezone.localdate())
    for who in (b.key_worker, b.manager, b.partner, named, b.lead_practitioner, other_kw):
        _read(client_for(who.user), b.family)
    assert client_for(b.outsider.user).get(f"{API}families/{b.family.id}/").status_code == 404

    found = _unusual(client_for(b.manager.user))
    readers = {(e["user"], e["footing"]) for e in found["outside"]}
    assert readers == {
        (b.lead_practitioner.user_id, "lead_agency"),
        (other_kw.user_id, "lead_agency"),
    }
    assert found["outside_count"] == 2
    # The agency-wide log gives the same reads with `unusual=true`.
    listed = client_for(accountable.dpo.user).get(f"{API}audit/", {"unusual": "true"}).json()
    assert {e["id"] for e in listed["results"]} == {e["id"] for e in found["outside"]}


def test_a_practitioner_reading_after_their_spell_on_the_team_is_unusual(accountable, client_for):
    b = accountable.borough
    named = f.staff_make(agency=b.early_help, role=Role.PRACTITIONER)
    _spell_on_team(
        b.family, b.early_help, named.user, ended_on=timezone.localdate() - timedelta(days=1)
    )
    _read(client_for(named.user), b.family)
    found = _unusual(client_for(b.manager.user))
    assert [e["user"] for e in found["outside"]] == [named.user_id]


def _insert_read(user, agency_id, family_id, at, footing="lead_agency") -> None:
    """An allowed read at a time of our choosing (the log's rows are written with the time of
    the request: this is the only way to make one at another time)."""
    table = AccessEvent._meta.db_table
    columns = ("at", "user_id", "agency_id", "family_id", "action", "object_type", "footing")
    columns += ("outcome", "method", "path", "status_code", "emergency", "request_id")
    values = (connection.ops.adapt_datetimefield_value(at), user.id, agency_id, family_id)
    values += ("read", "family", footing, "allowed", "GET", f"/families/{family_id}/", 200)
    values += (footing == "emergency", "")
    marks = ", ".join(["%s"] * len(values))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)


def test_bursts_of_reads(accountable, client_for, settings):
    """More than N distinct families within M minutes (N=2, M=10 here): a burst."""
    settings.BURST_READ_FAMILIES, settings.BURST_READ_MINUTES = 2, 10
    b = accountable.borough
    families = [b.family] + [
        f.family_make(by=b.key_worker, name=f"Household {i}") for i in range(3)
    ]
    elsewhere_lead = f.agency_make(name="Elsewhere Early Help")
    elsewhere = [
        f.family_make(by=f.staff_make(agency=elsewhere_lead, role=Role.KEY_WORKER))
        for _ in range(3)
    ]
    quick, slow, agency = b.lead_practitioner.user, b.key_worker.user, b.early_help.id
    # After the families were opened (a family's log starts then), in a period to tomorrow.
    start = timezone.now() + timedelta(minutes=1)
    # Quick: four families in 6 minutes, one of them twice; then a pause; then two more.
    for minutes, family in ((0, 0), (2, 1), (3, 1), (4, 2), (6, 3), (40, 0), (41, 1)):
        _insert_read(quick, agency, families[family].id, start + timedelta(minutes=minutes))
    # Slow: the same four families, 10 minutes apart: never more than 2 within 10 minutes.
    for i, family in enumerate(families):
        _insert_read(slow, agency, family.id, start + timedelta(minutes=11 * i))
    # Families another agency leads are not counted.
    for i, family in enumerate(elsewhere):
        _insert_read(slow, agency, family.id, start + timedelta(minutes=50 + i))

    period = {"to": (timezone.localdate() + timedelta(days=2)).isoformat()}
    bursts = _unusual(client_for(b.manager.user), **period)["bursts"]
    assert len(bursts) == 1
    burst = bursts[0]
    assert (burst["user"], burst["agency_name"], burst["families"]) == (
        quick.id,
        b.early_help.name,
        4,
    )
    first, last = start + timedelta(minutes=0), start + timedelta(minutes=6)
    assert burst["started_at"][:16] == timezone.localtime(first).isoformat()[:16]
    assert burst["ended_at"][:16] == timezone.localtime(last).isoformat()[:16]
    settings.BURST_READ_FAMILIES = 4
    assert _unusual(client_for(b.manager.user), **period)["bursts"] == []


def test_the_unusual_access_page(accountable, client_for):
    b = accountable.borough
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    nurse = f.staff_make(agency=health, role=Role.PRACTITIONER)
    consent_services.emergency_access_grant(
        family_id=b.family.id, by=nurse, reason="Urgent health referral out of hours."
    )
    _read(client_for(nurse.user), b.family)
    _read(client_for(b.lead_practitioner.user), b.family)
    for reader in (b.manager.user, accountable.dpo.user):
        page = Client()
        page.force_login(reader)
        response = page.get("/audit/unusual/")
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="emergency-by-person"' in html and nurse.user.get_full_name() in html
        assert b.lead_practitioner.user.get_full_name() in html
        assert "No bursts of reads in the period." in html
        bad = page.get(
            "/audit/unusual/", {"start-day": "1", "start-month": "1", "start-year": "2020"}
        )
        assert bad.status_code == 400 and b'class="govuk-error-summary"' in bad.content
    page = Client()
    page.force_login(b.key_worker.user)
    assert page.get("/audit/unusual/").status_code == 403
