"""One request, its events: written with one INSERT at the end of the response, whatever its
status (an error response included), carrying the request's id and the client's address."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AccessEvent

INSERT = re.compile(rf'^\s*INSERT INTO "?{AccessEvent._meta.db_table}"?\b', re.IGNORECASE)


def _inserts(captured) -> int:
    return sum(1 for q in captured.captured_queries if INSERT.match(q["sql"]))


# --- one INSERT per request -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "who, path",
    [
        ("key_worker", "/api/v1/families/{id}/"),
        ("partner", "/api/v1/families/{id}/"),
        ("key_worker", "/api/v1/families/"),
        ("partner", "/api/v1/families/"),
    ],
)
def test_an_api_request_writes_its_events_with_one_insert(borough, client_for, who, path):
    from tests import factories as f

    for n in range(3):  # a list of several families: still one INSERT
        family = f.family_make(by=borough.key_worker, name=f"Household {n}")
        f.involvement_make(family=family, by=borough.key_worker, agency=borough.school)
        f.consent_make(family=family, by=borough.key_worker, agencies=[borough.school])
    client = client_for(getattr(borough, who).user)
    url = path.format(id=borough.family.id)
    client.get(url)  # warm the per-process caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    written = AccessEvent.objects.filter(request_id=response["X-Request-ID"]).count()
    assert written >= (4 if path.endswith("families/") else 1)
    assert _inserts(captured) == 1, [q["sql"][:80] for q in captured.captured_queries]


@pytest.mark.parametrize("who", ["key_worker", "partner", "outsider"])
def test_the_family_page_writes_its_event_with_one_insert(borough, who):
    client = Client()
    client.force_login(getattr(borough, who).user)
    path = f"/families/{borough.family.id}/"
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == (404 if who == "outsider" else 200)
    assert AccessEvent.objects.filter(request_id=response["X-Request-ID"]).count() == 1
    assert _inserts(captured) == 1


def test_a_request_that_reads_no_family_writes_nothing(borough, client_for):
    with CaptureQueriesContext(connection) as captured:
        response = client_for(borough.key_worker.user).get("/api/v1/me/")
    assert response.status_code == 200
    assert _inserts(captured) == 0


# --- error responses keep their events ------------------------------------------------------------


def test_a_server_error_keeps_its_event(borough, client_for, monkeypatch):
    from cases import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("the detail could not be loaded")

    monkeypatch.setattr(selectors, "family_detail_prefetch", broken)
    client = client_for(borough.key_worker.user)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/families/{borough.family.id}/")
    assert response.status_code == 500
    event = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert (event.family_id, event.outcome, event.footing, event.status_code) == (
        borough.family.id,
        "allowed",
        "key_worker",
        500,
    )


def test_a_page_error_keeps_its_event(borough, monkeypatch):
    from cases import selectors

    def broken(*args, **kwargs):
        raise RuntimeError("the page could not be built")

    monkeypatch.setattr(selectors, "family_detail_prefetch", broken)
    client = Client(raise_request_exception=False)
    client.force_login(borough.partner.user)
    response = client.get(f"/families/{borough.family.id}/")
    assert response.status_code == 500
    event = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert (event.footing, event.status_code, event.agency_id) == ("team", 500, borough.school.id)


def test_a_refusal_by_the_service_under_the_lock_is_a_denial(borough, client_for, monkeypatch):
    """The view allowed it; the service, re-checking under the family's lock (a withdrawal had
    just committed), answered NoAccess: the event is a denial."""
    from cases import access, services

    def refused(**kwargs):
        raise access.NoAccess

    monkeypatch.setattr(services, "need_create", refused)
    response = client_for(borough.partner.user).post(
        f"/api/v1/families/{borough.family.id}/needs/",
        {"outcome": "health", "descriptor": "Missed dental appointments"},
        format="json",
    )
    assert response.status_code == 404
    event = AccessEvent.objects.get(request_id=response["X-Request-ID"])
    assert (event.outcome, event.footing, event.basis_id, event.status_code) == (
        "denied",
        "",
        None,
        404,
    )


# --- the request's id and the client's address ----------------------------------------------------


def test_every_response_carries_a_request_id(borough, client_for):
    client = client_for(borough.key_worker.user)
    made = client.get(f"/api/v1/families/{borough.family.id}/")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/api/v1/me/")["X-Request-ID"] != made
    kept = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="edge-7f3a9c2e.1")
    assert kept["X-Request-ID"] == "edge-7f3a9c2e.1"
    for bad in ("short", "x" * 65, "spaces are not ids", "new\nline-header", "-leading-dash"):
        answered = client.get("/api/v1/me/", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", answered), bad
    assert Client().get("/sign-in/")["X-Request-ID"]  # pages and anonymous requests too


def test_the_client_address_is_the_throttles(borough, client_for, settings):
    path = f"/api/v1/families/{borough.family.id}/"
    client = client_for(borough.key_worker.user)

    def address(**headers) -> str | None:
        response = client.get(path, **headers)
        return AccessEvent.objects.get(request_id=response["X-Request-ID"]).client_ip

    forwarded = {"REMOTE_ADDR": "10.0.0.5", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 192.0.2.1"}
    assert address(**forwarded) == "10.0.0.5"  # no proxy trusted: the connection's address
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert address(**forwarded) == "192.0.2.1"  # one proxy: the entry it wrote
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 2}
    assert address(**forwarded) == "198.51.100.9"
    assert address(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="not-an-address, x") is None
    assert address(REMOTE_ADDR="2001:db8::1") == "2001:db8::1"


def test_the_log_switched_off_writes_nothing(borough, client_for, settings):
    """Only the bench turns it off, to measure what it costs."""
    settings.AUDIT_ACCESS_LOG = False
    client = client_for(borough.key_worker.user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/v1/families/{borough.family.id}/")
    assert response.status_code == 200 and _inserts(captured) == 0
    assert not AccessEvent.objects.filter(request_id=response["X-Request-ID"]).exists()


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_events_are_committed_on_their_own(borough, client_for):
    """As in production (the tests above run inside a test's transaction): the one statement
    commits the events; on PostgreSQL without waiting for the disk, for that statement only."""
    b = borough
    assert not connection.in_atomic_block
    client = client_for(b.key_worker.user)
    detail = client.get(f"/api/v1/families/{b.family.id}/")
    listed = client.get("/api/v1/families/")
    assert detail.status_code == listed.status_code == 200
    event = AccessEvent.objects.get(request_id=detail["X-Request-ID"])
    assert (event.family_id, event.footing, event.status_code) == (b.family.id, "key_worker", 200)
    assert AccessEvent.objects.filter(request_id=listed["X-Request-ID"], action="list").count() == (
        len(listed.json()["results"])
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"  # the session's own setting is untouched


def test_no_record_leaves_when_its_event_cannot_be_written(
    borough, client_for, monkeypatch, caplog
):
    """The family's data is not sent when its access event could not be written: a 500, and the
    event in the process log (where it can be replayed from)."""
    from django.db import DatabaseError

    from audit import services

    def broken(rows):
        raise DatabaseError("the log's table is unavailable")

    monkeypatch.setattr(services, "_insert", broken)
    client = client_for(borough.key_worker.user)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/families/{borough.family.id}/")
    assert response.status_code == 500
    assert borough.family.name.encode() not in response.content
    logged = [r.getMessage() for r in caplog.records if "NOT written" in r.getMessage()]
    assert len(logged) == 1 and f'"family_id": {borough.family.id}' in logged[0]
