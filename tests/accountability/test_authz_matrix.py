"""The access log's endpoints × every actor of tests/cases/test_authz_matrix.py (its world,
call helper and 401/403/404 rule; the data protection officer among the actors), generated:

- a family's access log: the key worker and lead-agency managers (`access.may_read_access_log`);
- the subject access export: lead-agency managers (`access.may_request_subject_access`), 202;
- the agency-wide log and the unusual access: managers and data protection officers
  (`access.may_read_agency_access_log`), not family-scoped (403 for the others).

A denied request changes nothing (no report is asked for); an allowed subject access request
queues one. Every (route, method) of accountability/urls.py has a row.
"""

from __future__ import annotations

import itertools

import pytest

from accountability import urls
from reports.models import ReportJob
from tests.cases.test_authz_matrix import (  # noqa: F401 - `world` is the matrix's fixture
    ACTORS,
    ANONYMOUS,
    DPO,
    KEY_WORKER,
    MANAGER,
    Endpoint,
    Rule,
    _call,
    snapshot,
    world,
)
from tests.routes import routes_served

F = "families/{family}/"
LOG_READERS = Rule(allowed=frozenset({KEY_WORKER, MANAGER}))
LEAD_MANAGERS = Rule(allowed=frozenset({MANAGER}))
AUDIT_READERS = Rule(allowed=frozenset({MANAGER, DPO}), visible=None)

ENDPOINTS = (
    Endpoint("family-access-log", "GET", F + "access-log/", LOG_READERS),
    Endpoint("subject-access", "POST", F + "members/{member}/subject-access/", LEAD_MANAGERS, 202),
    Endpoint("audit-list", "GET", "audit/", AUDIT_READERS),
    Endpoint("audit-unusual", "GET", "audit/unusual/", AUDIT_READERS),
)

CASES = [
    pytest.param(endpoint, actor, id=f"{endpoint.id} as {actor}")
    for endpoint, actor in itertools.product(ENDPOINTS, ACTORS)
]


def _reports() -> int:
    return ReportJob.objects.count()


@pytest.mark.parametrize("endpoint, actor", CASES)
def test_matrix(endpoint: Endpoint, actor: str, request, client_for):
    w = request.getfixturevalue("world")  # the matrix's world (imported above)
    client = client_for(w.users[actor])
    expected = endpoint.rule.expected(actor, endpoint.success)
    before, reports = snapshot(w), _reports()

    response = _call(client, endpoint, w)

    assert response.status_code == expected, (response.status_code, response.content[:300])
    assert snapshot(w) == before, "reading the access log changed the record"
    assert _reports() == reports + (1 if expected == 202 else 0)
    if expected == 404:
        missing = dict(w.ids, family=w.family.id + 1000)
        ghost = _call(client, endpoint, w, ids=missing)
        assert (ghost.status_code, ghost.json()) == (404, response.json())
    if expected == 401:
        assert response.json()["code"] == "not_authenticated"
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


def test_matrix_covers_every_route_and_method():
    assert {(e.name, e.method) for e in ENDPOINTS} == routes_served(urls)
    assert ANONYMOUS in ACTORS and DPO in ACTORS
