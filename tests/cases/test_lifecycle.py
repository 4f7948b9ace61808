"""The family's lifecycle through the API: every state × every action × every role, and what
step-up and step-down do to who sees the family.

The expected status of each cell is derived from the rule as written (cases/lifecycle.py,
cases/access.py), in this order: anonymous → 401; the family not visible → 404; visible
without the change permission, or the action's predicate refusing the person → 403; the action
not allowed from the family's state → 409; else 200, the family in the action's resulting
state. A refused request changes nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from django.db import transaction

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from cases import access, lifecycle, services, signals
from cases.models import ChronologyEntry, Family, FamilyTransition, Involvement
from tests import factories as f

API = "/api/v1/families/{}/"

EH_KEY_WORKER = "eh_key_worker"  # the early help key worker (the family's, while early help)
EH_MANAGER = "eh_manager"
EH_PRACTITIONER = "eh_practitioner"
PARTNER = "partner"  # school practitioner on the team under consent
OUTSIDER = "outsider"  # housing practitioner, never on the team
CSC_MANAGER = "csc_manager"  # children's social care manager
CSC_KEY_WORKER = "csc_key_worker"  # a social worker (key worker role)
ANONYMOUS = "anonymous"
ACTORS = (
    EH_KEY_WORKER,
    EH_MANAGER,
    EH_PRACTITIONER,
    PARTNER,
    OUTSIDER,
    CSC_MANAGER,
    CSC_KEY_WORKER,
    ANONYMOUS,
)

S = lifecycle.State
A = lifecycle.Action

# Who sees the family in each state, by the rule: the lead agency, the key worker, and an agency
# on the team under a lawful basis. The family is stepped up with the early help involvement
# kept, the social worker as key worker: early help stays on the team but no basis covers it
# (the family's consent names the school and the police), so early help no longer sees it.
VISIBLE = {
    S.EARLY_HELP: {EH_KEY_WORKER, EH_MANAGER, EH_PRACTITIONER, PARTNER},
    S.CLOSED: {EH_KEY_WORKER, EH_MANAGER, EH_PRACTITIONER, PARTNER},
    S.SOCIAL_CARE: {CSC_MANAGER, CSC_KEY_WORKER, PARTNER},
}
# Who holds the change permission: the key worker, and the lead agency's key workers and
# managers.
CHANGERS = {
    S.EARLY_HELP: {EH_KEY_WORKER, EH_MANAGER},
    S.CLOSED: {EH_KEY_WORKER, EH_MANAGER},
    S.SOCIAL_CARE: {CSC_MANAGER, CSC_KEY_WORKER},
}
# The action's predicate: close and reopen, the key worker or a lead manager; a step, a lead
# manager.
KEY_WORKER_OF = {
    S.EARLY_HELP: EH_KEY_WORKER,
    S.CLOSED: EH_KEY_WORKER,
    S.SOCIAL_CARE: CSC_KEY_WORKER,
}
LEAD_MANAGER_OF = {S.EARLY_HELP: EH_MANAGER, S.CLOSED: EH_MANAGER, S.SOCIAL_CARE: CSC_MANAGER}
ROUTES = {A.CLOSE: "close/", A.REOPEN: "reopen/", A.STEP_UP: "step-up/", A.STEP_DOWN: "step-down/"}


def may(action: str, actor: str, state: str) -> bool:
    if action in (A.CLOSE, A.REOPEN):
        return actor in (KEY_WORKER_OF[state], LEAD_MANAGER_OF[state])
    return actor == LEAD_MANAGER_OF[state]


def expected(state: str, action: str, actor: str) -> int:
    if actor == ANONYMOUS:
        return 401
    if actor not in VISIBLE[state]:
        return 404
    if actor not in CHANGERS[state] or not may(action, actor, state):
        return 403
    if state not in lifecycle.TRANSITIONS[action][0]:
        return 409
    return 200


@dataclass
class World:
    family: Family
    staff: dict[str, object]
    early_help: object
    csc: object
    school: object


def world_make(borough) -> World:
    b = borough
    csc = f.agency_make(kind=AgencyKind.CHILDRENS_SOCIAL_CARE, name="Children's Social Care")
    staff = {
        EH_KEY_WORKER: b.key_worker,
        EH_MANAGER: b.manager,
        EH_PRACTITIONER: b.lead_practitioner,
        PARTNER: b.partner,
        OUTSIDER: b.outsider,
        CSC_MANAGER: f.staff_make(agency=csc, role=Role.MANAGER),
        CSC_KEY_WORKER: f.staff_make(agency=csc, role=Role.KEY_WORKER),
    }
    return World(b.family, staff, b.early_help, csc, b.school)


def state_make(w: World, state: str) -> None:
    if state == S.SOCIAL_CARE:
        services.family_step_up(
            family_id=w.family.id,
            by=w.staff[EH_MANAGER],
            to_agency=w.csc,
            reason="Section 47 enquiry",
            keep_involvement=True,
            key_worker_id=w.staff[CSC_KEY_WORKER].user_id,
        )
    elif state == S.CLOSED:
        services.family_close(
            family_id=w.family.id,
            by=w.staff[EH_KEY_WORKER],
            reason="outcomes_met",
            outcome_summary="Attendance above 95% for two terms.",
        )


def body(w: World, action: str) -> dict:
    if action == A.CLOSE:
        return {"reason": "outcomes_met", "outcome_summary": "Plan complete."}
    if action == A.REOPEN:
        return {"reason": "New concerns from school."}
    if action == A.STEP_UP:
        return {
            "to_agency": w.csc.id,
            "reason": "Risk of significant harm.",
            "key_worker": w.staff[CSC_KEY_WORKER].user_id,
        }
    return {
        "to_agency": w.early_help.id,
        "reason": "Child protection plan ended.",
        "key_worker": w.staff[EH_KEY_WORKER].user_id,
    }


def lead_kind(family: Family) -> str:
    return family.lead_agency.kind


def snapshot(family_id: int) -> tuple:
    family = Family.objects.select_related("lead_agency").get(id=family_id)
    return (
        family.status,
        family.lead_agency_id,
        family.key_worker_id,
        family.version,
        FamilyTransition.objects.count(),
        ChronologyEntry.objects.count(),
        tuple(Involvement.objects.order_by("id").values_list("id", "ended_on")),
        frozenset(access.family_grants_current(family=family)),
    )


CASES = [
    pytest.param(state, action, actor, id=f"{state} {action} as {actor}")
    for state, action, actor in itertools.product(S.values, ROUTES, ACTORS)
]


@pytest.mark.parametrize("state, action, actor", CASES)
def test_transition_matrix(state, action, actor, borough, client_for):
    w = world_make(borough)
    state_make(w, state)
    want = expected(state, action, actor)
    before = snapshot(w.family.id)
    user = None if actor == ANONYMOUS else w.staff[actor].user

    response = client_for(user).post(
        API.format(w.family.id) + ROUTES[action], body(w, action), format="json"
    )

    assert response.status_code == want, (response.status_code, response.content[:300])
    family = Family.objects.select_related("lead_agency").get(id=w.family.id)
    if want != 200:
        assert snapshot(w.family.id) == before, "a refused transition changed the record"
        return
    target = lifecycle.transition_target(state, action, lead_kind=lead_kind(family))
    assert lifecycle.state_of(family, lead_kind=lead_kind(family)) == target
    transition = FamilyTransition.objects.get(id=response.json()["id"])
    assert (transition.action, transition.from_state, transition.to_state) == (
        action,
        state,
        target,
    )
    assert transition.by_id == user.id and transition.reason
    kinds = {A.CLOSE: "closed", A.REOPEN: "reopened", A.STEP_UP: "stepped_up"}
    kind = "family." + kinds.get(action, "stepped_down")
    entry = ChronologyEntry.objects.get(object_id=transition.id, type=kind)
    assert user.get_full_name() in entry.summary and transition.reason in entry.summary


def test_matrix_covers_every_state_action_and_role():
    assert {a for a in A.values if a in ROUTES} == set(ROUTES)
    assert len(CASES) == len(S.values) * len(ROUTES) * len(ACTORS)


# --- step-up and step-down: who sees the family afterwards --------------------------------------

# The GET endpoints of the cases authorization matrix: each answers 200 to whoever sees the
# family, 404 to anyone else.
from tests.cases.test_authz_matrix import ENDPOINTS  # noqa: E402

FAMILY_READS = [e for e in ENDPOINTS if e.method == "GET" and e.rule.visible is not None]


def reads_answer(client, family_id: int) -> set[int]:
    statuses = set()
    for endpoint in FAMILY_READS:
        path = endpoint.path.split("{", 1)[0] + str(family_id) + "/"
        path += endpoint.path.split("}/", 1)[1].split("{")[0] if "}/" in endpoint.path else ""
        if "{" in path:
            continue
        statuses.add(client.get("/api/v1/" + path).status_code)
    return statuses


def sees(client_for, w: World, actor: str) -> bool:
    answers = reads_answer(client_for(w.staff[actor].user), w.family.id)
    assert len(answers) == 1, (actor, answers)  # every read gives the same answer
    return answers == {200}


def rule_viewers(w: World) -> set[str]:
    """Who the rule says sees the family, read from its derivation (not from the grant rows)."""
    family = Family.objects.select_related("lead_agency").get(id=w.family.id)
    grants = access.family_grants_derive(family=family)
    out = set()
    for actor, staff in w.staff.items():
        by_group = access.VIEW in grants.groups.get(staff.agency.group_id, frozenset())
        by_user = access.VIEW in grants.users.get(staff.user_id, frozenset())
        if by_group or by_user:
            out.add(actor)
    return out


STEPS = {
    "step-up, early help ended": (
        S.EARLY_HELP,
        "step-up/",
        lambda w: {"to_agency": w.csc.id, "reason": "s47", "keep_involvement": False},
        {CSC_MANAGER, CSC_KEY_WORKER, PARTNER},
    ),
    "step-up, early help kept, key worker stays": (
        S.EARLY_HELP,
        "step-up/",
        lambda w: {"to_agency": w.csc.id, "reason": "s47", "keep_involvement": True},
        # the early help key worker stays key worker (a user grant); their colleagues do not
        # see it: early help is on the team without a basis covering it
        {CSC_MANAGER, CSC_KEY_WORKER, PARTNER, EH_KEY_WORKER},
    ),
    "step-down, social care ended": (
        S.SOCIAL_CARE,
        "step-down/",
        lambda w: {
            "to_agency": w.early_help.id,
            "reason": "Plan ended",
            "key_worker": w.staff[EH_KEY_WORKER].user_id,
        },
        {EH_KEY_WORKER, EH_MANAGER, EH_PRACTITIONER, PARTNER},
    ),
}


@pytest.mark.parametrize("name", list(STEPS))
def test_steps_change_sight_as_the_rule_says(name, borough, client_for):
    state, route, make_body, viewers_after = STEPS[name]
    w = world_make(borough)
    state_make(w, state)
    manager = CSC_MANAGER if state == S.SOCIAL_CARE else EH_MANAGER
    response = client_for(w.staff[manager].user).post(
        API.format(w.family.id) + route, make_body(w), format="json"
    )
    assert response.status_code == 200, response.content
    family = Family.objects.get(id=w.family.id)
    assert (
        access.family_grants_current(family=family)
        == access.family_grants_derive(family=family).rows()
    )
    assert rule_viewers(w) == viewers_after
    for actor in w.staff:
        assert sees(client_for, w, actor) == (actor in viewers_after), actor
    # those who lost sight were told, with the family's reference only
    lost = VISIBLE[state] - viewers_after
    told = set(
        Alert.objects.filter(kind="access.lost", family=family).values_list(
            "recipient_id", flat=True
        )
    )
    named = {EH_KEY_WORKER, CSC_KEY_WORKER}  # the users who held a grant of their own
    assert {w.staff[a].user_id for a in lost & named} <= told


def test_step_up_changes_grants_in_the_same_transaction(borough):
    """The grants already follow the rule inside the service's transaction (seen by a receiver
    of its signal), and roll back with it when the transaction fails."""
    w = world_make(borough)
    inside = {}

    def look(sender, *, family, **kwargs):
        inside["current"] = access.family_grants_current(family=family)
        inside["derived"] = access.family_grants_derive(family=family).rows()
        raise RuntimeError("fail after the lead changed")

    before = snapshot(w.family.id)
    signals.family_transitioned.connect(look, dispatch_uid="test.look")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.family_step_up(
                family_id=w.family.id, by=w.staff[EH_MANAGER], to_agency=w.csc, reason="s47"
            )
    finally:
        signals.family_transitioned.disconnect(dispatch_uid="test.look")
    assert inside["current"] == inside["derived"]
    assert any(h == w.csc.group_id for _, h, _ in inside["current"])
    assert snapshot(w.family.id) == before


def test_transitions_alert_the_team_and_lead_managers(borough, client_for):
    w = world_make(borough)
    kw = client_for(w.staff[EH_KEY_WORKER].user)
    response = kw.post(
        API.format(w.family.id) + "close/",
        {"reason": "moved_away", "outcome_summary": "Moved to Leeds."},
        format="json",
    )
    assert response.status_code == 200
    alerted = set(Alert.objects.filter(kind="family.closed").values_list("recipient", flat=True))
    # the named school practitioner and the lead manager; not the key worker who closed it
    assert alerted == {w.staff[PARTNER].user_id, w.staff[EH_MANAGER].user_id}
    summary = Alert.objects.filter(kind="family.closed").first().summary
    assert summary.startswith(w.family.reference) and "Moved out of the area" in summary


def test_closed_family_leaves_the_caseload_keeps_record_and_refuses_work(borough, client_for):
    w = world_make(borough)
    state_make(w, S.CLOSED)
    kw = client_for(w.staff[EH_KEY_WORKER].user)
    assert kw.get("/api/v1/families/?key_worker=me&status=open").json()["results"] == []
    assert kw.get(API.format(w.family.id)).json()["status"] == "closed"
    response = kw.post(
        API.format(w.family.id) + "contacts/",
        {"occurred_at": "2025-10-06T09:30:00+01:00", "method": "phone", "summary": "x"},
        format="json",
    )
    assert response.status_code == 409
    # reopened with a reason, with a new key worker
    other = f.staff_make(agency=w.early_help, role=Role.KEY_WORKER)
    manager = client_for(w.staff[EH_MANAGER].user)
    response = manager.post(
        API.format(w.family.id) + "reopen/",
        {"reason": "Re-referred by school", "key_worker": other.user_id},
        format="json",
    )
    assert response.status_code == 200, response.content
    family = Family.objects.get(id=w.family.id)
    assert (family.status, family.closed_on, family.key_worker_id) == ("open", None, other.user_id)
    types = list(ChronologyEntry.objects.filter(family=family).values_list("type", flat=True)[:3])
    assert "family.reopened" in types and "family.key_worker_changed" in types


BAD = {
    "close: reason not in the list": ("close/", {"reason": "bored", "outcome_summary": "x"}, 400),
    "close: no outcome summary": ("close/", {"reason": "outcomes_met"}, 400),
    "close: blank outcome summary": (
        "close/",
        {"reason": "outcomes_met", "outcome_summary": "  "},
        400,
    ),
    "reopen an open family": ("reopen/", {"reason": "x"}, 409),
    "step-up to a school": ("step-up/", {"to_agency": "school", "reason": "x"}, 400),
    "step-up without a reason": ("step-up/", {"to_agency": "csc"}, 400),
    "step-up to no such agency": ("step-up/", {"to_agency": 10**12, "reason": "x"}, 400),
    "step-down from early help": ("step-down/", {"to_agency": "eh", "reason": "x"}, 409),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_transitions(name, borough, client_for):
    route, data, status = BAD[name]
    w = world_make(borough)
    ids = {"school": w.school.id, "csc": w.csc.id, "eh": w.early_help.id}
    data = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in data.items()}
    before = snapshot(w.family.id)
    response = client_for(w.staff[EH_MANAGER].user).post(
        API.format(w.family.id) + route, data, format="json"
    )
    assert response.status_code == status, response.content
    if status == 400:
        field = next(iter(set(response.json()) - {"detail", "code"}))
        assert field in {"reason", "outcome_summary", "to_agency"}
    assert snapshot(w.family.id) == before


def test_stale_if_match_and_status_patch(borough, client_for):
    w = world_make(borough)
    manager = client_for(w.staff[EH_MANAGER].user)
    url = API.format(w.family.id)
    stale = manager.post(
        url + "close/",
        {"reason": "outcomes_met", "outcome_summary": "Done."},
        format="json",
        HTTP_IF_MATCH='"999"',
    )
    assert stale.status_code == 412
    version = manager.get(url).json()["version"]
    patched = manager.patch(url, {"status": "closed"}, format="json", HTTP_IF_MATCH=f'"{version}"')
    # the status changes only by a transition, with its reason
    assert patched.status_code == 400 and "status" in patched.json()
