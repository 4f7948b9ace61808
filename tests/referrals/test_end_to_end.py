"""A referral's whole way through the API, with real tokens and the real alert socket: a school
refers a family with consent; the front door sees the possible match with a closed family and
reopens it with a key worker; the school is alerted live with the decision and, once on the team
with a basis, sees the family; the referrer of another referral, signposted, sees only its
decision."""

from __future__ import annotations

import datetime

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from audit.models import AccessEvent
from cases import services as case_services
from cases.models import Family, Need, Person
from tests import factories as f
from tests.alerts.test_alerts_inprocess import _connect, ticket

pytestmark = pytest.mark.django_db(transaction=True)

REFERRALS = "/api/v1/referrals/"


def school_referral(given_on: str) -> dict:
    return {
        "household": {"name": "Smith household", "postcode": "sw1a 1aa"},
        "people": [
            {
                "given_name": "Amy",
                "family_name": "Smith",
                "date_of_birth": "2015-03-01",
                "relationship": "child",
            },
            {"given_name": "Dana", "family_name": "Smith", "relationship": "parent"},
        ],
        "concerns": [
            {"outcome": "education", "descriptor": "Attendance at 82% this term"},
            {"outcome": "family_relationships", "descriptor": "Conflict at home"},
        ],
        "consent": {"given_by": "Dana Smith (mother)", "method": "verbal", "given_on": given_on},
        "urgency": "routine",
    }


def police_referral() -> dict:
    return {
        "household": {"name": "Brown household", "postcode": "LS1 4AP"},
        "people": [{"given_name": "Kai", "family_name": "Brown", "relationship": "child"}],
        "concerns": [{"outcome": "crime", "descriptor": "Anti-social behaviour reports"}],
        "consent": None,
        "no_consent_reason": "Domestic incident: asking would put the mother at risk.",
        "urgency": "urgent",
    }


def test_a_referral_from_school_to_a_reopened_family(client_for):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police")
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    front_door = f.staff_make(agency=early_help, role=Role.PRACTITIONER)
    teacher = f.staff_make(agency=school, role=Role.PRACTITIONER)
    officer = f.staff_make(agency=police, role=Role.PRACTITIONER)
    # A family early help worked with and closed last year.
    known = f.family_make(by=key_worker, name="Smith household", postcode="SW1A 1AA")
    case_services.person_create(
        family=known,
        by=key_worker,
        given_name="Amy",
        family_name="Smith",
        date_of_birth=datetime.date(2015, 3, 1),
        relationship="child",
    )
    case_services.family_close(
        family_id=known.id, by=key_worker, reason="outcomes_met", outcome_summary="Plan met."
    )
    school_api, police_api = client_for(teacher.user), client_for(officer.user)
    door_api, kw_api = client_for(front_door.user), client_for(key_worker.user)
    today = timezone.localdate().isoformat()

    # 1. The school refers, with the family's consent.
    made = school_api.post(REFERRALS, school_referral(today), format="json")
    assert made.status_code == 201, made.content
    referral = made.json()
    assert referral["status"] == "submitted" and "possible_matches" not in referral
    # The referrer sees its referral, never the possible matches.
    seen = school_api.get(f"{REFERRALS}{referral['id']}/").json()
    assert "possible_matches" not in seen and seen["family"] is None
    assert known.reference not in str(seen)

    # 2. The other referral, by the police without consent (an urgent one: first in the queue).
    other = police_api.post(REFERRALS, police_referral(), format="json")
    assert other.status_code == 201, other.content
    other = other.json()

    # 3. The front door's queue: urgent first; the possible match is the closed family.
    queue = door_api.get(REFERRALS + "?status=submitted").json()["results"]
    assert [r["id"] for r in queue] == [other["id"], referral["id"]]
    detail = door_api.get(f"{REFERRALS}{referral['id']}/").json()
    match = detail["possible_matches"][0]
    assert (match["family"], match["reference"], match["status"]) == (
        known.id,
        known.reference,
        "closed",
    )
    assert match["re_referral"] is True and "same date of birth" in match["reasons"]
    shown = AccessEvent.objects.filter(object_type="referral_match", family_id=known.id)
    assert shown.filter(user_id=front_door.user_id, footing="front_door").exists()

    async def decide_while_the_school_listens():
        sock, connected, _ = await _connect(
            f"/ws/alerts/?ticket={await database_sync_to_async(ticket)(school_api)}"
        )
        assert connected
        decided = await database_sync_to_async(door_api.post)(
            f"{REFERRALS}{referral['id']}/decision/",
            {
                "decision": "accept",
                "reason": "Known family, attendance falling again: early help.",
                "family": known.id,
                "key_worker": key_worker.user_id,
            },
            format="json",
        )
        frame = await sock.receive_json_from(timeout=10)
        await sock.disconnect()
        return decided, frame

    # 4. The front door reopens the closed family with a key worker; the school hears at once.
    decided, frame = async_to_sync(decide_while_the_school_listens)()
    assert decided.status_code == 200, decided.content
    assert decided.json()["status"] == "accepted" and decided.json()["family"] == known.id
    alert = frame["alert"]
    assert frame["type"] == "alert" and alert["kind"] == "referral.decided"
    listed = school_api.get("/api/v1/alerts/").json()["results"]
    assert [(a["id"], a["kind"]) for a in listed] == [(alert["id"], "referral.decided")]
    assert alert["family"] is None and known.reference not in alert["summary"]
    assert referral["reference"] in alert["summary"] and "accepted" in alert["summary"]
    family = Family.objects.get(id=known.id)
    assert (family.status, family.key_worker_id) == ("open", key_worker.user_id)
    assert Need.objects.filter(family=family).count() == 2
    assert Person.objects.filter(family=family).count() == 2  # Amy known; Dana added
    # A second decision on the same referral: 409, nothing changed.
    again = door_api.post(
        f"{REFERRALS}{referral['id']}/decision/",
        {"decision": "signpost", "reason": "x"},
        format="json",
    )
    assert again.status_code == 409

    # 5. The school sees the decision, not the family, until it is on the team with a basis.
    seen = school_api.get(f"{REFERRALS}{referral['id']}/").json()
    assert seen["status"] == "accepted" and seen["family"] is None
    assert school_api.get(f"/api/v1/families/{known.id}/").status_code == 404
    base = f"/api/v1/families/{known.id}/"
    joined = kw_api.post(
        base + "team/", {"agency": school.id, "practitioner": teacher.user_id}, format="json"
    )
    assert joined.status_code == 201, joined.content
    father = kw_api.post(
        base + "members/",
        {
            "given_name": "Lee",
            "family_name": "Smith",
            "date_of_birth": "1984-06-02",
            "relationship": "parent",
            "parental_responsibility": True,
        },
        format="json",
    )
    assert father.status_code == 201, father.content
    basis = kw_api.post(
        base + "sharing/",
        {
            "basis": "consent",
            "agencies": [school.id],
            "purposes": ["team_sharing"],
            "given_by": [father.json()["id"]],
            "method": "written",
        },
        format="json",
    )
    assert basis.status_code == 201, basis.content
    assert school_api.get(base).status_code == 200
    assert school_api.get(f"{REFERRALS}{referral['id']}/").json()["family"] == known.id

    # 6. The police's referral is signposted: the police see only the decision.
    signposted = door_api.post(
        f"{REFERRALS}{other['id']}/decision/",
        {"decision": "signpost", "reason": "Youth service drop-in offered."},
        format="json",
    )
    assert signposted.status_code == 200, signposted.content
    theirs = police_api.get(REFERRALS).json()["results"]
    assert [r["id"] for r in theirs] == [other["id"]]  # not the school's referral
    assert theirs[0]["status"] == "signposted" and theirs[0]["family"] is None
    assert theirs[0]["decision_reason"] == "Youth service drop-in offered."
    detail = police_api.get(f"{REFERRALS}{other['id']}/").json()
    assert "possible_matches" not in detail and detail["family"] is None
    assert police_api.get(f"{REFERRALS}{referral['id']}/").status_code == 404
    assert police_api.get("/api/v1/families/").json()["results"] == []
    kinds = [a["kind"] for a in police_api.get("/api/v1/alerts/").json()["results"]]
    assert kinds == ["referral.decided"]
