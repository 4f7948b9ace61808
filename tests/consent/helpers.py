"""Shared builders for the consent tests: a borough, families in each sharing situation, and a
module-scoped database fixture helper (data built once, every test in its own savepoint)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from tests import factories as f
from tests.factories import kept_db  # noqa: F401 - the consent tests import it from here

API = "/api/v1/"


@dataclass
class Town:
    """Agencies and people; the same shape as conftest's Borough, plus health."""

    early_help: object
    school: object
    police: object
    housing: object
    health: object
    key_worker: object
    manager: object
    lead_practitioner: object
    partner: object
    ended_partner: object
    outsider: object
    health_practitioner: object
    family: object = None


def town_build(tag: str = "") -> Town:
    """conftest's `borough`, built the same way (the school on the team under consent; police
    left), plus a health agency and practitioner off the team."""
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help" + tag)
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary" + tag)
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police" + tag)
    housing = f.agency_make(kind=AgencyKind.HOUSING, name="Housing" + tag)
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting" + tag)
    town = Town(
        early_help=early_help,
        school=school,
        police=police,
        housing=housing,
        health=health,
        key_worker=f.staff_make(agency=early_help, role=Role.KEY_WORKER),
        manager=f.staff_make(agency=early_help, role=Role.MANAGER),
        lead_practitioner=f.staff_make(agency=early_help, role=Role.PRACTITIONER),
        partner=f.staff_make(agency=school, role=Role.PRACTITIONER),
        ended_partner=f.staff_make(agency=police, role=Role.PRACTITIONER),
        outsider=f.staff_make(agency=housing, role=Role.PRACTITIONER),
        health_practitioner=f.staff_make(agency=health, role=Role.PRACTITIONER),
    )
    kw = town.key_worker
    family = f.family_make(by=kw)
    f.involvement_make(family=family, by=kw, agency=school, practitioner=town.partner.user)
    ended = f.involvement_make(family=family, by=kw, agency=police)
    f.consent_make(family=family, by=kw, agencies=[school, police])
    case_services.involvement_end(involvement=ended, by=kw)
    family.refresh_from_db()
    town.family = family
    return town


def record_ids(*, family, by, owner_partner, owner_lead) -> dict[str, int]:
    """A member, a need and two plan actions on `family`, for endpoints that name them."""
    member = f.PersonFactory(family=family)
    need = case_services.need_create(
        family=family, by=by, outcome=f.outcome("education"), descriptor="Attendance at 70%"
    )
    actions = {}
    for key, owner in (("action_partner", owner_partner), ("action_lead", owner_lead)):
        actions[key] = case_services.plan_action_create(
            family=family,
            by=by,
            description=f"Action for {owner.name}",
            owner_agency=owner,
            due_on=date(2026, 9, 1),
            needs=[need],
        ).id
    return {"member": member.id, "need": need.id, **actions}
