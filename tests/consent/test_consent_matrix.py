"""The family record's authorization matrix, extended with the sharing situations.

Generated from tables, like tests/cases/test_authz_matrix.py, whose endpoint table, call helper,
snapshot and actor rules are reused:

1. Situations × every families endpoint. One subject, the school practitioner ("partner"), meets
   each family in one sharing situation:
   - involved but no basis; basis covering another agency only; expired basis (swept);
     withdrawn basis → not visible: 404 everywhere, with the body of a family that does not
     exist, and absent from the families list;
   - emergency access live → view only: GETs 200, writes 403 (and the disclosure history, which
     needs the sharing permission, 403); emergency access expired (swept) → 404.
   Asking for emergency access is open to any practitioner in every situation (201).
2. The sharing endpoints (sharing list/create, withdraw, disclosures, emergency access request and
   review) × the nine actors of tests/cases/test_authz_matrix.py, with its 401/403/404
   semantics.

The data is built once per module; every test runs in its own savepoint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import resolve
from django.utils import timezone

from agencies.roles import Role
from cases import access
from cases import urls as case_urls
from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
from cases.models import Family
from consent import services as consent_services
from consent import urls as consent_urls
from consent.models import AccessPeriod, EmergencyAccess, SharingBasis
from tests import factories as f
from tests.cases.test_authz_matrix import (
    ACTORS,
    AGENCY_ADMIN,
    ANONYMOUS,
    CHANGERS,
    DPO,
    ENDED_PARTNER,
    ENDPOINTS,
    KEY_WORKER,
    LEAD_PRACTITIONER,
    MANAGER,
    OUTSIDER,
    PARTNER,
    SUPERUSER,
    VISIBLE,
    Endpoint,
    Rule,
    World,
    _call,
    snapshot,
)
from tests.consent.helpers import API, kept_db, record_ids, town_build
from tests.routes import routes_served

F = "families/{family}/"
REASON = "Child disclosed harm at school; need the plan now."

# --- the consent endpoints, under test_authz_matrix's Rule (actors of the standard world) -------

PRACTITIONERS = frozenset(
    {KEY_WORKER, MANAGER, LEAD_PRACTITIONER, PARTNER, ENDED_PARTNER, OUTSIDER}
)
SHARING_VIEW = Rule(allowed=VISIBLE)
SHARING_CHANGE = Rule(allowed=CHANGERS)  # key worker or lead-agency key_worker/manager
EMERGENCY_REQUEST = Rule(allowed=PRACTITIONERS, visible=None)  # any practitioner, by id
EMERGENCY_REVIEW = Rule(allowed=frozenset({MANAGER}))  # lead-agency manager
NAMED_MANAGER = Rule(allowed=frozenset({MANAGER}))  # the standard world's decisions name MANAGER


def _consent_body(w) -> dict:
    return {
        "basis": "consent",
        "agencies": [w.ids["school"]],
        "given_by": [w.ids["parent"]],
        "method": "verbal",
    }


CONSENT_ENDPOINTS = (
    Endpoint("sharing-list", "GET", F + "sharing/", SHARING_VIEW),
    Endpoint("sharing-list", "POST", F + "sharing/", SHARING_CHANGE, 201, body=_consent_body),
    Endpoint(
        "sharing-withdraw",
        "POST",
        F + "sharing/{basis}/withdraw/",
        SHARING_CHANGE,
        body=lambda w: {"reason": "Mum withdrew consent by phone."},
    ),
    Endpoint(
        "sharing-confirm",
        "POST",
        F + "sharing/{decision}/confirm/",
        NAMED_MANAGER,  # the lead-agency manager the decision names
    ),
    Endpoint(
        "sharing-review",
        "POST",
        F + "sharing/{confirmed}/review/",
        EMERGENCY_REVIEW,  # a lead-agency manager
        body=lambda w: {"review_on": str(timezone.localdate() + timedelta(days=60))},
    ),
    Endpoint("disclosure-list", "GET", F + "disclosures/", SHARING_CHANGE),
    Endpoint(
        "emergency-access",
        "POST",
        F + "emergency-access/",
        EMERGENCY_REQUEST,
        201,
        body=lambda w: {"reason": REASON},
    ),
    Endpoint(
        "emergency-access-review",
        "POST",
        "emergency-access/{grant}/review/",
        EMERGENCY_REVIEW,
        body=lambda w: {"decision": "upheld", "notes": "Proportionate."},
    ),
    Endpoint(
        "emergency-access-approve",
        "POST",
        "emergency-access/{pending}/approve/",
        EMERGENCY_REVIEW,
        body=lambda w: {"approve": True, "notes": "Approved after a call."},
    ),
)

# Every families endpoint: test_authz_matrix's family-scoped rows, the families list (visibility
# shows as membership), and the consent app's family-scoped rows.
FAMILY_ENDPOINTS = tuple(
    e
    for e in ENDPOINTS + CONSENT_ENDPOINTS
    if e.path.startswith(F) or (e.name, e.method) == ("family-list", "GET")
)
NOT_FAMILY_SCOPED = {
    ("family-list", "POST"),  # creating a family: no family involved (test_authz_matrix)
    ("outcome-list", "GET"),  # public framework (test_authz_matrix)
    ("emergency-access-review", "POST"),  # by grant id: the actor table below
    ("emergency-access-approve", "POST"),  # by grant id: the actor table below
}


def consent_snapshot(w: World) -> tuple:
    family_id = w.family.id
    return snapshot(w) + (
        tuple(
            SharingBasis.objects.order_by("id").values_list(
                "id", "withdrawn_at", "confirmed_at", "review_on"
            )
        ),
        tuple(EmergencyAccess.objects.order_by("id").values_list("id", "decision", "expires_at")),
        AccessPeriod.objects.filter(family_id=family_id).count(),
        FamilyGroupObjectPermission.objects.filter(content_object_id=family_id).count(),
        FamilyUserObjectPermission.objects.filter(content_object_id=family_id).count(),
    )


def _assert_not_disclosed(client, endpoint, w, response) -> None:
    """404 with the same body as for a family (or grant) that does not exist."""
    missing = dict(w.ids, family=Family.objects.order_by("-id").first().id + 1000)
    missing["grant"] = (EmergencyAccess.objects.order_by("-id").first() or w).id + 1000
    missing["pending"] = missing["grant"]
    ghost = _call(client, endpoint, w, ids=missing)
    assert (ghost.status_code, ghost.json()) == (404, response.json())


def _check(client, endpoint, w, expected: int, snap) -> None:
    before = snap(w)
    response = _call(client, endpoint, w)
    assert response.status_code == expected, (response.status_code, response.content[:300])
    after = snap(w)
    if expected >= 400:
        assert after == before, "a refused request changed the record"
    elif endpoint.method != "GET":
        assert after != before, "an accepted write changed nothing"
    if expected == 404:
        _assert_not_disclosed(client, endpoint, w, response)
    if expected == 401:
        assert response.json()["code"] == "not_authenticated"
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


# --- 1. situations × every families endpoint ----------------------------------------------------


@dataclass(frozen=True)
class Situation:
    name: str
    perms: frozenset[str]  # what the subject holds on the family (empty: not visible)


NO_BASIS = Situation("involved, no basis", frozenset())
OTHER_AGENCY = Situation("basis covers another agency only", frozenset())
EXPIRED = Situation("basis expired", frozenset())
WITHDRAWN = Situation("basis withdrawn", frozenset())
EMERGENCY_LIVE = Situation("emergency access live", access.EMERGENCY_PERMS)
EMERGENCY_EXPIRED = Situation("emergency access expired", frozenset())
SITUATIONS = (NO_BASIS, OTHER_AGENCY, EXPIRED, WITHDRAWN, EMERGENCY_LIVE, EMERGENCY_EXPIRED)


def _needed_permission(endpoint: Endpoint) -> str:
    """The permission the view asks for this method (FamilyScopedView.read/write_permission)."""
    view = resolve(API + endpoint.path.format(family=1, **dict.fromkeys(_KEYS, 1))).func
    cls = view.view_class
    return cls.read_permission if endpoint.method == "GET" else cls.write_permission


_KEYS = (
    "need",
    "member",
    "involvement",
    "action_partner",
    "action_lead",
    "basis",
    "decision",
    "confirmed",
    "grant",
    "pending",
)


def situation_expected(situation: Situation, endpoint: Endpoint) -> int:
    if endpoint.name == "emergency-access":
        # Any practitioner may ask, visible or not: one live grant at a time (409); the subject
        # took the daily limit of grants building these worlds, so a manager must approve (202).
        return 409 if situation is EMERGENCY_LIVE else 202
    if endpoint.name == "family-list":
        return 200  # visibility shows as membership of the list
    if not situation.perms:
        return 404
    if endpoint.name in {"sharing-confirm", "sharing-review"}:
        return 403  # the subject, a partner practitioner, is never a lead-agency manager
    return 200 if _needed_permission(endpoint) in situation.perms else 403


@dataclass
class SituationWorld:
    subject: object  # the school practitioner
    worlds: dict[str, World]
    control: World  # a family where a current basis covers the school


def _situation_family(town, name: str, *, school_on_team: bool, covered: list) -> World:
    kw = town.key_worker
    family = f.family_make(by=kw, name=name)
    parent = f.parent_make(family=family, by=kw)
    health = f.involvement_make(
        family=family, by=kw, agency=town.health, practitioner=town.health_practitioner.user
    )
    school = (
        f.involvement_make(family=family, by=kw, agency=town.school, practitioner=town.partner.user)
        if school_on_team
        else None
    )
    basis = (
        f.consent_make(family=family, by=kw, agencies=covered, giver=parent) if covered else None
    )
    ids = record_ids(
        family=family,
        by=kw,
        owner_partner=town.school if school_on_team else town.early_help,
        owner_lead=town.early_help,
    )
    ids.update(
        family=family.id,
        involvement=(school or health).id,
        school=town.school.id,
        health=town.health.id,
        parent=parent.id,
        basis=basis.id if basis else 1,
        decision=basis.id if basis else 1,
        confirmed=basis.id if basis else 1,
        grant=1,
        pending=1,
    )
    return World(
        borough=town,
        users={PARTNER: town.partner.user},
        ids=ids,
        family=family,
        action_partner=None,
        action_lead=None,
    )


@pytest.fixture(scope="module")
def situations(django_db_setup, django_db_blocker):
    with kept_db(django_db_blocker):
        town = town_build()
        kw, partner = town.key_worker, town.partner
        worlds = {
            NO_BASIS.name: _situation_family(town, "No basis", school_on_team=True, covered=[]),
            OTHER_AGENCY.name: _situation_family(
                town, "Other agency", school_on_team=True, covered=[town.health]
            ),
            EXPIRED.name: _situation_family(
                town, "Expired", school_on_team=True, covered=[town.school, town.health]
            ),
            WITHDRAWN.name: _situation_family(
                town, "Withdrawn", school_on_team=True, covered=[town.school, town.health]
            ),
            EMERGENCY_LIVE.name: _situation_family(
                town, "Emergency live", school_on_team=False, covered=[town.health]
            ),
            EMERGENCY_EXPIRED.name: _situation_family(
                town, "Emergency expired", school_on_team=False, covered=[town.health]
            ),
        }
        control = _situation_family(town, "Control", school_on_team=True, covered=[town.school])
        # Expired: recorded through the service, then its expiry moved into the past and swept.
        expired = worlds[EXPIRED.name]
        yesterday = consent_services.timezone.localdate() - timedelta(days=1)
        SharingBasis.objects.filter(id=expired.ids["basis"]).update(expires_on=yesterday)
        assert consent_services.sharing_sweep()["bases_expired"] == 1
        # Withdrawn.
        consent_services.sharing_basis_withdraw(
            basis=SharingBasis.objects.get(id=worlds[WITHDRAWN.name].ids["basis"]),
            by=kw,
            reason="Dad withdrew consent.",
        )
        # Emergency access: live on one family; granted and swept past its 4 h on the other.
        for name in (EMERGENCY_LIVE.name, EMERGENCY_EXPIRED.name):
            grant = consent_services.emergency_access_grant(
                family_id=worlds[name].ids["family"], by=partner, reason=REASON
            )
            worlds[name].ids["grant"] = grant.id
        gone = EmergencyAccess.objects.get(id=worlds[EMERGENCY_EXPIRED.name].ids["grant"])
        swept = consent_services.sharing_sweep(now=gone.expires_at + timedelta(minutes=1))
        # The live grant is swept too at that instant; both end in the past, as swept grants
        # do, and the one family's is granted again so it is live now.
        assert swept["emergency_expired"] == 2
        EmergencyAccess.objects.filter(expiry_swept_at__isnull=False).update(
            expires_at=timezone.now() - timedelta(minutes=1)
        )
        live = consent_services.emergency_access_grant(
            family_id=worlds[EMERGENCY_LIVE.name].ids["family"], by=partner, reason=REASON
        )
        worlds[EMERGENCY_LIVE.name].ids["grant"] = live.id
        f.token_for(partner.user)
        yield SituationWorld(subject=partner.user, worlds=worlds, control=control)


SITUATION_CASES = [
    pytest.param(s, e, id=f"{e.id} / {s.name}")
    for s, e in itertools.product(SITUATIONS, FAMILY_ENDPOINTS)
]


@pytest.mark.parametrize("situation, endpoint", SITUATION_CASES)
def test_situation_matrix(situation, endpoint, situations, client_for, db):
    w = situations.worlds[situation.name]
    client = client_for(situations.subject)
    expected = situation_expected(situation, endpoint)
    if endpoint.name == "family-list":
        response = _call(client, endpoint, w)
        assert response.status_code == 200
        listed = {r["id"] for r in response.json()["results"]}
        assert (w.family.id in listed) is bool(situation.perms), listed
        return
    _check(client, endpoint, w, expected, consent_snapshot)


def test_situations_differ_from_a_covered_partner_only_by_the_basis(situations, client_for, db):
    """Control: the same subject on a family whose current basis covers the school sees it."""
    client = client_for(situations.subject)
    w = situations.control
    assert client.get(API + F.format(**w.ids)).status_code == 200
    assert (
        client.post(
            API + F.format(**w.ids) + "contacts/",
            {"occurred_at": "2025-10-06T09:30:00+01:00", "method": "phone", "summary": "Hi."},
            format="json",
        ).status_code
        == 201
    )


def test_emergency_reads_are_marked_and_writes_refused_in_the_live_situation(
    situations, client_for, db
):
    from audit.models import AccessEvent

    w = situations.worlds[EMERGENCY_LIVE.name]
    client = client_for(situations.subject)
    assert client.get(API + F.format(**w.ids) + "chronology/").status_code == 200
    event = AccessEvent.objects.filter(user=situations.subject).latest("id")
    assert (event.family_id, event.action, event.emergency) == (w.family.id, "read", True)


def test_situation_table_covers_every_families_route_and_method():
    served = routes_served(case_urls, consent_urls)
    tabled = {(e.name, e.method) for e in FAMILY_ENDPOINTS}
    assert tabled | NOT_FAMILY_SCOPED == served
    assert not tabled & NOT_FAMILY_SCOPED
    assert len(SITUATION_CASES) == len(SITUATIONS) * len(FAMILY_ENDPOINTS)


# --- 2. the sharing endpoints × the standard actors ---------------------------------------------


@pytest.fixture(scope="module")
def standard(django_db_setup, django_db_blocker):
    """test_authz_matrix's world (borough + agency admin + superuser), plus a consent to withdraw
    and an emergency grant (held by a health practitioner, not an actor) to review."""
    with kept_db(django_db_blocker):
        town = town_build(" (standard)")
        kw = town.key_worker
        agency_admin = f.staff_make(agency=town.early_help, role=Role.AGENCY_ADMIN)
        dpo = f.staff_make(agency=town.early_help, role=Role.DPO)
        superuser = get_user_model().objects.create_superuser(
            username="platform-root-consent", email="root@example.org", password=f.PASSWORD
        )
        parent = f.parent_make(family=town.family, by=kw, given_name="Sam")
        basis = SharingBasis.objects.filter(family=town.family, basis="consent").get()
        grant = consent_services.emergency_access_grant(
            family_id=town.family.id, by=town.health_practitioner, reason=REASON
        )
        # A request waiting for a manager's approval: its earlier grant was not justified.
        health2 = f.staff_make(agency=town.health, role=Role.PRACTITIONER)
        refused = consent_services.emergency_access_grant(
            family_id=town.family.id, by=health2, reason=REASON
        )
        consent_services.emergency_access_review(
            grant_id=refused.id, by=town.manager, decision="not_justified"
        )
        pending = consent_services.emergency_access_grant(
            family_id=town.family.id, by=health2, reason=REASON
        )
        assert pending.expires_at is None
        # Decisions to share without consent: one waiting for the manager it names, one in force.
        decisions = {
            who: consent_services.sharing_basis_create(
                family=town.family,
                by=who,
                basis="safeguarding",
                agencies=[town.school],
                justification="Risk of significant harm.",
                decided_by_id=town.manager.user_id,
            )
            for who in (kw, town.manager)
        }
        users = {
            KEY_WORKER: kw.user,
            MANAGER: town.manager.user,
            LEAD_PRACTITIONER: town.lead_practitioner.user,
            PARTNER: town.partner.user,
            ENDED_PARTNER: town.ended_partner.user,
            OUTSIDER: town.outsider.user,
            AGENCY_ADMIN: agency_admin.user,
            SUPERUSER: superuser,
            DPO: dpo.user,
            ANONYMOUS: None,
        }
        for user in users.values():
            if user is not None:
                f.token_for(user)
        ids = {
            "family": town.family.id,
            "school": town.school.id,
            "parent": parent.id,
            "basis": basis.id,
            "decision": decisions[kw].id,
            "confirmed": decisions[town.manager].id,
            "grant": grant.id,
            "pending": pending.id,
        }
        yield World(
            borough=town,
            users=users,
            ids=ids,
            family=town.family,
            action_partner=None,
            action_lead=None,
        )


ACTOR_CASES = [
    pytest.param(e, a, id=f"{e.id} as {a}") for e, a in itertools.product(CONSENT_ENDPOINTS, ACTORS)
]


@pytest.mark.parametrize("endpoint, actor", ACTOR_CASES)
def test_sharing_endpoints_by_actor(endpoint, actor, standard, client_for, db):
    client = client_for(standard.users[actor])
    expected = endpoint.rule.expected(actor, endpoint.success)
    _check(client, endpoint, standard, expected, consent_snapshot)


def test_withdrawal_by_a_lead_ends_the_partners_access_in_the_same_request(
    standard, client_for, db
):
    """The accepted withdraw cell above changes grants; here its effect on the partner."""
    partner = client_for(standard.users[PARTNER])
    url = API + F.format(**standard.ids)
    assert partner.get(url).status_code == 200
    for decision in ("decision", "confirmed"):  # the decisions without consent end first
        ended = client_for(standard.users[MANAGER]).post(
            url + f"sharing/{standard.ids[decision]}/withdraw/",
            {"reason": "No longer necessary."},
            format="json",
        )
        assert ended.status_code == 200
    assert partner.get(url).status_code == 200
    response = client_for(standard.users[MANAGER]).post(
        url + "sharing/{basis}/withdraw/".format(**standard.ids),
        {"reason": "Consent withdrawn."},
        format="json",
    )
    assert response.status_code == 200
    assert partner.get(url).status_code == 404
