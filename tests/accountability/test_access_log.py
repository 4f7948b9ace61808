"""The family's access log and the agency-wide log through HTTP with real sign-in: who saw or
changed the record, on what footing and basis, refused attempts included; filters; the pages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from agencies.models import AgencyKind
from consent import services as consent_services
from tests import factories as f
from tests.accountability.conftest import basis_words
from tests.test_hostile_input import ANY_LIST_CURSORS, INVALID_CURSOR, TYPED_CURSORS

API = "/api/v1/"
pytestmark = pytest.mark.django_db


def _log(client, family_id: int, **params) -> list[dict]:
    """Every event of the family's access log, following the cursor."""
    out, url, first = [], f"{API}families/{family_id}/access-log/", True
    while url:
        response = client.get(url, params if first else None)
        first = False
        assert response.status_code == 200, response.content[:300]
        out += response.json()["results"]
        url = response.json()["next"]
    return out


def test_the_key_worker_reads_a_partners_read_with_its_footing_and_basis(accountable, client_for):
    """The school practitioner reads the family (API and page); the key worker finds both reads
    in the access log, with the school, the footing "team" and the consent by kind and date."""
    b = accountable.borough
    partner = client_for(b.partner.user)
    assert partner.get(f"{API}families/{b.family.id}/").status_code == 200
    page = Client()
    page.force_login(b.partner.user)
    assert page.get(f"/families/{b.family.id}/").status_code == 200

    events = _log(client_for(b.key_worker.user), b.family.id)
    reads = [e for e in events if e["user"] == b.partner.user_id and e["action"] == "read"]
    assert {e["path"] for e in reads} >= {
        f"/api/v1/families/{b.family.id}/",
        f"/families/{b.family.id}/",
    }
    for event in reads:
        assert event["outcome"] == "allowed"
        assert event["agency"] == b.school.id and event["agency_name"] == b.school.name
        assert event["footing"] == "team"
        assert event["footing_label"] == "On the team under a lawful basis"
        assert event["basis"] == accountable.consent.id
        assert event["basis_label"] == basis_words(accountable.consent)
        assert event["family"] == b.family.id
        assert event["family_reference"] == b.family.reference
    # Newest first: the page read came after the API read.
    assert [e["path"] for e in reads][:2] == [
        f"/families/{b.family.id}/",
        f"/api/v1/families/{b.family.id}/",
    ]


def test_refused_attempts_on_the_family_are_in_its_log(accountable, client_for):
    b = accountable.borough
    assert client_for(b.outsider.user).get(f"{API}families/{b.family.id}/").status_code == 404
    assert (
        client_for(b.partner.user).get(f"{API}families/{b.family.id}/access-log/").status_code
        == 403
    )
    events = _log(client_for(b.manager.user), b.family.id)
    refused = {(e["user"], e["outcome"], e["footing"], e["basis"]) for e in events}
    assert (b.outsider.user_id, "denied", "", None) in refused
    assert (b.partner.user_id, "denied", "", None) in refused
    outsider = next(e for e in events if e["user"] == b.outsider.user_id)
    assert outsider["footing_label"] == "None: refused"
    assert outsider["agency_name"] == b.housing.name


def test_the_log_pages_newest_first_with_cursors(accountable, client_for):
    b = accountable.borough
    partner = client_for(b.partner.user)
    for tail in ("", "needs/", "contacts/", "chronology/"):
        assert partner.get(f"{API}families/{b.family.id}/{tail}").status_code == 200
    kw = client_for(b.key_worker.user)
    everything = _log(kw, b.family.id, page_size=200)
    one_by_one = _log(kw, b.family.id, page_size=1)
    # Reading the log is an access too: the reads since are newer than everything seen first.
    newest = everything[0]["id"]
    assert [e["id"] for e in one_by_one if e["id"] <= newest] == [e["id"] for e in everything]
    assert all(e["user"] == b.key_worker.user_id for e in one_by_one if e["id"] > newest)
    keys = [(e["at"], e["id"]) for e in everything]
    assert keys == sorted(keys, reverse=True)


def test_who_reads_a_familys_log(accountable, client_for):
    b = accountable.borough
    url = f"{API}families/{b.family.id}/access-log/"
    answers = {
        who: client_for(user).get(url).status_code
        for who, user in {
            "key worker": b.key_worker.user,
            "manager": b.manager.user,
            "lead practitioner": b.lead_practitioner.user,
            "partner": b.partner.user,
            "outsider": b.outsider.user,
            "dpo": accountable.dpo.user,
        }.items()
    }
    assert answers == {
        "key worker": 200,
        "manager": 200,
        "lead practitioner": 403,
        "partner": 403,
        "outsider": 404,
        "dpo": 404,  # no case data, not even a family's own log: the agency-wide log instead
    }


def test_emergency_access_opens_neither_the_log_nor_an_export(accountable, client_for):
    """Break-glass access is for reading the record: its log and a subject access export stay
    the key worker's and the lead managers'."""
    b = accountable.borough
    nurse = f.staff_make(agency=f.agency_make(kind=AgencyKind.HEALTH), role="practitioner")
    consent_services.emergency_access_grant(
        family_id=b.family.id, by=nurse, reason="Urgent health referral out of hours."
    )
    client = client_for(nurse.user)
    assert client.get(f"{API}families/{b.family.id}/").status_code == 200
    assert client.get(f"{API}families/{b.family.id}/access-log/").status_code == 403
    export = f"{API}families/{b.family.id}/members/{accountable.member.id}/subject-access/"
    assert client.post(export).status_code == 403


# --- the agency-wide log ------------------------------------------------------------------------


def _audit(client, **params) -> list[dict]:
    out, url, first = [], f"{API}audit/", True
    while url:
        response = client.get(url, params if first else None)
        first = False
        assert response.status_code == 200, response.content[:300]
        out += response.json()["results"]
        url = response.json()["next"]
    return out


def test_the_agency_log_holds_the_families_the_agency_leads_only(accountable, client_for):
    b = accountable.borough
    other_lead = f.agency_make(name="Other Early Help")
    other_kw = f.staff_make(agency=other_lead, role="key_worker")
    elsewhere = f.family_make(by=other_kw, name="Elsewhere household")
    assert client_for(other_kw.user).get(f"{API}families/{elsewhere.id}/").status_code == 200
    assert client_for(b.partner.user).get(f"{API}families/{b.family.id}/").status_code == 200
    for reader in (b.manager, accountable.dpo):
        events = _audit(client_for(reader.user), page_size=200)
        families = {e["family"] for e in events}
        assert families == {b.family.id}, reader
        assert any(e["user"] == b.partner.user_id for e in events)
        assert all("client_ip" in e for e in events)


def test_the_agency_log_filters(accountable, client_for):
    b = accountable.borough
    partner, outsider = client_for(b.partner.user), client_for(b.outsider.user)
    assert partner.get(f"{API}families/{b.family.id}/").status_code == 200
    assert partner.post(f"{API}families/{b.family.id}/needs/", {}, format="json").status_code in (
        400,
        201,
    )
    assert outsider.get(f"{API}families/{b.family.id}/contacts/").status_code == 404
    manager = client_for(b.manager.user)
    everything = _audit(manager)
    assert everything

    by_user = _audit(manager, user=b.partner.user_id)
    assert by_user and {e["user"] for e in by_user} == {b.partner.user_id}
    by_agency = _audit(manager, agency=b.housing.id)
    assert by_agency and {e["agency"] for e in by_agency} == {b.housing.id}
    assert {e["outcome"] for e in by_agency} == {"denied"}
    assert _audit(manager, family=b.family.id) == everything
    assert _audit(manager, family=b.family.id + 1000) == []
    writes = _audit(manager, action="write")
    assert writes and {e["action"] for e in writes} == {"write"}
    denied = _audit(manager, outcome="denied")
    assert {e["user"] for e in denied} == {b.outsider.user_id}
    assert _audit(manager, footing="none") == denied
    team = _audit(manager, footing="team")
    assert team and {e["agency"] for e in team} == {b.school.id}
    now = timezone.now()
    assert _audit(manager, **{"from": (now + timedelta(hours=1)).isoformat()}) == []
    assert _audit(manager, to=(now - timedelta(days=1)).date().isoformat()) == []
    today = timezone.localdate().isoformat()
    assert _audit(manager, **{"from": today, "to": today}) == everything


BAD_FILTERS = [
    ("user", "abc"),
    ("user", "0"),
    ("user", "99999999999999999999"),
    ("agency", "-1"),
    ("family", "1.5"),
    ("action", "delete"),
    ("outcome", "maybe"),
    ("footing", "friendship"),
    ("unusual", "perhaps"),
    ("from", "yesterday"),
    ("from", "2026-02-30"),
    ("from", "2026-13-01T10:00:00"),
    ("from", "0001-01-01T00:00:00+14:00"),
    ("to", "9999-12-31T23:59:59-14:00"),
    ("to", "9999-12-31"),
    ("to", "x" * 500),
]


@pytest.mark.parametrize("field, value", BAD_FILTERS, ids=[f"{k}={v[:20]}" for k, v in BAD_FILTERS])
def test_a_bad_filter_is_400_naming_it(field, value, accountable, client_for):
    response = client_for(accountable.borough.manager.user).get(f"{API}audit/", {field: value})
    assert response.status_code == 400, response.content[:300]
    assert field in response.json(), response.json()


def test_to_before_from_is_400_naming_to(accountable, client_for):
    response = client_for(accountable.borough.manager.user).get(
        f"{API}audit/", {"from": "2026-03-03", "to": "2026-03-01"}
    )
    assert response.status_code == 400
    assert "to" in response.json()


@pytest.mark.parametrize(
    "params",
    [{"from": "2020-01-01", "to": "2026-01-01"}, {"from": "soon"}, {"to": "2026-02-31"}],
    ids=["longer than 366 days", "not a time", "no such day"],
)
def test_a_bad_unusual_period_is_400_naming_it(params, accountable, client_for):
    response = client_for(accountable.borough.manager.user).get(f"{API}audit/unusual/", params)
    assert response.status_code == 400, response.content[:300]
    assert set(response.json()) & {"from", "to"}


def test_who_reads_the_agency_views(accountable, client_for):
    b = accountable.borough
    for url in (f"{API}audit/", f"{API}audit/unusual/"):
        answers = {
            who: client_for(user).get(url).status_code
            for who, user in {
                "manager": b.manager.user,
                "dpo": accountable.dpo.user,
                "key worker": b.key_worker.user,
                "partner": b.partner.user,
                "anonymous": None,
            }.items()
        }
        assert answers == {
            "manager": 200,
            "dpo": 200,
            "key worker": 403,
            "partner": 403,
            "anonymous": 401,
        }, url


# --- the pages ------------------------------------------------------------------------------------


def _page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_family_page_links_the_log_for_those_who_may_read_it(accountable):
    b = accountable.borough
    url = f"/families/{b.family.id}/"
    for user, shown in (
        (b.key_worker.user, True),
        (b.manager.user, True),
        (b.lead_practitioner.user, False),
        (b.partner.user, False),
    ):
        html = _page(user).get(url).content.decode()
        assert ('id="access-log-link"' in html) is shown, user
        assert (f"/families/{b.family.id}/access-log/" in html) is shown
        # The subject access export: lead-agency managers only, one link per member.
        assert (
            f"/families/{b.family.id}/members/{accountable.member.id}/subject-access/" in html
        ) is (user == b.manager.user)


def test_the_log_page_shows_the_partners_read(accountable):
    b = accountable.borough
    assert _page(b.partner.user).get(f"/families/{b.family.id}/").status_code == 200
    response = _page(b.key_worker.user).get(f"/families/{b.family.id}/access-log/")
    assert response.status_code == 200
    html = response.content.decode()
    assert b.partner.user.get_full_name() in html
    assert b.school.name in html
    assert "On the team under a lawful basis" in html
    assert basis_words(accountable.consent) in html


def test_the_managers_home_links_the_logs(accountable):
    html = _page(accountable.borough.manager.user).get("/manager/").content.decode()
    assert 'href="/audit/"' in html and 'href="/audit/unusual/"' in html


def test_the_dpo_lands_on_unusual_access_and_sees_no_family(accountable):
    b = accountable.borough
    client = _page(accountable.dpo.user)
    response = client.get("/home/")
    assert response.status_code == 302 and response["Location"] == "/audit/unusual/"
    assert client.get("/audit/unusual/").status_code == 200
    assert client.get("/audit/").status_code == 200
    assert client.get(f"/families/{b.family.id}/").status_code == 404
    assert client.get(f"/families/{b.family.id}/access-log/").status_code == 404


def test_the_agency_log_page_filters_and_refuses_bad_filters(accountable):
    b = accountable.borough
    assert _page(b.partner.user).get(f"/families/{b.family.id}/").status_code == 200
    assert _page(b.outsider.user).get(f"/families/{b.family.id}/").status_code == 404
    client = _page(b.manager.user)
    html = client.get("/audit/", {"username": b.partner.user.username}).content.decode()
    assert b.partner.user.get_full_name() in html
    assert b.outsider.user.get_full_name() not in html
    html = client.get("/audit/", {"outcome": "denied"}).content.decode()
    assert b.outsider.user.get_full_name() in html and "Refused" in html
    html = client.get("/audit/", {"family": b.family.reference.lower()}).content.decode()
    assert b.partner.user.get_full_name() in html
    for bad in (
        {"agency": "abc"},
        {"action": "delete"},
        {"start-day": "31", "start-month": "2", "start-year": "2026"},
        {"end-day": "1", "end-month": "1", "end-year": "99999"},
        {
            "start-day": "3",
            "start-month": "3",
            "start-year": "2026",
            "end-day": "1",
            "end-month": "3",
            "end-year": "2026",
        },
    ):
        response = client.get("/audit/", bad)
        assert response.status_code == 400, bad
        assert b'class="govuk-error-summary"' in response.content, bad


# --- hostile cursors (as tests/test_hostile_input.py for the other lists) ------------------------

CURSORS = [*ANY_LIST_CURSORS.items(), *TYPED_CURSORS["time"].items()]


@pytest.mark.parametrize("value", [v for _, v in CURSORS], ids=[k for k, _ in CURSORS])
def test_a_tampered_cursor_is_400(value, accountable, client_for):
    b = accountable.borough
    for user, url in (
        (b.key_worker.user, f"{API}families/{b.family.id}/access-log/"),
        (accountable.dpo.user, f"{API}audit/"),
    ):
        response = client_for(user).get(url, {"cursor": value})
        assert response.status_code == 400, (url, response.content[:300])
        assert response.json() == INVALID_CURSOR
