"""Every list and detail endpoint costs a constant number of SQL queries.

Each endpoint is measured twice through real token-authenticated HTTP: with 2 rows of what it
shows, then with 12. The two counts must be equal (no N+1) and within the endpoint's budget.
The visible-families query itself must be driven from the direct-FK grant tables.
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import access, services
from cases.models import HeadlineOutcome
from tests import factories as f

API = "/api/v1/"
SMALL, LARGE = 2, 12
_n = itertools.count(1)


@dataclass
class Ctx:
    borough: object
    agency_admin: object
    action: object = None
    need: object = None


@pytest.fixture
def ctx(borough) -> Ctx:
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    return Ctx(borough=borough, agency_admin=admin)


def _family_path(c: Ctx, tail: str = "") -> str:
    return f"{API}families/{c.borough.family.id}/{tail}"


# --- growing the data: each adds `n` more rows of what the endpoint shows ------------------------


def _kw(c: Ctx):
    return c.borough.key_worker


def _need(c: Ctx):
    return services.need_create(
        family=c.borough.family, by=_kw(c), outcome=f.outcome("health"), descriptor="Need"
    )


def _person(c: Ctx):
    return f.PersonFactory(family=c.borough.family)


def grow_families(c: Ctx, n: int) -> None:
    for _ in range(n):
        f.family_make(by=_kw(c), name=f"Household {next(_n)}")


def grow_members(c: Ctx, n: int) -> None:
    for _ in range(n):
        _person(c)


def grow_team(c: Ctx, n: int) -> None:
    for _ in range(n):
        agency = f.agency_make(kind=AgencyKind.VOLUNTARY)
        practitioner = f.staff_make(agency=agency)
        f.involvement_make(
            family=c.borough.family, by=_kw(c), agency=agency, practitioner=practitioner.user
        )


def grow_needs(c: Ctx, n: int) -> None:
    person = c.borough.family.members.first() or _person(c)
    for _ in range(n):
        services.need_create(
            family=c.borough.family,
            by=_kw(c),
            outcome=f.outcome("education"),
            descriptor="Attendance",
            person=person,
        )


def grow_family_detail(c: Ctx, n: int) -> None:
    grow_members(c, n)
    grow_team(c, n)
    grow_needs(c, n)


def grow_assessments(c: Ctx, n: int) -> None:
    for i in range(n):
        services.assessment_create(
            family=c.borough.family,
            by=_kw(c),
            completed_on=date(2025, 1, 1) + timedelta(days=i),
            summary="Assessment",
        )


def grow_actions(c: Ctx, n: int) -> None:
    needs = [_need(c), _need(c)]
    for i in range(n):
        services.plan_action_create(
            family=c.borough.family,
            by=_kw(c),
            description=f"Action {i}",
            owner_agency=c.borough.school,
            due_on=date(2026, 1, 1) + timedelta(days=i),
            needs=needs,
        )


def grow_need_detail(c: Ctx, n: int) -> None:
    """More needs on the family; the detail shows the first."""
    needs = [_need(c) for _ in range(n)]
    c.need = c.need or needs[0]


def grow_action_needs(c: Ctx, n: int) -> None:
    if c.action is None:
        c.action = services.plan_action_create(
            family=c.borough.family,
            by=_kw(c),
            description="One action",
            owner_agency=c.borough.school,
            due_on=date(2026, 1, 1),
            needs=[],
        )
    c.action.needs.add(*[_need(c) for _ in range(n)])


def grow_interventions(c: Ctx, n: int) -> None:
    need, person = _need(c), _person(c)
    for i in range(n):
        services.intervention_create(
            family=c.borough.family,
            by=_kw(c),
            kind="parenting",
            title=f"Intervention {i}",
            started_on=date(2025, 1, 1) + timedelta(days=i),
            needs=[need],
            persons=[person],
        )


def _contacts(c: Ctx, n: int) -> None:
    person = _person(c)
    for i in range(n):
        services.contact_create(
            family=c.borough.family,
            by=c.borough.partner,
            occurred_at=datetime(2025, 1, 1, 9, tzinfo=UTC) + timedelta(hours=i),
            method="phone",
            summary=f"Contact {i}",
            persons=[person],
        )


grow_contacts = grow_chronology = _contacts


def grow_history(c: Ctx, n: int) -> None:
    """n more changed fields: the family's level of need, changed n times."""
    from cases.models import Family

    for _ in range(n):
        family = Family.objects.get(id=c.borough.family.id)
        services.family_update(
            family_id=family.id,
            by=_kw(c),
            expected_version=family.version,
            level_of_need=1 + family.version % 4,
        )


def grow_outcomes(c: Ctx, n: int) -> None:
    for _ in range(n):
        i = next(_n)
        HeadlineOutcome.objects.create(
            code=f"extra_{i}", label=f"Extra {i}", framework_version="2022", position=100 + i
        )


def grow_agencies(c: Ctx, n: int) -> None:
    for _ in range(n):
        f.agency_make(kind=AgencyKind.OTHER)


def grow_staff(c: Ctx, n: int) -> None:
    for _ in range(n):
        f.staff_make(agency=c.borough.early_help)


def grow_tokens(c: Ctx, n: int) -> None:
    from agencies import services as agency_services

    for _ in range(n):
        agency_services.token_issue(user=_kw(c).user)


def grow_reviews(c: Ctx, n: int) -> None:
    today = date.today()
    for i in range(n):
        services.review_create(
            family_id=c.borough.family.id,
            by=_kw(c),
            held_on=today - timedelta(days=i % 300),
            attendees=[c.borough.early_help, c.borough.school],
            decisions="Plan reviewed.",
            next_review_on=today + timedelta(days=42),
        )


# --- the table ---------------------------------------------------------------------------------


def results(body) -> int:
    return len(body["results"])


@dataclass(frozen=True)
class Measured:
    name: str
    url: object  # callable(Ctx) -> str
    grow: object  # callable(Ctx, n)
    budget: int  # absolute ceiling on queries for one request
    rows: object = results  # callable(json) -> int, or None when the endpoint shows no rows
    actor: str = "key_worker"
    per: int = 1  # rows shown per unit grown


# Budgets: token auth with the staff membership (1, agencies/authentication.py) + the family with
# the access check (1 per family-scoped view; 2 for the detail, which also loads names) + the page
# itself and its prefetches + the access log's one INSERT of a request about families (1: the
# family's event, or one row per family a list shows). Counted, then frozen: a rise means a new
# query per request.
ENDPOINTS = (
    Measured("families list", lambda c: API + "families/", grow_families, 3),
    Measured(
        "family detail",
        _family_path,
        grow_family_detail,
        8,
        rows=lambda b: len(b["members"]) + len(b["team"]) + len(b["needs"]),
        per=3,
    ),
    Measured("members", lambda c: _family_path(c, "members/"), grow_members, 4),
    Measured("team", lambda c: _family_path(c, "team/"), grow_team, 4),
    Measured("needs", lambda c: _family_path(c, "needs/"), grow_needs, 4),
    Measured(
        "need detail",
        lambda c: _family_path(c, f"needs/{c.need.id}/"),
        grow_need_detail,
        4,
        rows=None,
    ),
    Measured("assessments", lambda c: _family_path(c, "assessments/"), grow_assessments, 4),
    Measured("actions", lambda c: _family_path(c, "actions/"), grow_actions, 5),
    Measured(
        "action detail",
        lambda c: _family_path(c, f"actions/{c.action.id}/"),
        grow_action_needs,
        5,
        rows=lambda b: len(b["needs"]),
    ),
    Measured("interventions", lambda c: _family_path(c, "interventions/"), grow_interventions, 6),
    Measured("contacts", lambda c: _family_path(c, "contacts/"), grow_contacts, 5),
    Measured("chronology", lambda c: _family_path(c, "chronology/"), grow_chronology, 4),
    # Six history tables, the plan actions' needs, the names of people and of agencies.
    Measured("history", lambda c: _family_path(c, "history/?page_size=200"), grow_history, 12),
    Measured("reviews", lambda c: _family_path(c, "reviews/"), grow_reviews, 5),
    Measured("outcomes", lambda c: API + "outcomes/", grow_outcomes, 2),
    Measured("agencies list", lambda c: API + "agencies/", grow_agencies, 2),
    Measured(
        "staff list",
        lambda c: f"{API}agencies/{c.borough.early_help.id}/staff/",
        grow_staff,
        3,
        actor="agency_admin",
    ),
    Measured("me", lambda c: API + "me/", grow_staff, 1, rows=None),
    Measured("token list", lambda c: API + "auth/tokens/", grow_tokens, 2),
)


def _get(client, url: str):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return response, len(captured.captured_queries), captured.captured_queries


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_query_count_is_constant(
    endpoint: Measured, ctx: Ctx, client_for, django_assert_max_num_queries
):
    user = ctx.agency_admin.user if endpoint.actor == "agency_admin" else _kw(ctx).user
    client = client_for(user)

    endpoint.grow(ctx, SMALL)
    _get(client, endpoint.url(ctx))  # warm process-wide caches (content types, permissions)
    small, small_count, small_sql = _get(client, endpoint.url(ctx))

    endpoint.grow(ctx, LARGE - SMALL)
    with django_assert_max_num_queries(endpoint.budget):
        large, large_count, large_sql = _get(client, endpoint.url(ctx))

    if endpoint.rows is not None:
        shown = endpoint.rows(large.json()) - endpoint.rows(small.json())
        assert shown == (LARGE - SMALL) * endpoint.per
    if os.environ.get("SHOW_QUERY_COUNTS"):
        print(f"\n{endpoint.name}: {small_count} -> {large_count}")
    assert small_count == large_count, (
        f"{endpoint.name}: {small_count} queries with {SMALL} rows, {large_count} with {LARGE}",
        [q["sql"] for q in large_sql],
    )


def test_every_get_endpoint_is_measured():
    """Every GET route of cases/urls.py and agencies/urls.py has a row in the table above."""
    from agencies import urls as agency_urls
    from cases import urls as case_urls

    served = {
        p.name
        for p in [*case_urls.urlpatterns, *agency_urls.urlpatterns]
        if hasattr(p.callback.view_class, "get")
    }
    measured = {
        "family-list": "families list",
        "family-detail": "family detail",
        "member-list": "members",
        "team-list": "team",
        "need-list": "needs",
        "need-detail": "need detail",
        "assessment-list": "assessments",
        "action-list": "actions",
        "action-detail": "action detail",
        "intervention-list": "interventions",
        "contact-list": "contacts",
        "chronology": "chronology",
        "family-history": "history",
        "outcome-list": "outcomes",
        "review-list": "reviews",
        "agency-list": "agencies list",
        "staff-list": "staff list",
        "me": "me",
        "auth-token-list": "token list",
    }
    assert served == set(measured)
    assert {e.name for e in ENDPOINTS} == set(measured.values())


# --- writes whose count could grow with what the family holds -------------------------------------


# A member's PATCH: token auth (1), the family with the access check (1), the member (1), then the
# service: its savepoint, the family's row lock and the permission re-check (2), the member
# locked (1), its UPDATE, its history row and the chronology entry (3), the savepoint released,
# and the access event (1). Counted, then frozen.
MEMBER_PATCH_BUDGET = 12


def test_member_patch_query_count_is_constant(ctx: Ctx, client_for, django_assert_max_num_queries):
    """With 2 members and a short history, then 12 members and a longer one: the same count."""
    person = _person(ctx)
    client = client_for(_kw(ctx).user)
    url = _family_path(ctx, f"members/{person.id}/")
    names = (f"Name{i}" for i in itertools.count())

    def patch():
        with CaptureQueriesContext(connection) as captured:
            response = client.patch(url, {"given_name": next(names)}, format="json")
        assert response.status_code == 200, response.content[:300]
        return len(captured.captured_queries), captured.captured_queries

    grow_members(ctx, SMALL)
    patch()  # warm process-wide caches
    small, _ = patch()
    grow_members(ctx, LARGE - SMALL)
    for _ in range(LARGE):
        patch()  # more history rows and chronology entries
    with django_assert_max_num_queries(MEMBER_PATCH_BUDGET):
        large, large_sql = patch()
    if os.environ.get("SHOW_QUERY_COUNTS"):
        print(f"\nmember patch: {small} -> {large}")
    assert small == large, (small, large, [q["sql"] for q in large_sql])


# --- the visible-families query -------------------------------------------------------------------

LITERAL_ID_LIST = re.compile(r"\bIN\s*\(\s*\d+(\s*,\s*\d+)*\s*\)", re.IGNORECASE)


@pytest.mark.parametrize("who", ["key_worker", "manager", "lead_practitioner", "partner"])
def test_visible_families_sql_is_driven_from_the_grant_tables(who, borough):
    for i in range(5):
        family = f.family_make(by=borough.key_worker, name=f"Household {i}")
        f.involvement_make(family=family, by=borough.key_worker, agency=borough.school)
        f.consent_make(family=family, by=borough.key_worker, agencies=[borough.school])
    user = getattr(borough, who).user

    qs = access.families_visible_to(user)
    sql = " ".join(str(qs.query).split())
    lowered = sql.lower()

    assert "cases_familygroupobjectpermission" in lowered
    assert "cases_familyuserobjectpermission" in lowered
    assert re.search(r"\bin \(\s*\(?\s*select\b", lowered), sql  # a semi-join on a subquery
    assert " union " in lowered, sql
    assert not LITERAL_ID_LIST.search(sql), sql  # never a Python list of ids
    assert "guardian_groupobjectpermission" not in lowered  # never the generic text-key tables
    assert "guardian_userobjectpermission" not in lowered
    assert " exists" not in lowered, sql  # no scan of families testing each with EXISTS

    with CaptureQueriesContext(connection) as captured:
        ids = list(qs.values_list("id", flat=True))
    assert len(captured.captured_queries) == 1
    assert len(ids) == 6


def test_no_visible_families_is_no_query(borough, django_user_model):
    """Staff without a case role (and non-staff) get an empty queryset, not a query."""
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    root = django_user_model.objects.create_superuser("root", "root@example.org", f.PASSWORD)
    for user in (admin.user, root):
        with CaptureQueriesContext(connection) as captured:
            assert list(access.families_visible_to(user)) == []
        assert all("cases_family" not in q["sql"] for q in captured.captured_queries)
