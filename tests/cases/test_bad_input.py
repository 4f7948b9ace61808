"""Bad input on every write endpoint, through HTTP with real token auth.

The API's conventions for errors: 400 names the field at fault; 412 stale If-Match; 428 If-Match
missing (decision 0004); 409 conflicting state; never 500 for bad input. And a refused request
writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from agencies.models import Agency, AgencyKind
from agencies.roles import Role
from cases import services
from cases.models import (
    Assessment,
    ChronologyEntry,
    Contact,
    Family,
    Intervention,
    Involvement,
    Need,
    Person,
    PlanAction,
)
from tests import factories as f

User = get_user_model()

HUGE = 10**30  # past any database integer
BIG = 2**63  # one past a signed 64-bit id


class Raw(str):
    """A request body sent as-is (not JSON-encoded)."""


@dataclass
class World:
    b: Any
    client_for: Callable
    today: Any
    tomorrow: Any
    yesterday: Any
    person: Person
    need: Need
    action: PlanAction
    restricted: Intervention
    own_intervention: Intervention
    lead_involvement: Involvement
    school_involvement: Involvement
    ended_involvement: Involvement
    other: Family
    other_person: Person
    other_need: Need
    other_action: PlanAction
    other_intervention: Intervention
    other_school_involvement: Involvement
    housing_key_worker: Any
    police_key_worker: Any
    school_admin: Any
    platform_admin: Any
    clients: dict = field(default_factory=dict)

    @property
    def family(self):
        return self.b.family

    @property
    def fam(self) -> str:
        return f"/api/v1/families/{self.b.family.id}/"

    def user(self, who: str):
        return {
            "kw": self.b.key_worker.user,
            "manager": self.b.manager.user,
            "partner": self.b.partner.user,
            "outsider": self.b.outsider.user,
            "school_admin": self.school_admin.user,
            "platform": self.platform_admin,
            "anon": None,
        }[who]

    def client(self, who: str):
        if who not in self.clients:
            self.clients[who] = self.client_for(self.user(who))
        return self.clients[who]


@pytest.fixture
def w(borough, client_for) -> World:
    b = borough
    today = timezone.localdate()
    person = f.PersonFactory(family=b.family)
    need = services.need_create(
        family=b.family, by=b.key_worker, outcome=f.outcome(), descriptor="Attendance below 90%"
    )
    action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Daily check-in",
        owner_agency=b.school,
        due_on=today + timedelta(days=14),
        needs=[need],
    )
    restricted = services.intervention_create(
        family=b.family,
        by=b.key_worker,
        kind="safeguarding",
        title="Restricted work",
        started_on=today - timedelta(days=10),
        visibility="restricted",
    )
    own_intervention = services.intervention_create(
        family=b.family, by=b.partner, kind="attendance", title="Attendance", started_on=today
    )
    involvements = Involvement.objects.filter(family=b.family)
    school_kw = f.staff_make(agency=b.school, role=Role.KEY_WORKER)
    # A second family the key worker can also see: its ids must still not be accepted on the first.
    other = f.family_make(by=b.key_worker, name="Other household", postcode="LS1 4AP")
    other_school = f.involvement_make(family=other, by=b.key_worker, agency=b.school)
    services.family_update(  # a lead-agency manager allocates the key worker
        family_id=other.id,
        by=b.manager,
        expected_version=other.version,
        key_worker_id=school_kw.user_id,
    )
    other_person = f.PersonFactory(family=other)
    other_need = services.need_create(
        family=other, by=b.key_worker, outcome=f.outcome("health"), descriptor="GP registration"
    )
    other_action = services.plan_action_create(
        family=other,
        by=b.key_worker,
        description="Register with GP",
        owner_agency=b.early_help,
        due_on=today + timedelta(days=7),
        needs=[other_need],
    )
    other_intervention = services.intervention_create(
        family=other, by=b.key_worker, kind="parenting", title="Parenting course", started_on=today
    )
    b.family.refresh_from_db()
    world = World(
        b=b,
        client_for=client_for,
        today=today,
        tomorrow=today + timedelta(days=1),
        yesterday=today - timedelta(days=1),
        person=person,
        need=need,
        action=action,
        restricted=restricted,
        own_intervention=own_intervention,
        lead_involvement=involvements.get(agency=b.early_help),
        school_involvement=involvements.get(agency=b.school, ended_on__isnull=True),
        ended_involvement=involvements.get(agency=b.police),
        other=other,
        other_person=other_person,
        other_need=other_need,
        other_action=other_action,
        other_intervention=other_intervention,
        other_school_involvement=other_school,
        housing_key_worker=f.staff_make(agency=b.housing, role=Role.KEY_WORKER),
        police_key_worker=f.staff_make(agency=b.police, role=Role.KEY_WORKER),
        school_admin=f.staff_make(agency=b.school, role=Role.AGENCY_ADMIN),
        platform_admin=User.objects.create_user(
            "platform", password=f.PASSWORD, is_staff=True, is_superuser=True
        ),
    )
    for who in ("kw", "manager", "partner", "outsider", "school_admin", "platform", "anon"):
        world.client(who)  # tokens now, not inside a case's rolled-back savepoint
    return world


MEMBER_FIELDS = (
    "id",
    "family_id",
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
)


def snapshot() -> dict:
    """Everything a write endpoint could change."""
    return {
        "counts": [
            m.objects.count()
            for m in (
                Family,
                Person,
                Involvement,
                Need,
                Assessment,
                PlanAction,
                Intervention,
                Contact,
                ChronologyEntry,
                Agency,
                User,
            )
        ],
        "family_versions": Family.objects.aggregate(v=Sum("version"))["v"],
        "action_versions": PlanAction.objects.aggregate(v=Sum("version"))["v"],
        "ended": sorted(Involvement.objects.filter(ended_on__isnull=False).values_list("id")),
        "needs": sorted(Need.objects.values_list("id", "status", "achieved_on")),
        "members": sorted(Person.objects.values_list(*MEMBER_FIELDS)),
    }


def send(w: World, who: str, method: str, path: str, body=None, headers=None):
    client = w.client(who)
    kwargs = {}
    if isinstance(body, Raw):
        kwargs = {"data": str(body), "content_type": "application/json"}
    elif body is not None:
        kwargs = {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method.lower())(path, **kwargs, **(headers or {}))


# A body, path or headers that is a callable is given the World.
C = Callable[[World], Any]


def fam(suffix: str = "") -> C:
    return lambda w: w.fam + suffix


def if_match(value: str) -> dict:
    return {"HTTP_IF_MATCH": value}


def current(w: World) -> dict:
    return if_match(f'"{w.family.version}"')


def action_current(w: World) -> dict:
    return if_match(f'"{w.action.version}"')


def need_current(w: World) -> dict:
    from cases.models import Need

    return if_match(f'"{Need.objects.get(id=w.need.id).version}"')


def contact(**over) -> C:
    def body(w):
        data = {
            "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
            "method": "phone",
            "summary": "Spoke to mum",
        }
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


def intervention(**over) -> C:
    def body(w):
        data = {"kind": "attendance", "title": "Attendance plan", "started_on": str(w.yesterday)}
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


def action_body(**over) -> C:
    def body(w):
        data = {
            "description": "Walk to school",
            "owner_agency": w.b.school.id,
            "due_on": str(w.tomorrow),
        }
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


def member(**over) -> C:
    def body(w):
        data = {"given_name": "Amy", "family_name": "Smith", "relationship": "child"}
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


def family_body(**over) -> C:
    def body(w):
        data = {"name": "Jones household", "postcode": "LS1 4AP"}
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


def staff_body(**over) -> C:
    def body(w):
        data = {
            "username": "newstarter",
            "password": "a-long-unusual-passphrase",
            "role": "manager",
        }
        data.update({k: (v(w) if callable(v) else v) for k, v in over.items()})
        return data

    return body


NOT_JSON = Raw("{'name': 'single quotes are not JSON'")


@dataclass(frozen=True)
class Endpoint:
    """One write endpoint: `ENDPOINT(body, status, field)` makes a case for it."""

    method: str
    path: Any  # str, or callable(World) -> str
    who: str
    headers: Any = None  # dict, or callable(World) -> dict

    def __call__(self, body, status, key=None, *, who=None, path=None, headers=None):
        return Case(
            who=who or self.who,
            method=self.method,
            path=path or self.path,
            body=body,
            status=status,
            key=key,
            headers=self.headers if headers is None else headers,
        )


@dataclass(frozen=True)
class Case:
    who: str
    method: str
    path: Any
    body: Any
    status: int
    key: str | None
    headers: Any


NO_IF_MATCH: dict = {}


def need_url(attr: str = "need") -> C:
    return lambda w: f"{w.fam}needs/{getattr(w, attr).id}/"


def member_url(attr: str = "person", family: str = "family") -> C:
    return lambda w: f"/api/v1/families/{getattr(w, family).id}/members/{getattr(w, attr).id}/"


def action_url(attr: str = "action") -> C:
    return lambda w: f"{w.fam}actions/{getattr(w, attr).id}/"


def team_url(attr: str, family: str = "family") -> C:
    return lambda w: f"/api/v1/families/{getattr(w, family).id}/team/{getattr(w, attr).id}/"


def school_staff(w: World) -> str:
    return f"/api/v1/agencies/{w.b.school.id}/staff/"


FAMILIES = Endpoint("POST", "/api/v1/families/", "kw")
FAMILY = Endpoint("PATCH", fam(), "kw", headers=current)
MEMBERS = Endpoint("POST", fam("members/"), "kw")
MEMBER = Endpoint("PATCH", member_url(), "kw")
TEAM = Endpoint("POST", fam("team/"), "kw")
LEAVE = Endpoint("DELETE", None, "kw")
NEEDS = Endpoint("POST", fam("needs/"), "partner")
NEED = Endpoint("PATCH", need_url(), "kw", headers=need_current)
ASSESSMENTS = Endpoint("POST", fam("assessments/"), "kw")
ACTIONS = Endpoint("POST", fam("actions/"), "partner")
ACTION = Endpoint("PATCH", action_url(), "kw", headers=action_current)
INTERVENTIONS = Endpoint("POST", fam("interventions/"), "partner")
CONTACTS = Endpoint("POST", fam("contacts/"), "partner")
AGENCIES = Endpoint("POST", "/api/v1/agencies/", "platform")
STAFF = Endpoint("POST", school_staff, "school_admin")
TOKEN = Endpoint("POST", "/api/v1/auth/token/", "anon")

NFE = "non_field_errors"
kw_id = {
    "practitioner": lambda w: w.b.lead_practitioner.user_id,
    "partner": lambda w: w.b.partner.user_id,
    "housing": lambda w: w.housing_key_worker.user_id,
    "police": lambda w: w.police_key_worker.user_id,
    "platform": lambda w: w.platform_admin.id,
}

CASES: dict[str, Case] = {
    # --- POST /families/ -----------------------------------------------------------------------
    "family: missing name": FAMILIES({"postcode": "LS1 4AP"}, 400, "name"),
    "family: missing postcode": FAMILIES({"name": "X"}, 400, "postcode"),
    "family: bad postcode": FAMILIES(family_body(postcode="nowhere"), 400, "postcode"),
    "family: postcode number": FAMILIES(family_body(postcode=12345), 400, "postcode"),
    "family: name list": FAMILIES(family_body(name=["X"]), 400, "name"),
    "family: name too long": FAMILIES(family_body(name="x" * 201), 400, "name"),
    "family: NUL in name": FAMILIES(family_body(name="a\x00b"), 400, "name"),
    "family: address object": FAMILIES(family_body(address={"a": 1}), 400, "address"),
    "family: key_worker string": FAMILIES(family_body(key_worker="abc"), 400, "key_worker"),
    "family: key_worker huge": FAMILIES(family_body(key_worker=HUGE), 400, "key_worker"),
    "family: key_worker 2**63": FAMILIES(family_body(key_worker=BIG), 400, "key_worker"),
    "family: key_worker unknown": FAMILIES(family_body(key_worker=999999), 400, "key_worker"),
    "family: key_worker a practitioner": FAMILIES(
        family_body(key_worker=kw_id["practitioner"]), 400, "key_worker"
    ),
    "family: key_worker from another agency": FAMILIES(
        family_body(key_worker=kw_id["housing"]), 400, "key_worker"
    ),
    "family: level_of_need 5": FAMILIES(family_body(level_of_need=5), 400, "level_of_need"),
    "family: level_of_need huge": FAMILIES(family_body(level_of_need=HUGE), 400, "level_of_need"),
    "family: level_of_need word": FAMILIES(family_body(level_of_need="high"), 400, "level_of_need"),
    "family: not JSON": FAMILIES(NOT_JSON, 400, "detail"),
    "family: JSON list": FAMILIES([], 400, NFE),
    "family: JSON string": FAMILIES("x", 400, NFE),
    "family: JSON null": FAMILIES(Raw("null"), 400),
    "family: partner may not open": FAMILIES(family_body(), 403, who="partner"),
    # --- PATCH /families/{id}/ -------------------------------------------------------------------
    "patch: If-Match missing": FAMILY({"name": "New"}, 428, headers=NO_IF_MATCH),
    "patch: If-Match stale": FAMILY({"name": "New"}, 412, headers=if_match('"999"')),
    "patch: If-Match zero": FAMILY({"name": "New"}, 412, headers=if_match('"0"')),
    "patch: If-Match garbage": FAMILY({"name": "New"}, 412, headers=if_match("abc")),
    "patch: If-Match huge": FAMILY({"name": "N"}, 412, headers=if_match('"99999999999999999"')),
    "patch: status bogus": FAMILY({"status": "bogus"}, 400, "status"),
    "patch: blank name": FAMILY({"name": ""}, 400, "name"),
    "patch: bad postcode": FAMILY({"postcode": "nowhere"}, 400, "postcode"),
    "patch: level_of_need 0": FAMILY({"level_of_need": 0}, 400, "level_of_need"),
    "patch: next_review_on 30 Feb": FAMILY({"next_review_on": "2025-02-30"}, 400, "next_review_on"),
    "patch: key_worker string": FAMILY({"key_worker": "abc"}, 400, "key_worker"),
    "patch: key_worker huge": FAMILY({"key_worker": HUGE}, 400, "key_worker"),
    "patch: key_worker 2**63": FAMILY({"key_worker": BIG}, 400, "key_worker"),
    "patch: key_worker a practitioner on the team": FAMILY(
        lambda w: {"key_worker": kw_id["partner"](w)}, 400, "key_worker"
    ),
    "patch: key_worker from an agency not on the team": FAMILY(
        lambda w: {"key_worker": kw_id["housing"](w)}, 400, "key_worker"
    ),
    "patch: key_worker from an agency that left": FAMILY(
        lambda w: {"key_worker": kw_id["police"](w)}, 400, "key_worker"
    ),
    "patch: key_worker platform admin": FAMILY(
        lambda w: {"key_worker": kw_id["platform"](w)}, 400, "key_worker"
    ),
    "patch: not JSON": FAMILY(NOT_JSON, 400, "detail"),
    "patch: JSON list": FAMILY([{"name": "x"}], 400, NFE),
    "patch: partner may not": FAMILY({"name": "x"}, 403, who="partner"),
    "patch: outsider cannot see": FAMILY({"name": "x"}, 404, who="outsider"),
    # --- POST members ---------------------------------------------------------------------------
    "member: empty": MEMBERS({}, 400, "given_name"),
    "member: relationship unknown": MEMBERS(member(relationship="uncle"), 400, "relationship"),
    "member: NHS number check digit": MEMBERS(member(nhs_number="9434765918"), 400, "nhs_number"),
    "member: NHS number letters": MEMBERS(member(nhs_number="NHS1234567"), 400, "nhs_number"),
    "member: NHS number list": MEMBERS(member(nhs_number=["9434765919"]), 400, "nhs_number"),
    "member: UPN bad": MEMBERS(member(upn="A123"), 400, "upn"),
    "member: NI bad prefix": MEMBERS(member(ni_number="BG123456C"), 400, "ni_number"),
    "member: born tomorrow": MEMBERS(
        member(date_of_birth=lambda w: str(w.tomorrow)), 400, "date_of_birth"
    ),
    "member: born in 3000": MEMBERS(member(date_of_birth="3000-01-01"), 400, "date_of_birth"),
    "member: birth date format": MEMBERS(member(date_of_birth="31/12/2010"), 400, "date_of_birth"),
    "member: birth date number": MEMBERS(member(date_of_birth=20101231), 400, "date_of_birth"),
    "member: name too long": MEMBERS(member(given_name="x" * 101), 400, "given_name"),
    "member: not JSON": MEMBERS(NOT_JSON, 400, "detail"),
    "member: JSON list": MEMBERS([{"given_name": "A"}], 400, NFE),
    "member: partner may not": MEMBERS(member(), 403, who="partner"),
    # --- PATCH members/{id} --------------------------------------------------------------------
    "member patch: unknown field": MEMBER({"date_of_brith": "2015-01-01"}, 400, "date_of_brith"),
    "member patch: unknown field beside a good one": MEMBER(
        {"given_name": "Amy", "nickname": "Ames"}, 400, "nickname"
    ),
    "member patch: id": MEMBER(lambda w: {"id": w.other_person.id}, 400, "id"),
    "member patch: family": MEMBER(lambda w: {"family": w.other.id}, 400, "family"),
    "member patch: blank given name": MEMBER({"given_name": ""}, 400, "given_name"),
    "member patch: spaces for a family name": MEMBER({"family_name": "   "}, 400, "family_name"),
    "member patch: null family name": MEMBER({"family_name": None}, 400, "family_name"),
    "member patch: name too long": MEMBER({"given_name": "x" * 101}, 400, "given_name"),
    "member patch: name number": MEMBER({"given_name": 7}, 400, "given_name"),
    "member patch: relationship unknown": MEMBER({"relationship": "uncle"}, 400, "relationship"),
    "member patch: relationship capitalised": MEMBER(
        {"relationship": "Child"}, 400, "relationship"
    ),
    "member patch: relationship null": MEMBER({"relationship": None}, 400, "relationship"),
    "member patch: NHS number check digit": MEMBER({"nhs_number": "9434765918"}, 400, "nhs_number"),
    "member patch: NHS number letters": MEMBER({"nhs_number": "NHS1234567"}, 400, "nhs_number"),
    "member patch: NHS number number": MEMBER({"nhs_number": 9434765919}, 400, "nhs_number"),
    "member patch: NHS number null": MEMBER({"nhs_number": None}, 400, "nhs_number"),
    "member patch: UPN bad": MEMBER({"upn": "A123"}, 400, "upn"),
    "member patch: NI bad prefix": MEMBER({"ni_number": "BG123456C"}, 400, "ni_number"),
    "member patch: born tomorrow": MEMBER(
        lambda w: {"date_of_birth": str(w.tomorrow)}, 400, "date_of_birth"
    ),
    "member patch: born before 1900": MEMBER({"date_of_birth": "1850-01-01"}, 400, "date_of_birth"),
    "member patch: birth date format": MEMBER(
        {"date_of_birth": "31/12/2010"}, 400, "date_of_birth"
    ),
    "member patch: birth date 30 Feb": MEMBER(
        {"date_of_birth": "2015-02-30"}, 400, "date_of_birth"
    ),
    "member patch: expected birth a year ahead": MEMBER(
        lambda w: {"expected_birth_on": str(w.today + timedelta(days=400))},
        400,
        "expected_birth_on",
    ),
    "member patch: expected birth a year ago": MEMBER(
        lambda w: {"expected_birth_on": str(w.today - timedelta(days=400))},
        400,
        "expected_birth_on",
    ),
    "member patch: parental responsibility text": MEMBER(
        {"parental_responsibility": "yes"}, 400, "parental_responsibility"
    ),
    "member patch: competent to consent null": MEMBER(
        {"competent_to_consent": None}, 400, "competent_to_consent"
    ),
    "member patch: two faults, both named": MEMBER(
        {"upn": "A123", "ni_number": "BG123456C"}, 400, "ni_number"
    ),
    "member patch: another family's member": MEMBER(
        {"given_name": "Amy"}, 404, path=member_url("other_person")
    ),
    "member patch: unknown member": MEMBER({"given_name": "Amy"}, 404, path=fam("members/999999/")),
    "member patch: huge id": MEMBER({"given_name": "Amy"}, 404, path=fam(f"members/{HUGE}/")),
    "member patch: id 2**63": MEMBER({"given_name": "Amy"}, 404, path=fam(f"members/{BIG}/")),
    "member patch: not JSON": MEMBER(NOT_JSON, 400, "detail"),
    "member patch: JSON list": MEMBER([{"given_name": "Amy"}], 400, NFE),
    "member patch: partner may not": MEMBER({"given_name": "Amy"}, 403, who="partner"),
    "member patch: outsider cannot see": MEMBER({"given_name": "Amy"}, 404, who="outsider"),
    # --- POST team -------------------------------------------------------------------------------
    "team: empty": TEAM({}, 400, "agency"),
    "team: agency unknown": TEAM({"agency": 999999}, 400, "agency"),
    "team: agency string": TEAM({"agency": "abc"}, 400, "agency"),
    "team: agency huge": TEAM({"agency": HUGE}, 400, "agency"),
    "team: agency 2**63": TEAM({"agency": BIG}, 400, "agency"),
    "team: agency already on": TEAM(lambda w: {"agency": w.b.school.id}, 400, "agency"),
    "team: lead agency again": TEAM(lambda w: {"agency": w.b.early_help.id}, 400, "agency"),
    "team: practitioner from another agency": TEAM(
        lambda w: {"agency": w.b.housing.id, "practitioner": w.b.partner.user_id},
        400,
        "practitioner",
    ),
    "team: practitioner is an agency admin": TEAM(
        lambda w: {"agency": w.b.school.id, "practitioner": w.school_admin.user_id},
        400,
        "practitioner",
    ),
    "team: practitioner string": TEAM(
        lambda w: {"agency": w.b.housing.id, "practitioner": "abc"}, 400, "practitioner"
    ),
    "team: practitioner huge": TEAM(
        lambda w: {"agency": w.b.housing.id, "practitioner": HUGE}, 400, "practitioner"
    ),
    "team: role too long": TEAM(
        lambda w: {"agency": w.b.housing.id, "role": "x" * 201}, 400, "role"
    ),
    "team: not JSON": TEAM(NOT_JSON, 400, "detail"),
    "team: JSON list": TEAM([1], 400, NFE),
    "team: partner may not": TEAM(lambda w: {"agency": w.b.housing.id}, 403, who="partner"),
    # --- DELETE team/{id} -----------------------------------------------------------------------
    "leave: already ended": LEAVE(None, 409, "detail", path=team_url("ended_involvement")),
    "leave: lead agency": LEAVE(None, 409, "detail", path=team_url("lead_involvement")),
    "leave: key worker's agency": LEAVE(
        None, 409, "detail", path=team_url("other_school_involvement", family="other")
    ),
    "leave: another family's involvement": LEAVE(
        None, 404, path=team_url("other_school_involvement")
    ),
    "leave: unknown": LEAVE(None, 404, path=fam("team/999999/")),
    "leave: huge id": LEAVE(None, 404, path=fam(f"team/{HUGE}/")),
    "leave: partner may not": LEAVE(None, 403, who="partner", path=team_url("school_involvement")),
    # --- POST needs ------------------------------------------------------------------------------
    "need: empty": NEEDS({}, 400, "outcome"),
    "need: unknown outcome": NEEDS({"outcome": "luck", "descriptor": "x"}, 400, "outcome"),
    "need: outcome number": NEEDS({"outcome": 3, "descriptor": "x"}, 400, "outcome"),
    "need: outcome list": NEEDS({"outcome": ["health"], "descriptor": "x"}, 400, "outcome"),
    "need: blank descriptor": NEEDS({"outcome": "health", "descriptor": ""}, 400, "descriptor"),
    "need: person from another family": NEEDS(
        lambda w: {"outcome": "health", "descriptor": "x", "person": w.other_person.id},
        400,
        "person",
    ),
    "need: person string": NEEDS(
        {"outcome": "health", "descriptor": "x", "person": "abc"}, 400, "person"
    ),
    "need: person huge": NEEDS(
        {"outcome": "health", "descriptor": "x", "person": HUGE}, 400, "person"
    ),
    "need: person 2**63": NEEDS(
        {"outcome": "health", "descriptor": "x", "person": BIG}, 400, "person"
    ),
    "need: not JSON": NEEDS(NOT_JSON, 400, "detail"),
    "need: JSON list": NEEDS([], 400, NFE),
    "need: outsider cannot see": NEEDS(
        {"outcome": "health", "descriptor": "x"}, 404, who="outsider"
    ),
    # --- PATCH needs/{id} -----------------------------------------------------------------------
    "need patch: empty": NEED({}, 400, "status"),
    "need patch: bogus status": NEED({"status": "x"}, 400, "status"),
    "need patch: achieved tomorrow": NEED(
        lambda w: {"status": "achieved", "achieved_on": str(w.tomorrow)}, 400, "achieved_on"
    ),
    "need patch: achieved before identified": NEED(
        lambda w: {"status": "achieved", "achieved_on": str(w.yesterday)}, 400, "achieved_on"
    ),
    "need patch: achieved date when not achieved": NEED(
        lambda w: {"status": "in_progress", "achieved_on": str(w.today)}, 400, "achieved_on"
    ),
    "need patch: achieved date garbage": NEED(
        {"status": "achieved", "achieved_on": "today"}, 400, "achieved_on"
    ),
    "need patch: another family's need": NEED(
        {"status": "closed"}, 404, who="kw", path=need_url("other_need")
    ),
    "need patch: huge id": NEED({"status": "closed"}, 404, path=fam(f"needs/{HUGE}/")),
    "need patch: not JSON": NEED(NOT_JSON, 400, "detail"),
    "need patch: JSON list": NEED([{"status": "closed"}], 400, NFE),
    # --- POST assessments ------------------------------------------------------------------------
    "assessment: empty": ASSESSMENTS({}, 400, "completed_on"),
    "assessment: completed tomorrow": ASSESSMENTS(
        lambda w: {"completed_on": str(w.tomorrow), "summary": "Done"}, 400, "completed_on"
    ),
    "assessment: completed garbage": ASSESSMENTS(
        {"completed_on": "yesterday", "summary": "Done"}, 400, "completed_on"
    ),
    "assessment: no summary": ASSESSMENTS(lambda w: {"completed_on": str(w.today)}, 400, "summary"),
    "assessment: not JSON": ASSESSMENTS(NOT_JSON, 400, "detail"),
    "assessment: JSON list": ASSESSMENTS([], 400, NFE),
    "assessment: partner may not": ASSESSMENTS(
        lambda w: {"completed_on": str(w.today), "summary": "Done"}, 403, who="partner"
    ),
    # --- POST actions ----------------------------------------------------------------------------
    "action: empty": ACTIONS({}, 400, "description"),
    "action: owner not on team": ACTIONS(
        action_body(owner_agency=lambda w: w.b.housing.id), 400, "owner_agency"
    ),
    "action: owner left the team": ACTIONS(
        action_body(owner_agency=lambda w: w.b.police.id), 400, "owner_agency"
    ),
    "action: owner unknown": ACTIONS(action_body(owner_agency=999999), 400, "owner_agency"),
    "action: owner string": ACTIONS(action_body(owner_agency="abc"), 400, "owner_agency"),
    "action: owner huge": ACTIONS(action_body(owner_agency=HUGE), 400, "owner_agency"),
    "action: need from another family": ACTIONS(
        action_body(needs=lambda w: [w.need.id, w.other_need.id]), 400, "needs"
    ),
    "action: needs not a list": ACTIONS(action_body(needs=lambda w: w.need.id), 400, "needs"),
    "action: needs strings": ACTIONS(action_body(needs=["abc"]), 400, "needs"),
    "action: needs huge": ACTIONS(action_body(needs=[HUGE]), 400, "needs"),
    "action: due garbage": ACTIONS(action_body(due_on="soon"), 400, "due_on"),
    "action: status bogus": ACTIONS(action_body(status="maybe"), 400, "status"),
    "action: not JSON": ACTIONS(NOT_JSON, 400, "detail"),
    "action: JSON list": ACTIONS([], 400, NFE),
    # --- PATCH actions/{id} ---------------------------------------------------------------------
    "action patch: If-Match missing": ACTION({"status": "done"}, 428, headers=NO_IF_MATCH),
    "action patch: If-Match stale": ACTION({"status": "done"}, 412, headers=if_match('"7"')),
    "action patch: need from another family": ACTION(
        lambda w: {"needs": [w.other_need.id]}, 400, "needs"
    ),
    "action patch: owner not on team": ACTION(
        lambda w: {"owner_agency": w.b.housing.id}, 400, "owner_agency"
    ),
    "action patch: status bogus": ACTION({"status": "maybe"}, 400, "status", who="partner"),
    "action patch: due garbage": ACTION({"due_on": 12}, 400, "due_on", who="partner"),
    "action patch: another family's action": ACTION(
        {"status": "done"}, 404, path=action_url("other_action")
    ),
    "action patch: huge id": ACTION({"status": "done"}, 404, path=fam(f"actions/{HUGE}/")),
    "action patch: not JSON": ACTION(NOT_JSON, 400, "detail"),
    "action patch: JSON list": ACTION([], 400, NFE),
    # --- POST interventions ----------------------------------------------------------------------
    "intervention: empty": INTERVENTIONS({}, 400, "kind"),
    "intervention: kind unknown": INTERVENTIONS(intervention(kind="magic"), 400, "kind"),
    "intervention: ends before it starts": INTERVENTIONS(
        intervention(started_on=lambda w: str(w.today), ended_on=lambda w: str(w.yesterday)),
        400,
        "ended_on",
    ),
    "intervention: person from another family": INTERVENTIONS(
        intervention(persons=lambda w: [w.person.id, w.other_person.id]), 400, "persons"
    ),
    "intervention: need from another family": INTERVENTIONS(
        intervention(needs=lambda w: [w.other_need.id]), 400, "needs"
    ),
    "intervention: persons string": INTERVENTIONS(intervention(persons="abc"), 400, "persons"),
    "intervention: persons huge": INTERVENTIONS(intervention(persons=[HUGE]), 400, "persons"),
    "intervention: persons 2**63": INTERVENTIONS(intervention(persons=[BIG]), 400, "persons"),
    "intervention: visibility unknown": INTERVENTIONS(
        intervention(visibility="secret"), 400, "visibility"
    ),
    "intervention: start date garbage": INTERVENTIONS(
        intervention(started_on="2025-13-01"), 400, "started_on"
    ),
    "intervention: title too long": INTERVENTIONS(intervention(title="x" * 201), 400, "title"),
    "intervention: not JSON": INTERVENTIONS(NOT_JSON, 400, "detail"),
    "intervention: JSON list": INTERVENTIONS([], 400, NFE),
    "intervention: family id huge": INTERVENTIONS(
        intervention(), 404, path=f"/api/v1/families/{HUGE}/interventions/"
    ),
    # --- POST contacts ---------------------------------------------------------------------------
    "contact: empty": CONTACTS({}, 400, "occurred_at"),
    "contact: method unknown": CONTACTS(contact(method="telepathy"), 400, "method"),
    "contact: time without offset": CONTACTS(
        contact(occurred_at="2025-01-05T10:00:00"), 400, "occurred_at"
    ),
    "contact: tomorrow": CONTACTS(
        contact(occurred_at=lambda w: (timezone.now() + timedelta(days=1)).isoformat()),
        400,
        "occurred_at",
    ),
    "contact: time garbage": CONTACTS(contact(occurred_at="at lunch"), 400, "occurred_at"),
    "contact: person from another family": CONTACTS(
        contact(persons=lambda w: [w.other_person.id]), 400, "persons"
    ),
    "contact: intervention from another family": CONTACTS(
        contact(intervention=lambda w: w.other_intervention.id), 400, "intervention"
    ),
    "contact: restricted intervention the partner cannot see": CONTACTS(
        contact(intervention=lambda w: w.restricted.id), 400, "intervention"
    ),
    "contact: intervention string": CONTACTS(contact(intervention="abc"), 400, "intervention"),
    "contact: intervention huge": CONTACTS(contact(intervention=HUGE), 400, "intervention"),
    "contact: persons dict": CONTACTS(contact(persons={"id": 1}), 400, "persons"),
    "contact: no summary": CONTACTS(contact(summary=""), 400, "summary"),
    "contact: visibility unknown": CONTACTS(contact(visibility="public"), 400, "visibility"),
    "contact: not JSON": CONTACTS(NOT_JSON, 400, "detail"),
    "contact: JSON list": CONTACTS([{"summary": "x"}], 400, NFE),
    "contact: outsider cannot see": CONTACTS(contact(), 404, who="outsider"),
    # --- POST /agencies/ -------------------------------------------------------------------------
    "agency: empty": AGENCIES({}, 400, "name"),
    "agency: kind unknown": AGENCIES({"name": "Spaceport", "kind": "space"}, 400, "kind"),
    "agency: duplicate name": AGENCIES({"name": "early HELP", "kind": "early_help"}, 400, "name"),
    "agency: name too long": AGENCIES({"name": "x" * 201, "kind": "other"}, 400, "name"),
    "agency: name list": AGENCIES({"name": ["x"], "kind": "other"}, 400, "name"),
    "agency: not JSON": AGENCIES(NOT_JSON, 400, "detail"),
    "agency: JSON list": AGENCIES([], 400, NFE),
    "agency: key worker may not": AGENCIES({"name": "Mine", "kind": "other"}, 403, who="kw"),
    # --- POST /agencies/{id}/staff/ --------------------------------------------------------------
    "staff: empty": STAFF({}, 400, "username", who="platform"),
    "staff: role unknown": STAFF(staff_body(role="overlord"), 400, "role", who="platform"),
    "staff: username with spaces": STAFF(staff_body(username="bad name!"), 400, "username"),
    "staff: username taken (any case)": STAFF(
        staff_body(username=lambda w: w.b.partner.user.username.upper()), 400, "username"
    ),
    "staff: username too long": STAFF(staff_body(username="u" * 151), 400, "username"),
    "staff: password too short": STAFF(staff_body(password="short"), 400, "password"),
    "staff: password common": STAFF(staff_body(password="password123"), 400, "password"),
    "staff: email bad": STAFF(staff_body(email="not-an-email"), 400, "email"),
    "staff: not JSON": STAFF(NOT_JSON, 400, "detail"),
    "staff: JSON list": STAFF([], 400, NFE),
    "staff: unknown agency": STAFF(
        staff_body(), 404, who="platform", path="/api/v1/agencies/999999/staff/"
    ),
    "staff: huge agency id": STAFF(
        staff_body(), 404, who="platform", path=f"/api/v1/agencies/{HUGE}/staff/"
    ),
    "staff: admin of another agency": STAFF(
        staff_body(), 403, path=lambda w: f"/api/v1/agencies/{w.b.housing.id}/staff/"
    ),
    "staff: key worker may not": STAFF(
        staff_body(), 403, who="kw", path=lambda w: f"/api/v1/agencies/{w.b.early_help.id}/staff/"
    ),
    # --- POST /auth/token/ -----------------------------------------------------------------------
    "token: empty": TOKEN({}, 400, "username"),
    "token: no password": TOKEN({"username": "x"}, 400, "password"),
    "token: username list": TOKEN({"username": ["x"], "password": "y"}, 400, "username"),
    "token: wrong password": TOKEN(
        lambda w: {"username": w.b.partner.user.username, "password": "nope"}, 400, NFE
    ),
    "token: not JSON": TOKEN(NOT_JSON, 400, "detail"),
    "token: JSON list": TOKEN([], 400, NFE),
}


GROUPS = sorted({name.split(":")[0] for name in CASES})


def run_case(w: World, case: Case) -> None:
    caches["throttle"].clear()  # the sign-in throttle counts in its shared store
    path = case.path(w) if callable(case.path) else case.path
    body = case.body(w) if callable(case.body) and not isinstance(case.body, Raw) else case.body
    headers = case.headers(w) if callable(case.headers) else case.headers
    before = snapshot()
    response = send(w, case.who, case.method, path, body, headers)
    assert response.status_code == case.status, (response.status_code, response.content[:500])
    data = response.json()
    assert isinstance(data, dict)
    if case.key is not None:
        assert case.key in data, data
        assert data[case.key], data
    assert snapshot() == before


@pytest.mark.parametrize("group", GROUPS)
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(w, subtests, group):
    """Each case of one endpoint in a savepoint rolled back after it (one world per endpoint)."""
    for name, case in CASES.items():
        if name.split(":")[0] != group:
            continue
        with subtests.test(msg=name), transaction.atomic():
            run_case(w, case)
            transaction.set_rollback(True)


def test_agency_names_that_share_a_long_prefix_are_both_created(w):
    admin = w.client("platform")
    first = admin.post("/api/v1/agencies/", {"name": "A" * 200, "kind": "other"}, format="json")
    assert first.status_code == 201, first.content
    second = admin.post(
        "/api/v1/agencies/", {"name": "A" * 199 + "B", "kind": "other"}, format="json"
    )
    assert second.status_code == 201, second.content
    assert second.json()["name"] == "A" * 199 + "B"


def test_wrong_content_type_is_415_not_500(w):
    response = w.client("partner").post(
        w.fam + "contacts/", data="summary=hello", content_type="text/plain"
    )
    assert response.status_code == 415


@pytest.mark.parametrize("family_id", [0, 2**63 - 1, BIG, 10**30])
def test_family_ids_beyond_any_row_are_404_not_500(w, family_id):
    """Ids in the URL that no family has, up to far past a 64-bit integer: 404 on every kind of
    family request (the detail, a list under it, a write), nothing written."""
    before = snapshot()
    base = f"/api/v1/families/{family_id}/"
    for method, path, body in [
        ("GET", base, None),
        ("GET", base + "chronology/", None),
        ("POST", base + "contacts/", contact()(w)),
    ]:
        response = send(w, "partner", method, path, body)
        assert response.status_code == 404, (method, path, response.status_code)
    assert snapshot() == before


def test_lone_surrogate_in_text_is_refused_not_500(w):
    body = '{"occurred_at": "2025-01-05T10:00:00+00:00", "method": "phone", "summary": "a\\ud800b"}'
    before = snapshot()
    response = w.client("partner").post(
        w.fam + "contacts/", data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert "summary" in response.json()
    assert snapshot() == before


def test_valid_writes_still_succeed(w):
    """The cases above are refused for their fault alone: the same bodies, fixed, are accepted."""
    kw, partner = w.client("kw"), w.client("partner")
    assert send(w, "kw", "POST", "/api/v1/families/", family_body()(w)).status_code == 201
    assert kw.patch(w.fam, {"name": "Renamed"}, format="json", **current(w)).status_code == 200
    assert send(w, "kw", "POST", w.fam + "members/", member()(w)).status_code == 201
    response = kw.patch(
        f"{w.fam}members/{w.person.id}/",
        {"given_name": "Amie", "nhs_number": "943 476 5919", "upn": "", "date_of_birth": None},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert kw.post(w.fam + "team/", {"agency": w.b.housing.id}, format="json").status_code == 201
    own_ids = {
        "persons": lambda w: [w.person.id],
        "intervention": lambda w: w.own_intervention.id,
    }
    response = send(w, "partner", "POST", w.fam + "contacts/", contact(**own_ids)(w))
    assert response.status_code == 201, response.content
    body = intervention(persons=lambda w: [w.person.id], needs=lambda w: [w.need.id])(w)
    response = send(w, "partner", "POST", w.fam + "interventions/", body)
    assert response.status_code == 201, response.content
    body = action_body(needs=lambda w: [w.need.id])(w)
    assert send(w, "partner", "POST", w.fam + "actions/", body).status_code == 201
    response = partner.patch(
        f"{w.fam}actions/{w.action.id}/", {"status": "done"}, format="json", **action_current(w)
    )
    assert response.status_code == 200, response.content
    response = kw.patch(
        f"{w.fam}needs/{w.need.id}/", {"status": "achieved"}, format="json", **need_current(w)
    )
    assert response.status_code == 200, response.content
    response = kw.post(
        w.fam + "assessments/", {"completed_on": str(w.today), "summary": "Done"}, format="json"
    )
    assert response.status_code == 201, response.content
    response = w.client("platform").post(
        "/api/v1/agencies/", {"name": "Food bank", "kind": "voluntary"}, format="json"
    )
    assert response.status_code == 201, response.content
    response = send(
        w, "school_admin", "POST", f"/api/v1/agencies/{w.b.school.id}/staff/", staff_body()(w)
    )
    assert response.status_code == 201, response.content
    response = kw.delete(f"{w.fam}team/{w.school_involvement.id}/")
    assert response.status_code == 200, response.content
    response = kw.delete(f"{w.fam}team/{w.school_involvement.id}/")
    assert response.status_code == 409, response.content
    caches["throttle"].clear()
    body = {"username": w.b.partner.user.username, "password": f.PASSWORD}
    response = send(w, "anon", "POST", "/api/v1/auth/token/", body)
    assert response.status_code == 200 and response.json()["token"], response.content


# --- fuzz: random JSON objects at the two busiest write endpoints ---------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=6,
)


def mostly(values: st.SearchStrategy) -> st.SearchStrategy:
    """Near-valid values three times in four, any JSON at all otherwise."""
    return st.one_of(values, values, values, json_values)


def plausible(
    required: dict[str, st.SearchStrategy], optional: dict[str, st.SearchStrategy]
) -> st.SearchStrategy:
    """Dicts with the required fields (usually), optional ones (sometimes) and stray keys."""
    known = st.fixed_dictionaries(
        {name: mostly(values) for name, values in required.items()},
        optional={name: mostly(values) for name, values in optional.items()},
    )
    dropped = st.sets(st.sampled_from(sorted(required)), max_size=1)  # sometimes one is missing
    stray = st.dictionaries(st.text(max_size=10), json_values, max_size=2)
    return st.tuples(known, dropped, stray).map(
        lambda parts: {
            **parts[2],
            **{k: v for k, v in parts[0].items() if k not in parts[1]},
        }
    )


def ids(own: list[int], foreign: list[int]) -> st.SearchStrategy:
    """This family's ids mostly; another family's, or any integer at all, sometimes."""
    return st.one_of(
        st.sampled_from(own), st.sampled_from(own), st.sampled_from(foreign)
    ) | st.integers(-5, 2**64)


# Text with something in it (blank text is one of the junk values `mostly` mixes in).
words = st.text(min_size=1, max_size=50).filter(str.strip) | st.sampled_from(["", "  ", "a\x00b"])


def _fuzz_counts():
    return (Contact.objects.count(), Intervention.objects.count(), ChronologyEntry.objects.count())


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_fuzz_contacts(w, data):
    persons = ids([w.person.id], [w.other_person.id])
    interventions = ids([w.own_intervention.id], [w.restricted.id, w.other_intervention.id])
    body = data.draw(
        plausible(
            {
                "occurred_at": st.datetimes(
                    min_value=datetime(2000, 1, 1),
                    max_value=datetime(2025, 1, 1),
                    timezones=st.timezones(),
                ).map(lambda d: d.isoformat())
                | st.sampled_from(["2025-01-05T10:00:00", "2999-01-01T00:00:00Z", "soon"])
                | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                "method": st.sampled_from(["phone", "home_visit", "meeting", "PHONE", ""]),
                "summary": words,
            },
            {
                "persons": st.lists(persons, max_size=3),
                "intervention": interventions | st.none(),
                "visibility": st.sampled_from(["team", "restricted", "public"]),
            },
        )
    )
    before = _fuzz_counts()
    response = send(w, "partner", "POST", w.fam + "contacts/", body)
    assert response.status_code < 500, (body, response.content[:300])
    event(f"contacts: {response.status_code}")
    if response.status_code == 201:
        assert _fuzz_counts() == (before[0] + 1, before[1], before[2] + 1)
    else:
        assert response.status_code == 400, (body, response.content[:300])
        assert isinstance(response.json(), dict) and response.json()
        assert _fuzz_counts() == before


@FUZZ
@given(data=st.data())
def test_fuzz_interventions(w, data):
    persons = ids([w.person.id], [w.other_person.id])
    needs = ids([w.need.id], [w.other_need.id])
    dates = (
        st.dates(min_value=date(2000, 1, 1), max_value=date(2025, 1, 1)).map(str)
        | st.dates().map(str)
        | st.sampled_from(["2025-02-30", "today", ""])
    )
    body = data.draw(
        plausible(
            {
                "kind": st.sampled_from(["attendance", "parenting", "safeguarding", "magic", ""]),
                "title": words,
                "started_on": dates,
            },
            {
                "ended_on": dates | st.none(),
                "needs": st.lists(needs, max_size=3),
                "persons": st.lists(persons, max_size=3),
                "outcome": st.text(max_size=20),
                "visibility": st.sampled_from(["team", "restricted", "public"]),
            },
        )
    )
    before = _fuzz_counts()
    response = send(w, "partner", "POST", w.fam + "interventions/", body)
    assert response.status_code < 500, (body, response.content[:300])
    event(f"interventions: {response.status_code}")
    if response.status_code == 201:
        assert _fuzz_counts() == (before[0], before[1] + 1, before[2] + 1)
    else:
        assert response.status_code == 400, (body, response.content[:300])
        assert isinstance(response.json(), dict) and response.json()
        assert _fuzz_counts() == before


def test_outsider_agency_kind_check(w):
    """Sanity: the housing agency really is off this family's team (the cases above rely on it)."""
    assert w.b.housing.kind == AgencyKind.HOUSING
    assert not Involvement.objects.filter(family=w.family, agency=w.b.housing).exists()
