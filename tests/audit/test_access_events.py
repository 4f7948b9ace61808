"""Every request about a family leaves exactly the access events it should: the route table below
is checked against the URL conf (every API route and page whose address names a family, and the
routes listed in `OTHER_FAMILY_ROUTES`), so a new route without a row fails
`test_every_family_route_is_in_the_table`.

For each row and each actor of tests/audit/conftest.py the request is made (in a savepoint that
is rolled back) and the events carrying its request id are compared, field by field, with what
the access rule says: one event, allowed on the actor's footing (the partner's with the consent
that covers the school) with the response's status; or denied with no footing: 404 for whoever
does not see the family (the outsider), 403 for whoever sees it without the permission (the
partner on a change, the emergency reader on a write). Lists (the API's families list and the
home pages) name exactly the families they showed, one "list" event each.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from audit.chain import EVENT_COLUMNS
from audit.models import AccessEvent
from tests import factories as f
from tests.audit.conftest import (
    ACTORS,
    EMERGENCY,
    FOOTINGS,
    KEY_WORKER,
    MANAGER,
    OUTSIDER,
    PARTNER,
    AuditWorld,
)

API = "api/v1/"
VISIBLE = frozenset({KEY_WORKER, MANAGER, PARTNER, EMERGENCY})
RECORDERS = frozenset({KEY_WORKER, MANAGER, PARTNER})
CHANGERS = frozenset({KEY_WORKER, MANAGER})  # CHANGE and SHARING: the key worker, the lead
LEAD_MANAGER = frozenset({MANAGER})
EVERYONE = frozenset(ACTORS)
CLIENT_IP = "203.0.113.7"

# Routes about families whose address does not name one: lists (each family shown is an event),
# decisions on an emergency grant (the grant names the family), reports (one about a family
# names it).
OTHER_FAMILY_ROUTES = frozenset(
    {
        "family-list",
        "caseload",
        "partner-families",
        "manager-overview",
        "emergency-access-review",
        "emergency-access-approve",
        "emergency-review-page",
        "report-list",
        "report-detail",
        "report-download",
        "report-page",
    }
)

# Path parameter → the world's id that fills it (a row's `params` picks another).
PARAMS = {
    "family_id": "family",
    "member_id": "member",
    "involvement_id": "involvement",
    "need_id": "need",
    "action_id": "action_partner",
    "basis_id": "consent",
    "grant_id": "grant",
    "report_id": "report",
}


@dataclass(frozen=True)
class Row:
    """What a (route, method) writes to the access log.

    `object_type` None: no event (the route reads nothing of a family); `apart`: the test below
    that checks the route's events instead (lists, opening a family). `allowed`: who the rule
    lets through; others who see the family get 403, the rest 404, each a denial. `footing`:
    one footing for everyone allowed (asking for emergency access stands on break-glass whoever
    asks). `owner_only`: the object is the key worker's own (a report): anyone else gets 404, a
    denial naming the object but no family.
    """

    name: str
    method: str
    object_type: str | None
    object_param: str | None = None
    allowed: frozenset[str] = VISIBLE
    params: dict = field(default_factory=dict)
    body: Callable | None = None
    footing: str | None = None
    owner_only: bool = False
    family_key: str = "family"
    apart: str = ""  # the test below that checks this route's events instead

    @property
    def id(self) -> str:
        return f"{self.method} {self.name}"


def _report_body(w: AuditWorld) -> dict:
    return {"kind": "family_summary", "format": "csv", "family": w.ids["family"]}


FAMILY_DETAIL = dict(object_type="family", object_param="family_id")

ROWS = (
    # --- the API of the family record (cases/urls.py) ---
    Row("family-list", "GET", None, apart="test_families_list_names_the_families_shown"),
    Row("family-list", "POST", None, apart="test_opening_a_family_is_a_write_of_it"),
    Row("family-detail", "GET", **FAMILY_DETAIL),
    Row("family-detail", "PATCH", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("member-list", "GET", "member"),
    Row("member-list", "POST", "member", allowed=CHANGERS),
    Row("member-detail", "PATCH", "member", "member_id", allowed=CHANGERS),
    Row("team-list", "GET", "involvement"),
    Row("team-list", "POST", "involvement", allowed=CHANGERS),
    Row("team-detail", "DELETE", "involvement", "involvement_id", allowed=CHANGERS),
    Row("need-list", "GET", "need"),
    Row("need-list", "POST", "need", allowed=RECORDERS),
    Row("need-detail", "GET", "need", "need_id"),
    Row("need-detail", "PATCH", "need", "need_id", allowed=CHANGERS),
    Row("assessment-list", "GET", "assessment"),
    Row("assessment-list", "POST", "assessment", allowed=CHANGERS),
    Row("action-list", "GET", "plan_action"),
    Row("action-list", "POST", "plan_action", allowed=RECORDERS),
    Row("action-detail", "GET", "plan_action", "action_id"),
    # owned by the partner's agency: the partner may change it
    Row("action-detail", "PATCH", "plan_action", "action_id", allowed=RECORDERS),
    Row("intervention-list", "GET", "intervention"),
    Row("intervention-list", "POST", "intervention", allowed=RECORDERS),
    Row("contact-list", "GET", "contact"),
    Row("contact-list", "POST", "contact", allowed=RECORDERS),
    Row("chronology", "GET", "chronology"),
    Row("family-history", "GET", "history"),
    Row("review-list", "GET", "review"),
    Row("review-list", "POST", "review", allowed=CHANGERS),
    Row("family-close", "POST", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-reopen", "POST", **FAMILY_DETAIL, allowed=CHANGERS),  # open: 409
    Row("family-step-up", "POST", **FAMILY_DETAIL, allowed=LEAD_MANAGER),
    Row("family-step-down", "POST", **FAMILY_DETAIL, allowed=LEAD_MANAGER),  # early help: 409
    # --- sharing, disclosures and emergency access (consent/urls.py) ---
    Row("sharing-list", "GET", "sharing_basis"),
    Row("sharing-list", "POST", "sharing_basis", allowed=CHANGERS),
    Row("sharing-withdraw", "POST", "sharing_basis", "basis_id", allowed=CHANGERS),
    Row(
        "sharing-confirm",
        "POST",
        "sharing_basis",
        "basis_id",
        allowed=LEAD_MANAGER,  # the manager the decision names
        params={"basis_id": "decision"},
    ),
    Row(
        "sharing-review",
        "POST",
        "sharing_basis",
        "basis_id",
        allowed=LEAD_MANAGER,
        params={"basis_id": "decision"},
    ),
    Row("disclosure-list", "GET", "disclosure", allowed=CHANGERS),
    Row("emergency-access", "POST", "emergency_access", allowed=EVERYONE, footing="emergency"),
    Row("emergency-access-review", "POST", "emergency_access", "grant_id", allowed=LEAD_MANAGER),
    Row("emergency-access-approve", "POST", "emergency_access", "grant_id", allowed=LEAD_MANAGER),
    # --- reports (reports/urls.py): one about a family is a read of it ---
    Row("report-list", "GET", None),  # your own reports: no family read
    Row("report-list", "POST", "report", body=_report_body),
    Row(
        "report-detail",
        "GET",
        "report",
        "report_id",
        allowed=frozenset({KEY_WORKER}),
        owner_only=True,
    ),
    Row(
        "report-download",
        "GET",
        "report",
        "report_id",
        allowed=frozenset({KEY_WORKER}),
        owner_only=True,
    ),
    # --- pages (each app's page_urls.py) ---
    Row("family-page", "GET", **FAMILY_DETAIL),
    Row("family-page", "POST", None),  # GET only: 405 before any view
    Row("family-history-page", "GET", "history"),
    Row("family-history-page", "POST", None),
    Row("family-edit", "GET", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-edit", "POST", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-close-page", "GET", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-close-page", "POST", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-reopen-page", "GET", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-reopen-page", "POST", **FAMILY_DETAIL, allowed=CHANGERS),
    Row("family-step-up-page", "GET", **FAMILY_DETAIL, allowed=LEAD_MANAGER),
    Row("family-step-up-page", "POST", **FAMILY_DETAIL, allowed=LEAD_MANAGER),
    Row("family-step-down-page", "GET", **FAMILY_DETAIL, allowed=LEAD_MANAGER),
    Row("family-step-down-page", "POST", **FAMILY_DETAIL, allowed=LEAD_MANAGER),
    Row("review-new", "GET", "review", allowed=CHANGERS),
    Row("review-new", "POST", "review", allowed=CHANGERS),
    Row("contact-new", "GET", "contact", allowed=RECORDERS),
    Row("contact-new", "POST", "contact", allowed=RECORDERS),
    Row("intervention-new", "GET", "intervention", allowed=RECORDERS),
    Row("intervention-new", "POST", "intervention", allowed=RECORDERS),
    Row("member-new", "GET", "member", allowed=CHANGERS),
    Row("member-new", "POST", "member", allowed=CHANGERS),
    Row("team-new", "GET", "involvement", allowed=CHANGERS),
    Row("team-new", "POST", "involvement", allowed=CHANGERS),
    Row("team-end", "GET", "involvement", "involvement_id", allowed=CHANGERS),
    Row("team-end", "POST", "involvement", "involvement_id", allowed=CHANGERS),
    Row("need-new", "GET", "need", allowed=RECORDERS),
    Row("need-new", "POST", "need", allowed=RECORDERS),
    Row("need-status", "GET", "need", "need_id", allowed=CHANGERS),
    Row("need-status", "POST", "need", "need_id", allowed=CHANGERS),
    Row("assessment-new", "GET", "assessment", allowed=CHANGERS),
    Row("assessment-new", "POST", "assessment", allowed=CHANGERS),
    Row("action-new", "GET", "plan_action", allowed=RECORDERS),
    Row("action-new", "POST", "plan_action", allowed=RECORDERS),
    Row("action-edit", "GET", "plan_action", "action_id", allowed=RECORDERS),
    Row("action-edit", "POST", "plan_action", "action_id", allowed=RECORDERS),
    Row("sharing-new", "GET", "sharing_basis", allowed=CHANGERS),
    Row("sharing-new", "POST", "sharing_basis", allowed=CHANGERS),
    Row("sharing-withdraw-page", "GET", "sharing_basis", "basis_id", allowed=CHANGERS),
    Row("sharing-withdraw-page", "POST", "sharing_basis", "basis_id", allowed=CHANGERS),
    Row(
        "sharing-confirm-page",
        "GET",
        "sharing_basis",
        "basis_id",
        allowed=LEAD_MANAGER,
        params={"basis_id": "decision"},
    ),
    Row(
        "sharing-confirm-page",
        "POST",
        "sharing_basis",
        "basis_id",
        allowed=LEAD_MANAGER,
        params={"basis_id": "decision"},
    ),
    # The form to ask for emergency access is the same for every id and reads nothing of the
    # family; asking (the POST) is the API's request.
    Row("emergency-access-page", "GET", None),
    Row("emergency-access-page", "POST", "emergency_access", allowed=EVERYONE, footing="emergency"),
    Row("emergency-review-page", "GET", "emergency_access", "grant_id", allowed=LEAD_MANAGER),
    Row("emergency-review-page", "POST", "emergency_access", "grant_id", allowed=LEAD_MANAGER),
    Row("family-summary-new", "GET", "report"),
    Row("family-summary-new", "POST", "report"),
    Row(
        "report-page",
        "GET",
        "report",
        "report_id",
        allowed=frozenset({KEY_WORKER}),
        owner_only=True,
    ),
    Row("report-page", "POST", None),
    # --- the access log's own readers (accountability): reading it is reading the family's ---
    Row("family-access-log", "GET", "access_log", allowed=CHANGERS),
    Row("family-access-log-page", "GET", "access_log", allowed=CHANGERS),
    Row("family-access-log-page", "POST", None),  # GET only: 405 before any view
    Row("subject-access", "POST", "subject_access", "member_id", allowed=LEAD_MANAGER),
    Row("subject-access-page", "GET", "subject_access", "member_id", allowed=LEAD_MANAGER),
    Row("subject-access-page", "POST", "subject_access", "member_id", allowed=LEAD_MANAGER),
    # --- home pages ---
    Row("caseload", "GET", None, apart="test_home_pages_name_the_families_shown"),
    Row("caseload", "POST", None),  # GET only: 405 before any view
    Row("partner-families", "GET", None, apart="test_home_pages_name_the_families_shown"),
    Row("partner-families", "POST", None),
    Row("manager-overview", "GET", None, apart="test_home_pages_name_the_families_shown"),
    Row("manager-overview", "POST", None),
)


# --- the URL conf -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    api: bool
    methods: tuple[str, ...]


def family_routes() -> dict[tuple[str, str], Route]:
    """(url name, method) → route, of every route about families: an API route or a page whose
    address names a family, and `OTHER_FAMILY_ROUTES`."""
    found: dict[tuple[str, str], Route] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(("admin/", "static/")):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
                continue
            assert isinstance(pattern, URLPattern)
            if "<int:family_id>" not in route and pattern.name not in OTHER_FAMILY_ROUTES:
                continue
            api = route.startswith(API)
            view = getattr(pattern.callback, "view_class", None)
            if api:
                methods = tuple(
                    m.upper()
                    for m in view.http_method_names
                    if m not in {"options", "head", "trace"} and hasattr(view, m)
                )
            else:
                methods = ("GET", "POST")
            for method in methods:
                found[(pattern.name, method)] = Route(pattern.name, route, api, methods)

    walk(get_resolver().url_patterns, "")
    return found


def test_every_family_route_is_in_the_table():
    routes = family_routes()
    tabled = {(row.name, row.method) for row in ROWS}
    missing = sorted(set(routes) - tabled)
    assert not missing, f"family routes with no row in {__name__}.ROWS: {missing}"
    stale = sorted(tabled - set(routes))
    assert not stale, f"rows for routes that are not served: {stale}"
    assert len(tabled) == len(ROWS), "a (route, method) has two rows"


# --- asking -------------------------------------------------------------------------------------


def _path(route: Route, row: Row, w: AuditWorld) -> tuple[str, dict[str, int]]:
    values: dict[str, int] = {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        key = row.params.get(name) or PARAMS[name]
        values[name] = w.ids[key]
        return str(values[name])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route.route), values


_CLIENTS: dict[str, Client] = {}


def _request(route: Route, row: Row, w: AuditWorld, actor: str, path: str, request_id: str):
    user = w.users[actor]
    body = row.body(w) if row.body else {}
    headers = {"HTTP_X_REQUEST_ID": request_id, "REMOTE_ADDR": CLIENT_IP}
    if route.api:
        client = _CLIENTS.setdefault("api", APIClient())
        client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
        if row.method == "GET":
            return client.get(path, **headers)
        return getattr(client, row.method.lower())(path, body, format="json", **headers)
    client = _CLIENTS.setdefault("page", Client())
    client.cookies.clear()
    client.force_login(user)
    return getattr(client, row.method.lower())(path, body, **headers)


EVENT_FIELDS = tuple(name for name in EVENT_COLUMNS if name != "at")


def expected_event(row: Row, w: AuditWorld, actor: str, path: str, values, response) -> dict:
    allowed = actor in row.allowed
    footing = (row.footing or FOOTINGS[actor]) if allowed else ""
    if allowed:
        assert response.status_code not in (403, 404), (actor, response.status_code)
    elif row.owner_only or actor not in VISIBLE:
        assert response.status_code == 404, (actor, response.status_code)
    else:
        assert response.status_code == 403, (actor, response.status_code)
    family_id = w.ids[row.family_key]
    if row.owner_only and not allowed:
        family_id = None  # not the person's report: refused before its family is looked at
    return {
        "user_id": w.users[actor].id,
        "agency_id": w.staff[actor].agency_id,
        "family_id": family_id,
        "action": "read" if row.method == "GET" else "write",
        "object_type": row.object_type,
        "object_id": values[row.object_param] if row.object_param else None,
        "footing": footing,
        "basis_id": w.ids["consent"] if footing == "team" else None,
        "outcome": "allowed" if allowed else "denied",
        "method": row.method,
        "path": path,
        "status_code": response.status_code,
        "emergency": footing == "emergency",
        "request_id": response["X-Request-ID"],
        "client_ip": CLIENT_IP,
    }


CASES = [pytest.param(row, id=row.id) for row in ROWS if not row.apart]


@pytest.mark.parametrize("row", CASES)
def test_each_request_leaves_the_events_the_rule_gives(row: Row, audit_world, db):
    routes = family_routes()
    route = routes[(row.name, row.method)]
    path, values = _path(route, row, audit_world)
    wrong = []
    for actor in ACTORS:
        request_id = uuid.uuid4().hex
        with transaction.atomic():
            response = _request(route, row, audit_world, actor, path, request_id)
            events = list(
                AccessEvent.objects.filter(request_id=request_id)
                .order_by("id")
                .values(*EVENT_FIELDS)
            )
            transaction.set_rollback(True)
        assert response["X-Request-ID"] == request_id
        if row.object_type is None:
            if events:
                wrong.append(f"{actor}: {len(events)} events, expected none")
            continue
        want = expected_event(row, audit_world, actor, path, values, response)
        if events != [want]:
            wrong.append(f"{actor} ({response.status_code}): got {events}, expected [{want}]")
    assert not wrong, "\n".join(wrong)


# --- lists: one event per family shown ----------------------------------------------------------


def _footing_of(actor: str, family_key: str, w: AuditWorld) -> tuple[str, int | None]:
    if actor == PARTNER:
        basis = "consent" if family_key == "family" else "second_consent"
        return "team", w.ids[basis]
    if actor == KEY_WORKER and family_key == "second":
        return "lead_agency", None  # not its key worker: the lead agency's sight
    return FOOTINGS[actor], None


def _list_events(request_id: str) -> list[dict]:
    return list(
        AccessEvent.objects.filter(request_id=request_id)
        .order_by("family_id")
        .values("family_id", "action", "object_type", "object_id", "footing", "basis_id")
        .distinct()
    )


def _family_key(w: AuditWorld, family_id: int) -> str:
    return {w.ids["family"]: "family", w.ids["second"]: "second"}[family_id]


def _want(w: AuditWorld, actor: str, family_ids) -> list[dict]:
    out = []
    for family_id in sorted(family_ids):
        footing, basis_id = _footing_of(actor, _family_key(w, family_id), w)
        out.append(
            {
                "family_id": family_id,
                "action": "list",
                "object_type": "family",
                "object_id": None,
                "footing": footing,
                "basis_id": basis_id,
            }
        )
    return out


@pytest.mark.parametrize("actor", ACTORS)
def test_families_list_names_the_families_shown(actor, audit_world, client_for, db):
    client = client_for(audit_world.users[actor])
    for query in ("", "?page_size=1", "?q=Jones"):
        request_id = uuid.uuid4().hex
        response = client.get(f"/api/v1/families/{query}", HTTP_X_REQUEST_ID=request_id)
        assert response.status_code == 200
        shown = [r["id"] for r in response.json()["results"]]
        assert _list_events(request_id) == _want(audit_world, actor, shown), query
        every = AccessEvent.objects.filter(request_id=request_id)
        assert every.count() == len(shown)  # one row per family, nothing else
        assert set(every.values_list("status_code", "outcome", "method")) <= {
            (200, "allowed", "GET")
        }
    if actor == OUTSIDER:
        assert not shown


HOME_PAGES = {KEY_WORKER: "/caseload/", PARTNER: "/families/", MANAGER: "/manager/"}


@pytest.mark.parametrize("actor", sorted(HOME_PAGES))
def test_home_pages_name_the_families_shown(actor, audit_world, db):
    client = Client()
    client.force_login(audit_world.users[actor])
    request_id = uuid.uuid4().hex
    response = client.get(HOME_PAGES[actor], HTTP_X_REQUEST_ID=request_id)
    assert response.status_code == 200
    shown = {int(i) for i in re.findall(r'href="/families/(\d+)/"', response.content.decode())}
    assert shown, "the home page shows no family"
    assert _list_events(request_id) == _want(audit_world, actor, shown)
    assert AccessEvent.objects.filter(request_id=request_id).count() == len(shown)


def test_opening_a_family_is_a_write_of_it(audit_world, client_for, db):
    for actor in ACTORS:
        request_id = uuid.uuid4().hex
        response = client_for(audit_world.users[actor]).post(
            "/api/v1/families/",
            {"name": "Brown household", "postcode": "LS2 7EW"},
            format="json",
            HTTP_X_REQUEST_ID=request_id,
        )
        events = list(
            AccessEvent.objects.filter(request_id=request_id).values(
                "family_id", "action", "object_type", "footing", "outcome", "status_code"
            )
        )
        if actor not in (KEY_WORKER, MANAGER):
            assert response.status_code == 403
            assert events == []  # no family: nothing was asked about one
            continue
        assert response.status_code == 201, response.content[:300]
        footing = "key_worker" if actor == KEY_WORKER else "lead_agency"
        assert events == [
            {
                "family_id": response.json()["id"],
                "action": "write",
                "object_type": "family",
                "footing": footing,
                "outcome": "allowed",
                "status_code": 201,
            }
        ]
