"""Referrals through the API: who sees and does what (a generated matrix), bad input (each a
clear 4xx naming the field, nothing saved), constant statements for the list and the detail,
and the access events of the front door's screening."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from audit.models import AccessEvent
from cases import services as case_services
from cases.models import Family, Need, Person
from referrals import services
from referrals.models import Referral
from tests import factories as f
from tests.routes import routes_served

URL = "/api/v1/referrals/"

REFERRER = "referrer"  # school practitioner who made the referral
COLLEAGUE = "colleague"  # another school practitioner: the referrer's agency
POLICE = "police"  # another agency's practitioner
FRONT_DOOR = "front_door"  # early help practitioner
FD_MANAGER = "fd_manager"  # early help manager
FD_KEY_WORKER = "fd_key_worker"
AGENCY_ADMIN = "agency_admin"  # early help agency admin: no case data
DPO = "dpo"
ANONYMOUS = "anonymous"
ACTORS = (
    REFERRER,
    COLLEAGUE,
    POLICE,
    FRONT_DOOR,
    FD_MANAGER,
    FD_KEY_WORKER,
    AGENCY_ADMIN,
    DPO,
    ANONYMOUS,
)
CASE_STAFF = {REFERRER, COLLEAGUE, POLICE, FRONT_DOOR, FD_MANAGER, FD_KEY_WORKER}
FRONT = {FRONT_DOOR, FD_MANAGER, FD_KEY_WORKER}
SEES = FRONT | {REFERRER, COLLEAGUE}


def body(**changes) -> dict:
    data = {
        "household": {"name": "Smith household", "postcode": "SW1A 1AA"},
        "people": [
            {
                "given_name": "Amy",
                "family_name": "Smith",
                "date_of_birth": "2015-03-01",
                "relationship": "child",
                "upn": "",
            }
        ],
        "concerns": [{"outcome": "education", "descriptor": "Attendance at 80%"}],
        "consent": {
            "given_by": "Dana Smith",
            "method": "written",
            "given_on": timezone.localdate().isoformat(),
        },
        "urgency": "routine",
    }
    data.update(changes)
    return data


@dataclass
class World:
    staff: dict
    referral: Referral
    early_help: object
    csc_family: Family


@pytest.fixture
def world(db) -> World:
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police")
    csc = f.agency_make(kind=AgencyKind.CHILDRENS_SOCIAL_CARE, name="Social Care")
    staff = {
        REFERRER: f.staff_make(agency=school),
        COLLEAGUE: f.staff_make(agency=school),
        POLICE: f.staff_make(agency=police),
        FRONT_DOOR: f.staff_make(agency=early_help),
        FD_MANAGER: f.staff_make(agency=early_help, role=Role.MANAGER),
        FD_KEY_WORKER: f.staff_make(agency=early_help, role=Role.KEY_WORKER),
        AGENCY_ADMIN: f.staff_make(agency=early_help, role=Role.AGENCY_ADMIN),
        DPO: f.staff_make(agency=early_help, role=Role.DPO),
    }
    referral = _make(staff[REFERRER])
    # A family children's social care leads: the front door may not take it.
    kw = staff[FD_KEY_WORKER]
    led = f.family_make(by=kw, name="Jones household")
    case_services.family_step_up(
        family_id=led.id,
        by=staff[FD_MANAGER],
        to_agency=csc,
        reason="s47",
        key_worker_id=f.staff_make(agency=csc, role=Role.KEY_WORKER).user_id,
    )
    return World(staff, referral, early_help, led)


def _make(by, **changes):
    data = body(**changes)
    return services.referral_create(
        by=by,
        household=data["household"],
        people=data["people"],
        concerns=data["concerns"],
        consent=data["consent"],
        no_consent_reason=data.get("no_consent_reason", ""),
        urgency=data["urgency"],
    )


def expected(endpoint: str, actor: str) -> int:
    if actor == ANONYMOUS:
        return 401
    if endpoint == "list":
        return 200
    if endpoint == "create":
        return 201 if actor in CASE_STAFF else 403
    if actor not in SEES:
        return 404
    if endpoint == "detail":
        return 200
    return 200 if actor in FRONT else 403  # decision


ENDPOINTS = {
    "list": ("referral-list", "GET", lambda w: URL, None),
    "create": ("referral-list", "POST", lambda w: URL, lambda w: body()),
    "detail": ("referral-detail", "GET", lambda w: f"{URL}{w.referral.id}/", None),
    "decision": (
        "referral-decision",
        "POST",
        lambda w: f"{URL}{w.referral.id}/decision/",
        lambda w: {"decision": "signpost", "reason": "Parenting group offered."},
    ),
}
CASES = [pytest.param(e, a, id=f"{e} as {a}") for e, a in itertools.product(ENDPOINTS, ACTORS)]


def test_matrix_covers_every_route():
    from referrals import urls

    assert {(n, m) for n, m, _, _ in ENDPOINTS.values()} == routes_served(urls)


def snapshot():
    return (
        tuple(Referral.objects.order_by("id").values_list("id", "status")),
        Family.objects.count(),
        Person.objects.count(),
        Need.objects.count(),
    )


@pytest.mark.parametrize("endpoint, actor", CASES)
def test_matrix(endpoint, actor, world, client_for):
    _, method, path, make_body = ENDPOINTS[endpoint]
    user = None if actor == ANONYMOUS else world.staff[actor].user
    before = snapshot()
    kwargs = {"format": "json", "data": make_body(world)} if make_body else {}
    response = getattr(client_for(user), method.lower())(path(world), **kwargs)
    want = expected(endpoint, actor)
    assert response.status_code == want, response.content[:300]
    if want >= 400 or method == "GET":
        assert snapshot() == before
    if want == 404 and endpoint != "list":
        ghost = getattr(client_for(user), method.lower())(
            path(world).replace(f"/{world.referral.id}/", f"/{world.referral.id + 1000}/"),
            **kwargs,
        )
        assert (ghost.status_code, ghost.json()) == (404, response.json())
    if endpoint == "list" and want == 200:
        ids = [r["id"] for r in response.json()["results"]]
        assert ids == ([world.referral.id] if actor in SEES else [])
    if endpoint == "detail" and want == 200:
        assert ("possible_matches" in response.json()) is (actor in FRONT)


BAD = {
    "unknown outcome code": (
        dict(concerns=[{"outcome": "astrology", "descriptor": "x"}]),
        "concerns",
    ),
    "no consent and no reason": (dict(consent=None), "consent"),
    "consent and a reason": (dict(no_consent_reason="Risk to mother."), "consent"),
    "blank reason without consent": (dict(consent=None, no_consent_reason="  "), "consent"),
    "consent in the future": (
        dict(consent={"given_by": "Dana", "method": "verbal", "given_on": "2999-01-01"}),
        "consent",
    ),
    "consent without how": (
        dict(consent={"given_by": "Dana", "method": "telepathy", "given_on": "2026-01-01"}),
        "consent",
    ),
    "no people": (dict(people=[]), "people"),
    "bad NHS number": (
        dict(
            people=[
                {
                    "given_name": "A",
                    "family_name": "B",
                    "relationship": "child",
                    "nhs_number": "123",
                }
            ]
        ),
        "people",
    ),
    "no concerns": (dict(concerns=[]), "concerns"),
    "bad postcode": (dict(household={"name": "Smith", "postcode": "NOWHERE"}), "household"),
    "unknown urgency": (dict(urgency="whenever"), "urgency"),
    "household a list": (dict(household=["Smith"]), "household"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_referrals(name, world, client_for):
    changes, field = BAD[name]
    before = snapshot()
    response = client_for(world.staff[REFERRER].user).post(URL, body(**changes), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert snapshot() == before


def bad_decisions(w: World) -> dict:
    kw = w.staff[FD_KEY_WORKER].user_id
    return {
        "unknown decision": ({"decision": "maybe", "reason": "x"}, 400, "decision"),
        "no reason": ({"decision": "signpost"}, 400, "reason"),
        "accept without a key worker": ({"decision": "accept", "reason": "x"}, 400, "key_worker"),
        "signpost naming a family": (
            {"decision": "signpost", "reason": "x", "family": w.csc_family.id},
            400,
            "family",
        ),
        "join a family social care leads": (
            {"decision": "accept", "reason": "x", "family": w.csc_family.id, "key_worker": kw},
            400,
            "family",
        ),
        "join no such family": (
            {"decision": "accept", "reason": "x", "family": 10**12, "key_worker": kw},
            400,
            "family",
        ),
        "a key worker of another agency": (
            {"decision": "accept", "reason": "x", "key_worker": w.staff[POLICE].user_id},
            400,
            "key_worker",
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "unknown decision",
        "no reason",
        "accept without a key worker",
        "signpost naming a family",
        "join a family social care leads",
        "join no such family",
        "a key worker of another agency",
    ],
)
def test_bad_decisions(name, world, client_for):
    data, status, field = bad_decisions(world)[name]
    before = snapshot()
    response = client_for(world.staff[FD_MANAGER].user).post(
        f"{URL}{world.referral.id}/decision/", data, format="json"
    )
    assert response.status_code == status, response.content
    assert field in response.json(), response.json()
    assert snapshot() == before


def test_a_second_decision_is_a_conflict(world, client_for):
    door = client_for(world.staff[FRONT_DOOR].user)
    path = f"{URL}{world.referral.id}/decision/"
    first = door.post(
        path,
        {
            "decision": "accept",
            "reason": "New family",
            "key_worker": world.staff[FD_KEY_WORKER].user_id,
        },
        format="json",
    )
    assert first.status_code == 200, first.content
    family = Family.objects.get(id=first.json()["family"])
    assert (family.lead_agency_id, family.key_worker_id) == (
        world.early_help.id,
        world.staff[FD_KEY_WORKER].user_id,
    )
    assert [m.given_name for m in family.members.all()] == ["Amy"]
    before = snapshot()
    second = door.post(path, {"decision": "no_further_action", "reason": "x"}, format="json")
    assert second.status_code == 409 and second.json()["code"] == "conflict"
    assert snapshot() == before
    # the decision that opened the family is a write of it, on the front door's footing
    assert AccessEvent.objects.filter(
        family_id=family.id, object_type="referral", action="write", footing="front_door"
    ).exists()


def test_step_up_decision_and_referrer_alert(world, client_for):
    door = client_for(world.staff[FD_MANAGER].user)
    response = door.post(
        f"{URL}{world.referral.id}/decision/",
        {"decision": "step_up", "reason": "Disclosure: passed to social care today."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "stepped_up"
    alerts = client_for(world.staff[REFERRER].user).get("/api/v1/alerts/").json()["results"]
    assert [(a["kind"], a["family"]) for a in alerts] == [("referral.decided", None)]
    assert "stepped up to children's social care" in alerts[0]["summary"]
    # the referrer's colleague reads the decision too, not the alert (it is the referrer's)
    colleague = client_for(world.staff[COLLEAGUE].user)
    assert colleague.get("/api/v1/alerts/").json()["results"] == []
    assert colleague.get(f"{URL}{world.referral.id}/").json()["status"] == "stepped_up"


# --- statements: the same for a few rows as for many ---------------------------------------------


def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_list_statements_are_constant(world, client_for):
    door = client_for(world.staff[FRONT_DOOR].user)
    referrer = client_for(world.staff[REFERRER].user)
    small = (_count(door, URL), _count(referrer, URL))
    for _ in range(10):
        _make(world.staff[REFERRER])
    assert (_count(door, URL), _count(referrer, URL)) == small


def test_detail_statements_are_constant(world, client_for):
    """The front door's detail, with its possible matches: as many statements for one known
    family as for eight."""
    door = client_for(world.staff[FRONT_DOOR].user)
    kw = world.staff[FD_KEY_WORKER]
    path = f"{URL}{world.referral.id}/"

    def known(n):
        for _ in range(n):
            family = f.family_make(by=kw, name="Smith household", postcode="SW1A 1AA")
            f.PersonFactory(family=family, given_name="Amy", date_of_birth=date(2015, 3, 1))

    known(1)
    small = _count(door, path)
    assert len(door.get(path).json()["possible_matches"]) == 1
    known(7)
    assert _count(door, path) == small
    matches = door.get(path).json()["possible_matches"]
    assert len(matches) == 8 and all(m["score"] >= 30 for m in matches)
    shown = AccessEvent.objects.filter(object_type="referral_match", action="list")
    assert shown.values("family_id").distinct().count() == 8
