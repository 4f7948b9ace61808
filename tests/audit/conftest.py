"""The audit tests' world: the root conftest's borough in every relationship the access log
names, plus a second family, and what the routes of a family name (a member, a need, plan
actions, a team involvement, a consent basis, a decision awaiting its manager, an emergency
grant, a family summary).

Actors, each with the footing the access log must give them on the family:

- `key_worker`: the family's key worker (lead agency) → "key_worker";
- `manager`: a manager of the lead agency → "lead_agency";
- `partner`: the school's practitioner, on the team under the family's consent → "team" and
  that consent's id;
- `emergency`: a health visitor with live emergency access (view only) → "emergency";
- `outsider`: housing, never on the team: every family route is 404, a denial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from cases.models import Involvement
from consent import services as consent_services
from tests import factories as f

KEY_WORKER, MANAGER, PARTNER, EMERGENCY, OUTSIDER = (
    "key_worker",
    "manager",
    "partner",
    "emergency",
    "outsider",
)
ACTORS = (KEY_WORKER, MANAGER, PARTNER, EMERGENCY, OUTSIDER)
FOOTINGS = {
    KEY_WORKER: "key_worker",
    MANAGER: "lead_agency",
    PARTNER: "team",
    EMERGENCY: "emergency",
}


@dataclass
class AuditWorld:
    users: dict[str, object]
    staff: dict[str, object]
    ids: dict[str, int]


def audit_world_build() -> AuditWorld:
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    housing = f.agency_make(kind=AgencyKind.HOUSING, name="Housing")
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    kw = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    other_kw = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    manager = f.staff_make(agency=early_help, role=Role.MANAGER)
    partner = f.staff_make(agency=school, role=Role.PRACTITIONER)
    outsider = f.staff_make(agency=housing, role=Role.PRACTITIONER)
    health_visitor = f.staff_make(agency=health, role=Role.PRACTITIONER)

    family = f.family_make(by=kw)
    f.involvement_make(family=family, by=kw, agency=school, practitioner=partner.user)
    consent = f.consent_make(family=family, by=kw, agencies=[school])
    member = f.PersonFactory(family=family)
    need = case_services.need_create(
        family=family, by=kw, outcome=f.outcome("education"), descriptor="Attendance at 70%"
    )
    actions = {
        key: case_services.plan_action_create(
            family=family,
            by=kw,
            description=description,
            owner_agency=owner,
            due_on=date(2026, 9, 1),
            needs=[need],
        )
        for key, owner, description in (
            ("action_partner", school, "Attendance plan"),
            ("action_lead", early_help, "Parenting course referral"),
        )
    }
    decision = consent_services.sharing_basis_create(
        family=family,
        by=kw,
        basis="safeguarding",
        agencies=[school],
        justification="Risk of harm reported by the school.",
        decided_by_id=manager.user_id,
    )
    grant = consent_services.emergency_access_grant(
        family_id=family.id, by=health_visitor, reason="Urgent health referral out of hours."
    )
    from reports import services as report_services

    report = report_services.report_request(
        by=kw, kind="family_summary", format="pdf", family_id=family.id
    )
    involvement = Involvement.objects.get(family=family, agency=school, ended_on__isnull=True)

    # A second family: led by the same agency, another key worker; the school on its team
    # under consent too. The key worker sees it as the lead agency's, the partner as a team's.
    second = f.family_make(by=other_kw, name="Jones household", postcode="LS1 4AP")
    f.involvement_make(family=second, by=other_kw, agency=school, practitioner=partner.user)
    second_consent = f.consent_make(family=second, by=other_kw, agencies=[school])
    case_services.plan_action_create(
        family=second,
        by=other_kw,
        description="Homework club",
        owner_agency=school,
        due_on=date(2026, 10, 1),
        needs=[],
    )

    staff = {
        KEY_WORKER: kw,
        MANAGER: manager,
        PARTNER: partner,
        EMERGENCY: health_visitor,
        OUTSIDER: outsider,
    }
    return AuditWorld(
        users={actor: s.user for actor, s in staff.items()},
        staff=staff,
        ids={
            "family": family.id,
            "second": second.id,
            "member": member.id,
            "need": need.id,
            "involvement": involvement.id,
            "action_partner": actions["action_partner"].id,
            "action_lead": actions["action_lead"].id,
            "consent": consent.id,
            "second_consent": second_consent.id,
            "decision": decision.id,
            "grant": grant.id,
            "report": report.id,
            "school": school.id,
            "health": health.id,
        },
    )


@pytest.fixture(scope="module")
def audit_world(django_db_setup, django_db_blocker):
    """The world, built once for the module (rolled back at its end); each test's changes are
    rolled back after it."""
    with f.kept_db(django_db_blocker):
        yield audit_world_build()
