"""Every list and detail of the access log's readers costs the same number of statements for
2 rows as for 12 (through token-authenticated HTTP), within its budget: a family's log, the
agency-wide log (filtered too), the unusual access (emergency access by person, reads outside
a caseload or team, bursts), and asking for a subject access export."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind
from agencies.roles import Role
from consent import services as consent_services
from tests import factories as f

API = "/api/v1/"
SMALL, LARGE = 2, 12
pytestmark = pytest.mark.django_db


@dataclass
class Ctx:
    accountable: object
    readers: list

    @property
    def b(self):
        return self.accountable.borough


def _new_reader(c: Ctx, agency_kind=AgencyKind.HEALTH):
    """Another person, of an agency of their own, reading the family under emergency access
    (a grant, a read): a new row in every list here."""
    agency = f.agency_make(kind=agency_kind)
    staff = f.staff_make(agency=agency, role=Role.PRACTITIONER)
    consent_services.emergency_access_grant(
        family_id=c.b.family.id, by=staff, reason="Urgent referral out of hours, no one else."
    )
    c.readers.append(staff)
    return staff


def grow(c: Ctx, n: int, client_for) -> None:
    for _ in range(n):
        reader = _new_reader(c)
        response = client_for(reader.user).get(f"{API}families/{c.b.family.id}/")
        assert response.status_code == 200


@dataclass(frozen=True)
class Measured:
    name: str
    method: str
    url: object  # callable(Ctx) -> str
    who: str  # "manager" or "dpo"
    budget: int
    rows: object = None  # callable(json) -> number of rows shown


def _results(body) -> int:
    return len(body["results"])


# Budgets, counted then frozen: token auth (1); a family's: the family with the access check
# (1), the rows (1, names and bases annotated), the access event (1); the agency-wide log: the
# rows (1; reading it is not family-scoped, so no event); the unusual access: emergency grants
# and emergency reads (2), the count and the newest reads outside (2), the reads for bursts (1),
# people and agencies by name (2); the export: the checks, the job and its queueing.
ENDPOINTS = (
    Measured(
        "family access log",
        "get",
        lambda c: f"{API}families/{c.b.family.id}/access-log/?page_size=200",
        "manager",
        4,
        _results,
    ),
    Measured("agency log", "get", lambda c: f"{API}audit/?page_size=200", "dpo", 2, _results),
    Measured(
        "agency log, filtered",
        "get",
        lambda c: f"{API}audit/?footing=emergency&unusual=true&page_size=200",
        "manager",
        2,
        _results,
    ),
    Measured(
        "unusual access",
        "get",
        lambda c: f"{API}audit/unusual/",
        "dpo",
        8,
        lambda body: len(body["emergency"]) + len(body["outside"]),
    ),
    Measured(
        "subject access export",
        "post",
        lambda c: (
            f"{API}families/{c.b.family.id}/members/{c.accountable.member.id}/subject-access/"
        ),
        "manager",
        10,
    ),
)


def _ask(client, endpoint: Measured, ctx: Ctx):
    with CaptureQueriesContext(connection) as captured:
        response = getattr(client, endpoint.method)(endpoint.url(ctx))
    assert response.status_code in (200, 202), response.content[:300]
    return response, captured.captured_queries


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_query_count_is_constant(
    endpoint, accountable, client_for, django_capture_on_commit_callbacks
):
    ctx = Ctx(accountable=accountable, readers=[])
    reader = accountable.borough.manager if endpoint.who == "manager" else accountable.dpo
    client = client_for(reader.user)
    grow(ctx, SMALL, client_for)
    _ask(client, endpoint, ctx)  # warm the process-wide caches
    small, small_sql = _ask(client, endpoint, ctx)
    grow(ctx, LARGE - SMALL, client_for)
    large, large_sql = _ask(client, endpoint, ctx)
    if endpoint.rows is not None:
        assert endpoint.rows(large.json()) - endpoint.rows(small.json()) >= LARGE - SMALL
    if os.environ.get("SHOW_QUERY_COUNTS"):
        print(f"\n{endpoint.name}: {len(small_sql)} -> {len(large_sql)}")
    assert len(small_sql) == len(large_sql), (
        f"{endpoint.name}: {len(small_sql)} queries with {SMALL} rows, {len(large_sql)} with"
        f" {LARGE}",
        [q["sql"] for q in large_sql],
    )
    assert len(large_sql) <= endpoint.budget, [q["sql"] for q in large_sql]


PAGES = (
    Measured(
        "family access log page",
        "get",
        lambda c: f"/families/{c.b.family.id}/access-log/",
        "manager",
        6,
        lambda html: html.count("data-event-id="),
    ),
    Measured(
        "agency log page",
        "get",
        lambda c: "/audit/?footing=emergency",
        "dpo",
        5,
        lambda html: html.count("data-event-id="),
    ),
    Measured(
        "unusual access page",
        "get",
        lambda c: "/audit/unusual/",
        "manager",
        10,
        lambda html: html.count("data-user-id="),
    ),
)


@pytest.mark.parametrize("page", PAGES, ids=lambda e: e.name)
def test_page_query_count_is_constant(page, accountable, client_for):
    ctx = Ctx(accountable=accountable, readers=[])
    reader = accountable.borough.manager if page.who == "manager" else accountable.dpo
    client = Client()
    client.force_login(reader.user)
    grow(ctx, SMALL, client_for)
    _ask(client, page, ctx)
    small, small_sql = _ask(client, page, ctx)
    grow(ctx, LARGE - SMALL, client_for)
    large, large_sql = _ask(client, page, ctx)
    shown = page.rows(large.content.decode()) - page.rows(small.content.decode())
    assert shown >= LARGE - SMALL
    if os.environ.get("SHOW_QUERY_COUNTS"):
        print(f"\n{page.name}: {len(small_sql)} -> {len(large_sql)}")
    assert len(small_sql) == len(large_sql), [q["sql"] for q in large_sql]
    assert len(large_sql) <= page.budget, [q["sql"] for q in large_sql]


def test_every_route_is_measured():
    from accountability import urls

    assert {p.name for p in urls.urlpatterns} == {
        "family-access-log",
        "audit-list",
        "audit-unusual",
        "subject-access",
    }
    assert len(ENDPOINTS) == 5
    from accountability import page_urls

    assert {p.name for p in page_urls.urlpatterns} - {"subject-access-page"} == {
        "family-access-log-page",
        "audit-log-page",
        "unusual-access-page",
    }
