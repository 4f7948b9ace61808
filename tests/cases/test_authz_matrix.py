"""Authorization matrix for every endpoint of the family record, generated from tables.

Rows are (endpoint, method); columns are the actors the access rule knows. The expected status
of each cell is derived from the rule, not written by hand:

- anonymous → 401, on every endpoint (the outcome framework too);
- not visible → 404, with the same body as for a family that does not exist;
- visible but not allowed → 403, and nothing changes;
- allowed → the endpoint's 2xx, and the write happens.

Permissions (cases/access.py, cases/api.py): "view" is any actor who sees the family; "record"
(needs, actions, interventions, contacts) any case-role staff of a visible agency; "change"
(family, members and a member's details, team, assessments) the key worker or a lead-agency
key_worker/manager; a plan action may also be changed by its owner agency.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model

from agencies.models import Agency, AgencyKind
from agencies.roles import Role
from cases import services, urls
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
from tests.routes import routes_served

API = "/api/v1/"

# --- actors ------------------------------------------------------------------------------------

KEY_WORKER = "key_worker"  # lead-agency key worker, the family's key worker
MANAGER = "manager"  # lead-agency manager
LEAD_PRACTITIONER = "lead_practitioner"  # lead-agency practitioner
PARTNER = "partner"  # school practitioner, on the team
ENDED_PARTNER = "ended_partner"  # police practitioner, involvement ended
OUTSIDER = "outsider"  # housing practitioner, never on the team
AGENCY_ADMIN = "agency_admin"  # agency_admin of the lead agency
SUPERUSER = "superuser"  # is_superuser + is_staff, no StaffMember
DPO = "dpo"  # data protection officer of the lead agency: reads the access log, no case data
ANONYMOUS = "anonymous"

ACTORS = (
    KEY_WORKER,
    MANAGER,
    LEAD_PRACTITIONER,
    PARTNER,
    ENDED_PARTNER,
    OUTSIDER,
    AGENCY_ADMIN,
    SUPERUSER,
    DPO,
    ANONYMOUS,
)
VISIBLE = frozenset({KEY_WORKER, MANAGER, LEAD_PRACTITIONER, PARTNER})
NOT_VISIBLE = frozenset(ACTORS) - VISIBLE - {ANONYMOUS}
RECORDERS = VISIBLE  # every visible actor here holds a case role
CHANGERS = frozenset({KEY_WORKER, MANAGER})
FAMILY_CREATORS = frozenset({KEY_WORKER, MANAGER})  # key_worker/manager of an early_help agency
EVERYONE = frozenset(ACTORS)


@dataclass(frozen=True)
class Rule:
    """Who gets past authentication, who sees the family (None: not family-scoped), who may act."""

    allowed: frozenset[str]
    visible: frozenset[str] | None = VISIBLE
    public: bool = False

    def expected(self, actor: str, success: int) -> int:
        if actor == ANONYMOUS and not self.public:
            return 401
        if self.visible is not None and actor not in self.visible:
            return 404
        return success if actor in self.allowed else 403


PUBLIC = Rule(allowed=EVERYONE, visible=None, public=True)
AUTHENTICATED = Rule(allowed=EVERYONE - {ANONYMOUS}, visible=None)
CREATE_FAMILY = Rule(allowed=FAMILY_CREATORS, visible=None)
VIEW = Rule(allowed=VISIBLE)
RECORD = Rule(allowed=RECORDERS)
CHANGE = Rule(allowed=CHANGERS)
CHANGE_OR_PARTNER_OWNER = Rule(allowed=CHANGERS | {PARTNER})  # action owned by the school
CHANGE_OR_LEAD_OWNER = Rule(allowed=CHANGERS | {LEAD_PRACTITIONER})  # action owned by the lead
# The lifecycle (cases/lifecycle.py; every state in tests/cases/test_lifecycle.py): the family
# here is open and led by early help. Close and reopen: the key worker and lead managers (reopen
# of an open family: 409); a step: a lead manager (step-down from early help: 409).
CLOSE_OR_REOPEN = Rule(allowed=frozenset({KEY_WORKER, MANAGER}))
STEP = Rule(allowed=frozenset({MANAGER}))


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    borough: object
    users: dict[str, object]
    ids: dict[str, int]
    family: Family
    action_partner: PlanAction
    action_lead: PlanAction


@pytest.fixture
def world(borough) -> World:
    b = borough
    kw = b.key_worker
    agency_admin = f.staff_make(agency=b.early_help, role=Role.AGENCY_ADMIN)
    dpo = f.staff_make(agency=b.early_help, role=Role.DPO)
    superuser = get_user_model().objects.create_superuser(
        username="platform-root", email="root@example.org", password=f.PASSWORD
    )
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    csc = f.agency_make(kind=AgencyKind.CHILDRENS_SOCIAL_CARE, name="Children's Social Care")
    member = f.PersonFactory(family=b.family)
    need = services.need_create(
        family=b.family, by=kw, outcome=f.outcome("education"), descriptor="Attendance at 70%"
    )
    action_partner = services.plan_action_create(
        family=b.family,
        by=kw,
        description="Attendance plan",
        owner_agency=b.school,
        due_on=date(2026, 9, 1),
        needs=[need],
    )
    action_lead = services.plan_action_create(
        family=b.family,
        by=kw,
        description="Parenting course referral",
        owner_agency=b.early_help,
        due_on=date(2026, 9, 1),
        needs=[need],
    )
    school_involvement = Involvement.objects.get(
        family=b.family, agency=b.school, ended_on__isnull=True
    )
    users = {
        KEY_WORKER: kw.user,
        MANAGER: b.manager.user,
        LEAD_PRACTITIONER: b.lead_practitioner.user,
        PARTNER: b.partner.user,
        ENDED_PARTNER: b.ended_partner.user,
        OUTSIDER: b.outsider.user,
        AGENCY_ADMIN: agency_admin.user,
        SUPERUSER: superuser,
        DPO: dpo.user,
        ANONYMOUS: None,
    }
    ids = {
        "family": b.family.id,
        "need": need.id,
        "member": member.id,
        "involvement": school_involvement.id,
        "action_partner": action_partner.id,
        "action_lead": action_lead.id,
        "school": b.school.id,
        "health": health.id,
        "csc": csc.id,
    }
    b.family.refresh_from_db()
    return World(
        borough=b,
        users=users,
        ids=ids,
        family=b.family,
        action_partner=action_partner,
        action_lead=action_lead,
    )


def snapshot(world: World) -> tuple:
    """Everything a write could change; a denied request must leave it equal."""
    family = Family.objects.get(id=world.family.id)
    return (
        Family.objects.count(),
        family.version,
        family.level_of_need,
        tuple(
            Person.objects.order_by("id").values_list(
                "id", "given_name", "family_name", "date_of_birth", "relationship"
            )
        ),
        tuple(Involvement.objects.order_by("id").values_list("id", "ended_on")),
        tuple(Need.objects.order_by("id").values_list("id", "status")),
        Assessment.objects.count(),
        tuple(PlanAction.objects.order_by("id").values_list("id", "version", "status")),
        Intervention.objects.count(),
        Contact.objects.count(),
        ChronologyEntry.objects.count(),
    )


# --- the endpoint table ------------------------------------------------------------------------


def _csc_id(w) -> int:
    """The world's children's social care agency; a world of another matrix that reuses this
    table (tests/consent/test_consent_matrix.py) has none: one is found or made in the test's
    own transaction."""
    if "csc" in w.ids:
        return w.ids["csc"]
    found = Agency.objects.filter(kind=AgencyKind.CHILDRENS_SOCIAL_CARE).first()
    return (found or f.agency_make(kind=AgencyKind.CHILDRENS_SOCIAL_CARE)).id


def _family_if_match(w: World) -> dict:
    return {"HTTP_IF_MATCH": f'"{Family.objects.get(id=w.family.id).version}"'}


def _need_if_match(w: World) -> dict:
    return {"HTTP_IF_MATCH": f'"{Need.objects.get(id=w.ids["need"]).version}"'}


def _action_if_match(key: str):
    def headers(w: World) -> dict:
        return {"HTTP_IF_MATCH": f'"{PlanAction.objects.get(id=w.ids[key]).version}"'}

    return headers


@dataclass(frozen=True)
class Endpoint:
    name: str  # route name in cases/urls.py
    method: str
    path: str  # formatted with World.ids
    rule: Rule
    success: int = 200
    body: object = None  # callable(World) -> dict
    headers: object = None  # callable(World) -> dict
    variant: str = ""

    @property
    def id(self) -> str:
        suffix = f"[{self.variant}]" if self.variant else ""
        return f"{self.method} {self.name}{suffix}"


F = "families/{family}/"
ENDPOINTS = (
    Endpoint("family-list", "GET", "families/", AUTHENTICATED),
    Endpoint(
        "family-list",
        "POST",
        "families/",
        CREATE_FAMILY,
        201,
        body=lambda w: {"name": "Jones household", "postcode": "ls1 4ap"},
    ),
    Endpoint("family-detail", "GET", F, VIEW),
    Endpoint(
        "family-detail",
        "PATCH",
        F,
        CHANGE,
        body=lambda w: {"level_of_need": 3},
        headers=_family_if_match,
    ),
    Endpoint("member-list", "GET", F + "members/", VIEW),
    Endpoint(
        "member-list",
        "POST",
        F + "members/",
        CHANGE,
        201,
        body=lambda w: {
            "given_name": "Amy",
            "family_name": "Smith",
            "date_of_birth": "2015-03-01",
            "relationship": "child",
        },
    ),
    Endpoint(
        "member-detail",
        "PATCH",
        F + "members/{member}/",
        CHANGE,
        body=lambda w: {"given_name": "Rowan", "date_of_birth": "2016-04-02"},
    ),
    Endpoint("team-list", "GET", F + "team/", VIEW),
    Endpoint(
        "team-list",
        "POST",
        F + "team/",
        CHANGE,
        201,
        body=lambda w: {"agency": w.ids["health"], "role": "Health visiting"},
    ),
    Endpoint("team-detail", "DELETE", F + "team/{involvement}/", CHANGE),
    Endpoint("need-list", "GET", F + "needs/", VIEW),
    Endpoint(
        "need-list",
        "POST",
        F + "needs/",
        RECORD,
        201,
        body=lambda w: {"outcome": "health", "descriptor": "Missed dental appointments"},
    ),
    Endpoint("need-detail", "GET", F + "needs/{need}/", VIEW),
    Endpoint(
        "need-detail",
        "PATCH",
        F + "needs/{need}/",
        CHANGE,  # a need's status: the key worker and the lead agency
        body=lambda w: {"status": "in_progress"},
        headers=_need_if_match,
    ),
    Endpoint("assessment-list", "GET", F + "assessments/", VIEW),
    Endpoint(
        "assessment-list",
        "POST",
        F + "assessments/",
        CHANGE,
        201,
        body=lambda w: {"completed_on": "2025-11-03", "summary": "Whole-family assessment."},
    ),
    Endpoint("action-list", "GET", F + "actions/", VIEW),
    Endpoint(
        "action-list",
        "POST",
        F + "actions/",
        RECORD,
        201,
        body=lambda w: {
            "description": "Weekly check-in",
            "owner_agency": w.ids["school"],
            "due_on": "2026-10-01",
            "needs": [w.ids["need"]],
        },
    ),
    Endpoint("action-detail", "GET", F + "actions/{action_partner}/", VIEW),
    Endpoint(
        "action-detail",
        "PATCH",
        F + "actions/{action_partner}/",
        CHANGE_OR_PARTNER_OWNER,
        body=lambda w: {"status": "in_progress"},
        headers=_action_if_match("action_partner"),
        variant="owned by partner",
    ),
    Endpoint(
        "action-detail",
        "PATCH",
        F + "actions/{action_lead}/",
        CHANGE_OR_LEAD_OWNER,
        body=lambda w: {"status": "done"},
        headers=_action_if_match("action_lead"),
        variant="owned by lead agency",
    ),
    Endpoint("intervention-list", "GET", F + "interventions/", VIEW),
    Endpoint(
        "intervention-list",
        "POST",
        F + "interventions/",
        RECORD,
        201,
        body=lambda w: {
            "kind": "attendance",
            "title": "Morning routine support",
            "started_on": "2025-10-06",
            "needs": [w.ids["need"]],
            "persons": [w.ids["member"]],
        },
    ),
    Endpoint("contact-list", "GET", F + "contacts/", VIEW),
    Endpoint(
        "contact-list",
        "POST",
        F + "contacts/",
        RECORD,
        201,
        body=lambda w: {
            "occurred_at": "2025-10-06T09:30:00+01:00",
            "method": "phone",
            "summary": "Spoke to mum about mornings.",
            "persons": [w.ids["member"]],
        },
    ),
    Endpoint("chronology", "GET", F + "chronology/", VIEW),
    Endpoint("family-history", "GET", F + "history/", VIEW),
    Endpoint("outcome-list", "GET", "outcomes/", AUTHENTICATED),
    Endpoint("review-list", "GET", F + "reviews/", VIEW),
    Endpoint(
        "review-list",
        "POST",
        F + "reviews/",
        CHANGE,
        201,
        body=lambda w: {
            "held_on": str(date.today() - timedelta(days=1)),
            "attendees": [w.ids["school"]],
            "decisions": "Attendance plan continues.",
            "next_review_on": str(date.today() + timedelta(days=42)),
        },
    ),
    Endpoint(
        "family-close",
        "POST",
        F + "close/",
        CLOSE_OR_REOPEN,
        body=lambda w: {"reason": "outcomes_met", "outcome_summary": "Plan complete."},
    ),
    Endpoint(
        "family-reopen", "POST", F + "reopen/", CLOSE_OR_REOPEN, 409, body=lambda w: {"reason": "x"}
    ),
    Endpoint(
        "family-step-up",
        "POST",
        F + "step-up/",
        STEP,
        body=lambda w: {"to_agency": _csc_id(w), "reason": "Risk of significant harm."},
    ),
    Endpoint(
        "family-step-down",
        "POST",
        F + "step-down/",
        STEP,
        409,
        body=lambda w: {"to_agency": _csc_id(w), "reason": "x", "key_worker": 1},
    ),
)

CASES = [
    pytest.param(endpoint, actor, id=f"{endpoint.id} as {actor}")
    for endpoint, actor in itertools.product(ENDPOINTS, ACTORS)
]


def _call(client, endpoint: Endpoint, world: World, ids: dict | None = None):
    url = API + endpoint.path.format(**(ids or world.ids))
    kwargs = dict(endpoint.headers(world)) if endpoint.headers else {}
    if endpoint.body is not None:
        kwargs["data"] = endpoint.body(world)
        kwargs["format"] = "json"
    return getattr(client, endpoint.method.lower())(url, **kwargs)


@pytest.mark.parametrize("endpoint, actor", CASES)
def test_matrix(endpoint: Endpoint, actor: str, world: World, client_for):
    client = client_for(world.users[actor])
    expected = endpoint.rule.expected(actor, endpoint.success)
    before = snapshot(world)

    response = _call(client, endpoint, world)

    assert response.status_code == expected, (response.status_code, response.content[:300])
    after = snapshot(world)
    if expected >= 400:
        assert after == before, "a refused request changed the record"
    elif endpoint.method != "GET":
        assert after != before, "an accepted write changed nothing"
    if expected == 404:
        # Existence is not disclosed: the same answer as for a family that does not exist.
        missing = dict(world.ids, family=Family.objects.order_by("-id").first().id + 1000)
        ghost = _call(client, endpoint, world, ids=missing)
        assert (ghost.status_code, ghost.json()) == (404, response.json())
    if expected == 401:
        assert response.json()["code"] == "not_authenticated"
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


def test_matrix_covers_every_route_and_method():
    """The table above names every (route, method) that cases/urls.py serves, and no other."""
    tabled = {(e.name, e.method) for e in ENDPOINTS}
    assert tabled == routes_served(urls)
    assert len(CASES) == len(ENDPOINTS) * len(ACTORS)


# --- no leaks in lists ---------------------------------------------------------------------------


@pytest.mark.parametrize("actor", sorted(NOT_VISIBLE))
def test_not_visible_actor_gets_no_case_data_in_families_list(actor, world, client_for):
    client = client_for(world.users[actor])
    for query in ("", f"?q={world.family.reference}", "?status=open", "?key_worker=me"):
        response = client.get(API + "families/" + query)
        assert response.status_code == 200
        assert response.json()["results"] == [], query


def test_superuser_sees_no_case_data(world, client_for):
    su = world.users[SUPERUSER]
    assert su.is_superuser and su.is_staff and not hasattr(su, "staff")
    client = client_for(su)
    assert client.get(API + "families/").json()["results"] == []
    for path in (
        "",
        "members/",
        "needs/",
        "chronology/",
        "interventions/",
        "contacts/",
        "history/",
    ):
        url = API + F.format(**world.ids) + path
        assert client.get(url).status_code == 404, url


def test_visible_actors_list_the_family(world, client_for):
    for actor in sorted(VISIBLE):
        results = client_for(world.users[actor]).get(API + "families/").json()["results"]
        assert [r["id"] for r in results] == [world.family.id], actor


# --- restricted entries --------------------------------------------------------------------------

INTERVENTION = {
    "kind": "domestic_abuse",
    "title": "IDVA safety planning",
    "started_on": "2025-09-01",
    "visibility": "restricted",
}
CONTACT = {
    "occurred_at": "2025-09-02T14:00:00+01:00",
    "method": "phone",
    "summary": "Disclosure discussed with mum.",
    "visibility": "restricted",
}


def _record_restricted(client, world) -> dict[str, int]:
    base = API + F.format(**world.ids)
    intervention = client.post(base + "interventions/", INTERVENTION, format="json")
    assert intervention.status_code == 201, intervention.json()
    contact = client.post(base + "contacts/", CONTACT, format="json")
    assert contact.status_code == 201, contact.json()
    return {"intervention": intervention.json()["id"], "contact": contact.json()["id"]}


def _seen_by(client, world) -> dict[str, set[int]]:
    base = API + F.format(**world.ids)
    interventions = client.get(base + "interventions/")
    contacts = client.get(base + "contacts/")
    chronology = client.get(base + "chronology/?page_size=200")
    assert {r.status_code for r in (interventions, contacts, chronology)} == {200}
    entries = chronology.json()["results"]
    return {
        "intervention": {r["id"] for r in interventions.json()["results"]},
        "contact": {r["id"] for r in contacts.json()["results"]},
        "chronology intervention": {
            e["object_id"] for e in entries if e["type"] == "intervention.recorded"
        },
        "chronology contact": {e["object_id"] for e in entries if e["type"] == "contact.recorded"},
    }


def _assert_sees(seen: dict[str, set[int]], made: dict[str, int], visible: bool, who: str):
    for kind, object_id in made.items():
        for where in (kind, f"chronology {kind}"):
            assert (object_id in seen[where]) is visible, (who, where)


# Restricted entries: the recording agency, the key worker and lead-agency managers only.
RESTRICTED_CASES = [
    # recorded by the lead agency (the key worker)
    (KEY_WORKER, PARTNER, False),
    (KEY_WORKER, KEY_WORKER, True),
    (KEY_WORKER, MANAGER, True),
    (KEY_WORKER, LEAD_PRACTITIONER, True),  # same (recording) agency
    # recorded by the partner
    (PARTNER, PARTNER, True),
    (PARTNER, KEY_WORKER, True),
    (PARTNER, MANAGER, True),
    (PARTNER, LEAD_PRACTITIONER, False),
]


@pytest.mark.parametrize(
    "author, reader, visible",
    [pytest.param(*c, id=f"by {c[0]} read by {c[1]}") for c in RESTRICTED_CASES],
)
def test_restricted_entries(author, reader, visible, world, client_for):
    made = _record_restricted(client_for(world.users[author]), world)
    seen = _seen_by(client_for(world.users[reader]), world)
    _assert_sees(seen, made, visible, reader)


def test_restricted_entries_leave_team_entries_visible(world, client_for):
    """The partner still sees the lead agency's team-visible work alongside the hidden entries."""
    kw = client_for(world.users[KEY_WORKER])
    hidden = _record_restricted(kw, world)
    base = API + F.format(**world.ids)
    shown = kw.post(base + "contacts/", dict(CONTACT, visibility="team"), format="json").json()
    seen = _seen_by(client_for(world.users[PARTNER]), world)
    assert shown["id"] in seen["contact"] and shown["id"] in seen["chronology contact"]
    _assert_sees(seen, hidden, False, PARTNER)


def test_partner_cannot_link_a_contact_to_a_hidden_intervention(world, client_for):
    """A restricted intervention the partner cannot see does not exist for it, even by id."""
    made = _record_restricted(client_for(world.users[KEY_WORKER]), world)
    response = client_for(world.users[PARTNER]).post(
        API + F.format(**world.ids) + "contacts/",
        dict(CONTACT, visibility="team", intervention=made["intervention"]),
        format="json",
    )
    assert response.status_code == 400
    assert "intervention" in response.json()


def test_ended_partner_loses_even_its_own_entries(world, client_for):
    """After its involvement ends, an agency's earlier entries do not reopen the family to it."""
    b = world.borough
    response = client_for(world.users[PARTNER]).post(
        API + F.format(**world.ids) + "contacts/", dict(CONTACT, visibility="team"), format="json"
    )
    assert response.status_code == 201
    involvement = Involvement.objects.get(id=world.ids["involvement"])
    services.involvement_end(involvement=involvement, by=b.key_worker)
    partner = client_for(world.users[PARTNER])
    assert partner.get(API + F.format(**world.ids) + "contacts/").status_code == 404
    assert partner.get(API + "families/").json()["results"] == []
