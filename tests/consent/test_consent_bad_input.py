"""Bad input to the sharing and emergency-access endpoints: 400 with a clear
message on the field at fault, nothing written; 403/404/409 where the request is well formed but
not allowed; never 500."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.utils import timezone

from agencies.roles import Role
from consent import services as consent_services
from consent.models import EmergencyAccess, SharingBasis
from tests import factories as f
from tests.consent.helpers import API, kept_db, town_build


@dataclass
class W:
    town: object
    ids: dict
    users: dict


def _years_ago(years: int, days: int = 40):
    today = timezone.localdate()
    return today - timedelta(days=365 * years + years // 4 + days)


@pytest.fixture(scope="module")
def w(django_db_setup, django_db_blocker):
    with kept_db(django_db_blocker):
        town = town_build(" (bad input)")
        kw = town.key_worker
        family = town.family
        parent = f.parent_make(family=family, by=kw)
        child = f.PersonFactory(family=family, given_name="Ava", date_of_birth=_years_ago(8))
        teen = f.PersonFactory(family=family, given_name="Leo", date_of_birth=_years_ago(14))
        adult = f.PersonFactory(
            family=family,
            given_name="Uncle",
            date_of_birth=_years_ago(40),
            relationship="uncle",
            parental_responsibility=False,
        )
        other = f.family_make(by=kw, name="Jones household")
        stranger = f.parent_make(family=other, by=kw, given_name="Jo")
        grant = consent_services.emergency_access_grant(
            family_id=family.id, by=town.outsider, reason="Out of hours call, need the plan."
        )
        agency_admin = f.staff_make(agency=town.early_help, role=Role.AGENCY_ADMIN)
        users = {
            "key_worker": kw.user,
            "manager": town.manager.user,
            "partner": town.partner.user,
            "outsider": town.outsider.user,
            "agency_admin": agency_admin.user,
            "health": town.health_practitioner.user,
        }
        for user in users.values():
            f.token_for(user)
        ids = {
            "family": family.id,
            "school": town.school.id,
            "housing": town.housing.id,
            "parent": parent.id,
            "child": child.id,
            "teen": teen.id,
            "adult": adult.id,
            "stranger": stranger.id,
            "grant": grant.id,
            "manager": town.manager.user.id,
            "key_worker": kw.user.id,
            "partner": town.partner.user.id,
        }
        yield W(town=town, ids=ids, users=users)


def consent(w, **over) -> dict:
    body = {
        "basis": "consent",
        "agencies": [w.ids["school"]],
        "given_by": [w.ids["parent"]],
        "method": "written",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not DROP}


def non_consent(w, **over) -> dict:
    body = {
        "basis": "safeguarding",
        "agencies": [w.ids["school"]],
        "justification": "Risk of significant harm; consent would place the child at risk.",
        "decided_by": w.ids["manager"],
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not DROP}


DROP = object()
TODAY = timezone.localdate


# (case id, body builder, field at fault, words the message must contain)
SHARING_CASES = [
    ("consent without a giver", lambda w: consent(w, given_by=DROP), "given_by", "who gave it"),
    ("consent with an empty giver list", lambda w: consent(w, given_by=[]), "given_by", "gave it"),
    (
        "giver under 12 not marked competent",
        lambda w: consent(w, given_by=[w.ids["child"]]),
        "given_by",
        "under 12",
    ),
    (
        "14-year-old not marked competent",
        lambda w: consent(w, given_by=[w.ids["teen"]]),
        "given_by",
        "competent",
    ),
    (
        "adult without parental responsibility",
        lambda w: consent(w, given_by=[w.ids["adult"]]),
        "given_by",
        "parental responsibility",
    ),
    (
        "giver from another family",
        lambda w: consent(w, given_by=[w.ids["stranger"]]),
        "given_by",
        "",
    ),
    ("consent without a method", lambda w: consent(w, method=DROP), "method", "written"),
    (
        "non-consent without justification",
        lambda w: non_consent(w, justification=DROP),
        "justification",
        "without consent",
    ),
    (
        "non-consent with a blank justification",
        lambda w: non_consent(w, justification="   "),
        "justification",
        "without consent",
    ),
    (
        "non-consent without deciding manager",
        lambda w: non_consent(w, decided_by=DROP),
        "decided_by",
        "manager",
    ),
    (
        "non-consent decided by the key worker (not a manager)",
        lambda w: non_consent(w, decided_by=w.ids["key_worker"]),
        "decided_by",
        "lead-agency manager",
    ),
    (
        "non-consent decided by a partner",
        lambda w: non_consent(w, decided_by=w.ids["partner"]),
        "decided_by",
        "lead-agency manager",
    ),
    (
        "non-consent review more than 90 days away",
        lambda w: non_consent(w, review_on=str(TODAY() + timedelta(days=91))),
        "review_on",
        "90 days",
    ),
    (
        "non-consent review in the past",
        lambda w: non_consent(w, review_on=str(TODAY() - timedelta(days=1))),
        "review_on",
        "90 days",
    ),
    (
        "non-consent naming a giver",
        lambda w: non_consent(w, given_by=[w.ids["parent"]]),
        "given_by",
        "consent basis",
    ),
    (
        "expiry in the past",
        lambda w: consent(w, expires_on=str(TODAY() - timedelta(days=1))),
        "expires_on",
        "past",
    ),
    (
        "agency not on the team",
        lambda w: consent(w, agencies=[w.ids["housing"]]),
        "agencies",
        "Not on the team: Housing",
    ),
    ("unknown agency", lambda w: consent(w, agencies=[10**9]), "agencies", ""),
    ("unknown basis kind", lambda w: consent(w, basis="gut_feeling"), "basis", "valid choice"),
    ("missing basis kind", lambda w: consent(w, basis=DROP), "basis", "required"),
    ("empty agencies", lambda w: consent(w, agencies=[]), "agencies", ""),
    ("agencies missing", lambda w: consent(w, agencies=DROP), "agencies", "required"),
    ("unknown purpose", lambda w: consent(w, purposes=["marketing"]), "purposes", "valid choice"),
    ("empty purposes", lambda w: consent(w, purposes=[]), "purposes", ""),
    ("bad expiry date", lambda w: consent(w, expires_on="next year"), "expires_on", "format"),
    ("unknown method", lambda w: consent(w, method="telepathy"), "method", "valid choice"),
    ("giver not an id", lambda w: consent(w, given_by=["mum"]), "given_by", ""),
]


def _sharing_state():
    return (
        SharingBasis.objects.count(),
        tuple(SharingBasis.objects.values_list("id", "withdrawn_at")),
    )


def test_a_well_formed_non_consent_basis_is_accepted(w, client_for, db):
    """Control for the cases below: the base bodies themselves are valid."""
    client = client_for(w.users["key_worker"])
    url = f"{API}families/{w.ids['family']}/sharing/"
    for body in (consent(w), non_consent(w)):
        response = client.post(url, body, format="json")
        assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    "make, field, words", [pytest.param(*c[1:], id=c[0]) for c in SHARING_CASES]
)
def test_bad_sharing_basis_is_400_on_the_field(make, field, words, w, client_for, db):
    before = _sharing_state()
    response = client_for(w.users["key_worker"]).post(
        f"{API}families/{w.ids['family']}/sharing/", make(w), format="json"
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])
    body = response.json()
    assert field in body, body
    messages = body[field] if isinstance(body[field], list) else [body[field]]
    text = " ".join(str(m) for m in messages)
    assert text.strip(), body
    assert words in text, body
    assert _sharing_state() == before


def test_non_json_body_is_400(w, client_for, db):
    for who, url in (
        ("key_worker", f"{API}families/{w.ids['family']}/sharing/"),
        ("health", f"{API}families/{w.ids['family']}/emergency-access/"),
        ("manager", f"{API}emergency-access/{w.ids['grant']}/review/"),
    ):
        client = client_for(w.users[who])
        before = (_sharing_state(), EmergencyAccess.objects.count())
        response = client.generic("POST", url, data="{not json", content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert response.json()["code"] == "parse_error"
        assert (_sharing_state(), EmergencyAccess.objects.count()) == before


def test_sharing_body_that_is_not_an_object_is_400(w, client_for, db):
    response = client_for(w.users["key_worker"]).post(
        f"{API}families/{w.ids['family']}/sharing/", [1, 2], format="json"
    )
    assert response.status_code == 400


def test_withdraw_without_reason_is_400(w, client_for, db):
    basis = SharingBasis.objects.filter(family_id=w.ids["family"]).first()
    url = f"{API}families/{w.ids['family']}/sharing/{basis.id}/withdraw/"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        response = client_for(w.users["key_worker"]).post(url, body, format="json")
        assert response.status_code == 400, body
        assert "reason" in response.json()
    assert SharingBasis.objects.get(id=basis.id).withdrawn_at is None


def test_withdraw_unknown_basis_is_404(w, client_for, db):
    url = f"{API}families/{w.ids['family']}/sharing/{10**9}/withdraw/"
    response = client_for(w.users["key_worker"]).post(url, {"reason": "x"}, format="json")
    assert response.status_code == 404


# --- emergency access ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [{}, {"reason": ""}, {"reason": "help"}, {"reason": "x" * 9}, {"reason": None}],
    ids=["missing", "empty", "too short", "nine chars", "null"],
)
def test_emergency_reason_missing_or_too_short_is_400_and_grants_nothing(body, w, client_for, db):
    health = w.users["health"]  # sees nothing of the family
    before = EmergencyAccess.objects.count()
    client = client_for(health)
    response = client.post(
        f"{API}families/{w.ids['family']}/emergency-access/", body, format="json"
    )
    assert response.status_code == 400
    assert "reason" in response.json()
    assert EmergencyAccess.objects.count() == before
    assert client.get(f"{API}families/{w.ids['family']}/").status_code == 404
    # The same 400 for a family that does not exist: a bad request discloses nothing.
    ghost = client.post(f"{API}families/{10**9}/emergency-access/", body, format="json")
    assert (ghost.status_code, ghost.json()) == (400, response.json())


def test_emergency_access_to_a_missing_family_is_404_like_a_hidden_one(w, client_for, db):
    client = client_for(w.users["health"])
    hidden = client.get(f"{API}families/{w.ids['family']}/")
    assert hidden.status_code == 404
    before = EmergencyAccess.objects.count()

    response = client.post(
        f"{API}families/{10**9}/emergency-access/",
        {"reason": "Urgent safeguarding call about this family."},
        format="json",
    )

    assert response.status_code == 404
    assert response.json() == hidden.json()
    assert EmergencyAccess.objects.count() == before


def test_emergency_access_by_an_agency_admin_is_403(w, client_for, db):
    before = EmergencyAccess.objects.count()
    response = client_for(w.users["agency_admin"]).post(
        f"{API}families/{w.ids['family']}/emergency-access/",
        {"reason": "Urgent safeguarding call about this family."},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert EmergencyAccess.objects.count() == before


def _review(client, w, body):
    return client.post(f"{API}emergency-access/{w.ids['grant']}/review/", body, format="json")


def _grant_state(w):
    grant = EmergencyAccess.objects.get(id=w.ids["grant"])
    return (grant.decision, grant.reviewed_by_id, grant.reviewed_at, grant.expires_at)


@pytest.mark.parametrize("who", ["key_worker", "partner", "outsider"])
def test_review_by_a_non_manager_is_403(who, w, client_for, db):
    before = _grant_state(w)
    response = _review(client_for(w.users[who]), w, {"decision": "upheld"})
    assert response.status_code == 403
    assert _grant_state(w) == before


def test_review_by_someone_who_cannot_see_the_family_is_404(w, client_for, db):
    response = _review(client_for(w.users["health"]), w, {"decision": "upheld"})
    assert response.status_code == 404
    ghost = client_for(w.users["health"]).post(
        f"{API}emergency-access/{10**9}/review/", {"decision": "upheld"}, format="json"
    )
    assert (ghost.status_code, ghost.json()) == (404, response.json())


def test_review_twice_is_409(w, client_for, db):
    manager = client_for(w.users["manager"])
    assert _review(manager, w, {"decision": "upheld", "notes": "Fine."}).status_code == 200
    first = _grant_state(w)
    again = _review(manager, w, {"decision": "not_justified"})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"
    assert _grant_state(w) == first


@pytest.mark.parametrize(
    "body",
    [{}, {"decision": "maybe"}, {"decision": ""}, {"decision": "upheld", "notes": "x" * 5001}],
    ids=["missing", "unknown", "empty", "notes too long"],
)
def test_bad_review_decision_is_400(body, w, client_for, db):
    before = _grant_state(w)
    response = _review(client_for(w.users["manager"]), w, body)
    assert response.status_code == 400
    assert set(response.json()) & {"decision", "notes"}
    assert _grant_state(w) == before
