"""Hostile input through the entry points users use: 400 (or a refused socket), never a 500,
and nothing changed.

- JSON bodies nested past any body this API takes (Python's recursion limit included), on every
  kind of endpoint, anonymous ones too;
- a `?cursor=` this API could not have written, on every paginated list;
- a NUL character in the path, a query parameter, a cookie, or anywhere in a JSON body;
- on the WebSocket, a NUL in the ticket (the socket is refused) and a frame nested past
  Python's recursion limit (the protocol's error frame).

The NUL cases are the ones PostgreSQL refuses (its text cannot hold a NUL): they run on both
legs and matter on the PostgreSQL one.
"""

from __future__ import annotations

import itertools
import json
from base64 import b64decode, b64encode
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone

from agencies.models import Agency, ApiToken, StaffMember
from alerts.models import Alert, AlertTicket
from audit.models import AccessEvent
from cases import services
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
from config.asgi import application
from consent.models import SharingBasis
from tests import factories as f

User = get_user_model()

_addresses = itertools.count(1)


def fresh_address() -> dict:
    """A client address of its own: the sign-in throttle counts per address."""
    n = next(_addresses)
    return {"REMOTE_ADDR": f"10.77.{n // 250}.{n % 250 + 1}"}


def snapshot() -> dict:
    """Everything these requests could change."""
    models = (
        Family,
        Person,
        Involvement,
        Need,
        Assessment,
        PlanAction,
        Intervention,
        Contact,
        ChronologyEntry,
        SharingBasis,
        Alert,
        AlertTicket,
        Agency,
        StaffMember,
        User,
        ApiToken,
    )
    return {
        "counts": [m.objects.count() for m in models],
        "family_versions": Family.objects.aggregate(v=Sum("version"))["v"],
        "family_names": sorted(Family.objects.values_list("id", "name")),
        "tickets_used": AlertTicket.objects.filter(used_at__isnull=False).count(),
    }


@pytest.fixture
def platform_admin(db):
    return User.objects.create_user("platform", password=f.PASSWORD, is_staff=True)


@pytest.fixture
def clients(borough, client_for, platform_admin):
    """Tokens made before any snapshot is taken."""
    return {
        "kw": client_for(borough.key_worker.user),
        "partner": client_for(borough.partner.user),
        "platform": client_for(platform_admin),
        "anon": client_for(None),
    }


def fam(suffix: str):
    return lambda b: f"/api/v1/families/{b.family.id}/{suffix}"


def send(client, method: str, path: str, body: str | None, headers: dict | None = None):
    kwargs = {} if body is None else {"data": body, "content_type": "application/json"}
    return getattr(client, method.lower())(path, **kwargs, **(headers or {}))


# --- 1. deeply nested JSON ---------------------------------------------------------------------


DEEP = 100_000
NESTED_BODIES = {
    "list": "[" * DEEP + "]" * DEEP,
    "object": '{"a": ' * DEEP + "1" + "}" * DEEP,
    "in a field": '{"name": ' + '{"a": [' * DEEP + "]}" * DEEP + "}",
    # Decodable, but deeper than any body this API takes: code that walks the value afterwards
    # (an error message quotes it) recurses too, with however much stack is left by then.
    "decodable": '{"name": ' + "[" * 500 + "]" * 500 + "}",
}

# (who, method, path(borough), extra headers(borough) or None)
BODY_ENDPOINTS = {
    "token (anonymous)": ("anon", "POST", lambda b: "/api/v1/auth/token/", None),
    "agencies": ("platform", "POST", lambda b: "/api/v1/agencies/", None),
    "staff": ("platform", "POST", lambda b: f"/api/v1/agencies/{b.early_help.id}/staff/", None),
    "families": ("kw", "POST", lambda b: "/api/v1/families/", None),
    "family": (
        "kw",
        "PATCH",
        fam(""),
        lambda b: {"HTTP_IF_MATCH": f'"{Family.objects.get(id=b.family.id).version}"'},
    ),
    "team": ("kw", "POST", fam("team/"), None),
    "needs": ("kw", "POST", fam("needs/"), None),
    "contacts": ("partner", "POST", fam("contacts/"), None),
    "sharing": ("kw", "POST", fam("sharing/"), None),
}


@pytest.mark.django_db
@pytest.mark.parametrize("shape", NESTED_BODIES)
@pytest.mark.parametrize("endpoint", BODY_ENDPOINTS)
def test_deeply_nested_json_is_a_parse_error(borough, clients, endpoint, shape):
    who, method, path, headers = BODY_ENDPOINTS[endpoint]
    headers = {**(headers(borough) if headers else {}), **fresh_address()}
    before = snapshot()
    response = send(clients[who], method, path(borough), NESTED_BODIES[shape], headers)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "parse_error" and isinstance(body["detail"], str), body
    assert snapshot() == before


# --- 2. tampered cursors -----------------------------------------------------------------------


# name: (who, path(borough), what the ordering's first field is)
LISTS = {
    "families": ("kw", lambda b: "/api/v1/families/", "text"),
    "alerts": ("kw", lambda b: "/api/v1/alerts/", "id"),
    "staff": ("platform", lambda b: f"/api/v1/agencies/{b.early_help.id}/staff/", "id"),
    "members": ("kw", fam("members/"), "id"),
    "team": ("kw", fam("team/"), "id"),
    "needs": ("kw", fam("needs/"), "id"),
    "assessments": ("kw", fam("assessments/"), "id"),
    "actions": ("kw", fam("actions/"), "id"),
    "interventions": ("kw", fam("interventions/"), "id"),
    "contacts": ("kw", fam("contacts/"), "id"),
    "chronology": ("kw", fam("chronology/"), "time"),
    "sharing": ("kw", fam("sharing/"), "id"),
    "disclosures": ("kw", fam("disclosures/"), "id"),
}


def cursor(**tokens) -> str:
    """A cursor as DRF writes them: base64 of the querystring `o=..&r=..&p=..`."""
    return b64encode(urlencode(tokens).encode("ascii")).decode("ascii")


ANY_LIST_CURSORS = {
    "not base64": "!!not*base64!!",
    "base64 of bytes that are not text": b64encode(b"\xff\xfe\x00").decode("ascii"),
    "negative offset": cursor(o="-1"),
    "offset not a number": cursor(o="x"),
    "reverse not a number": cursor(r="x"),
    "position NUL": cursor(p="\x00"),
    "position with a NUL": cursor(p="1\x00"),
}
TYPED_CURSORS = {
    "id": {
        "position not a number": cursor(p="abc"),
        "position a number then text": cursor(p="12abc"),
        "position a fraction": cursor(p="1.5"),
    },
    "time": {
        "position not a time": cursor(p="abc"),
        "position a number": cursor(p="12"),
        "position no such day": cursor(p="2026-02-30 10:00:00+00:00"),
        "position before year 1 in UTC": cursor(p="0001-01-01 00:00:00+14:00"),
        "position after year 9999 in UTC": cursor(p="9999-12-31 23:59:59-14:00"),
    },
    "text": {},  # any text is a reference; only the NUL is refused
}
CURSOR_CASES = [
    pytest.param(lst, value, id=f"{lst}: {name}")
    for lst, (_, _, kind) in LISTS.items()
    for name, value in [*ANY_LIST_CURSORS.items(), *TYPED_CURSORS[kind].items()]
]

INVALID_CURSOR = {"detail": "Invalid cursor", "code": "invalid_cursor"}


@pytest.mark.django_db
@pytest.mark.parametrize(("lst", "value"), CURSOR_CASES)
def test_tampered_cursor_is_400_invalid_cursor(borough, clients, lst, value):
    who, path, _ = LISTS[lst]
    before = snapshot()
    response = clients[who].get(path(borough), {"cursor": value})
    assert response.status_code == 400, response.content[:300]
    assert response.json() == INVALID_CURSOR
    assert snapshot() == before


@pytest.fixture
def two_of_everything(borough, clients):
    """At least two rows in every list, so that each has a next page at page_size=1."""
    b = borough
    today = timezone.localdate()
    f.family_make(by=b.key_worker, name="Jones household", postcode="LS1 4AP")
    f.PersonFactory(family=b.family)
    needs = [
        services.need_create(family=b.family, by=b.key_worker, outcome=f.outcome(), descriptor=d)
        for d in ("Attendance below 90%", "Late most days")
    ]
    for summary in ("First assessment", "Review"):
        services.assessment_create(
            family=b.family, by=b.key_worker, completed_on=today, summary=summary
        )
    for description in ("Daily check-in", "Walk to school"):
        services.plan_action_create(
            family=b.family,
            by=b.key_worker,
            description=description,
            owner_agency=b.school,
            due_on=today + timedelta(days=14),
            needs=needs,
        )
    for title in ("Attendance plan", "Breakfast club"):  # alerts the key worker too
        services.intervention_create(
            family=b.family, by=b.partner, kind="attendance", title=title, started_on=today
        )
    for summary in ("Spoke to mum", "Home visit booked"):
        services.contact_create(
            family=b.family,
            by=b.partner,
            occurred_at=timezone.now() - timedelta(hours=1),
            method="phone",
            summary=summary,
        )
    f.consent_make(family=b.family, by=b.key_worker, agencies=[b.school])
    return b


def cursor_of(link: str) -> str:
    return parse_qs(urlparse(link).query)["cursor"][0]


@pytest.mark.django_db
@pytest.mark.parametrize("lst", LISTS)
def test_genuine_cursors_page_and_tampered_copies_are_400(two_of_everything, clients, lst):
    """The cursors the API writes still page through the whole list; the same cursor with its
    position changed to one the ordering cannot take is refused."""
    who, path, kind = LISTS[lst]
    client = clients[who]
    url = path(two_of_everything)
    everything = [row["id"] for row in client.get(url, {"page_size": 200}).json()["results"]]
    assert len(everything) >= 2
    seen, link, first_next = [], f"{url}?page_size=1", None
    while link:
        response = client.get(link)
        assert response.status_code == 200, response.content[:300]
        seen += [row["id"] for row in response.json()["results"]]
        link = response.json()["next"]
        first_next = first_next or link
    assert seen == everything
    # Back from the second page: a reversed cursor with a position.
    previous = client.get(first_next).json()["previous"]
    assert [r["id"] for r in client.get(previous).json()["results"]] == everything[:1]

    tokens = parse_qs(b64decode(cursor_of(first_next)).decode("ascii"))
    position = tokens["p"][0]
    for bad in (position + "\x00", *(["not-" + position] if kind != "text" else [])):
        tampered = cursor(**{**{k: v[0] for k, v in tokens.items()}, "p": bad})
        response = client.get(url, {"page_size": 1, "cursor": tampered})
        assert response.status_code == 400, (bad, response.content[:300])
        assert response.json() == INVALID_CURSOR


# --- 3. NUL in the path, the query string, a cookie, a JSON body -------------------------------


NUL_REQUESTS = {
    "families ?q= only a NUL": ("kw", lambda b: "/api/v1/families/?q=%00", {}),
    "families ?q= with a NUL": ("kw", lambda b: "/api/v1/families/?q=Smith%00", {}),
    "families ?status=": ("kw", lambda b: "/api/v1/families/?status=open%00", {}),
    "families, a parameter's name": ("kw", lambda b: "/api/v1/families/?q%00=Smith", {}),
    "families ?cursor=": ("kw", lambda b: "/api/v1/families/?cursor=%00", {}),
    "alerts ?unread=": ("kw", lambda b: "/api/v1/alerts/?unread=true%00", {}),
    "contacts ?page_size=": (
        "kw",
        lambda b: f"/api/v1/families/{b.family.id}/contacts/?page_size=1%00",
        {},
    ),
    "staff ?q=": ("platform", lambda b: f"/api/v1/agencies/{b.early_help.id}/staff/?q=%00", {}),
    "outcomes (anonymous)": ("anon", lambda b: "/api/v1/outcomes/?q=%00", {}),
    "path": ("kw", lambda b: f"/api/v1/families/{b.family.id}/%00/", {}),
    # A quoted cookie value may carry octal escapes: \000 is a NUL once parsed. The session
    # cookie's key is looked up in the database.
    "session cookie (anonymous)": (
        "anon",
        lambda b: "/api/v1/me/",
        {"HTTP_COOKIE": 'sessionid="\\000abcdefghijklmnop"'},
    ),
    "session cookie (signed in)": (
        "kw",
        lambda b: f"/api/v1/families/{b.family.id}/",
        {"HTTP_COOKIE": 'sessionid="abcdefghijklmnop\\000"'},
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", NUL_REQUESTS)
def test_nul_in_path_query_or_cookie_is_400_invalid_characters(borough, clients, case):
    who, path, headers = NUL_REQUESTS[case]
    before, audited = snapshot(), AccessEvent.objects.count()
    response = clients[who].get(path(borough), **headers)
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid_characters" and isinstance(body["detail"], str), body
    assert snapshot() == before
    assert AccessEvent.objects.count() == audited  # refused before any view saw it


def contact(**over):
    data = {
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "method": "phone",
        "summary": "Spoke to mum",
    }
    return {**data, **over}


CONTACTS = ("partner", "POST", fam("contacts/"))
NEEDS = ("kw", "POST", fam("needs/"))
TEAM = ("kw", "POST", fam("team/"))
SHARING = ("kw", "POST", fam("sharing/"))
FAMILY = ("kw", "PATCH", fam(""))
TOKEN = ("anon", "POST", lambda b: "/api/v1/auth/token/")

# (who, method, path(borough), body(borough), the field named, or None: a top-level answer)
NUL_BODIES = {
    "contact summary (text)": (*CONTACTS, lambda b: contact(summary="a\x00b"), "summary"),
    "contact method (choice)": (*CONTACTS, lambda b: contact(method="phone\x00"), "method"),
    "contact persons (ids)": (*CONTACTS, lambda b: contact(persons=["1\x00"]), "persons"),
    "contact intervention (id)": (
        *CONTACTS,
        lambda b: contact(intervention="1\x00"),
        "intervention",
    ),
    "contact, a key": (*CONTACTS, lambda b: {**contact(), "no\x00te": "x"}, None),
    "need outcome (code)": (
        *NEEDS,
        lambda b: {"outcome": "health\x00", "descriptor": "Late"},
        "outcome",
    ),
    "team agency (id)": (*TEAM, lambda b: {"agency": f"{b.housing.id}\x00"}, "agency"),
    "sharing purposes (list of choices)": (
        *SHARING,
        lambda b: {"basis": "consent", "agencies": [b.housing.id], "purposes": ["x\x00"]},
        "purposes",
    ),
    "family name (text)": (*FAMILY, lambda b: {"name": "Jones\x00"}, "name"),
    "token username (anonymous)": (
        *TOKEN,
        lambda b: {"username": b.key_worker.user.username + "\x00", "password": f.PASSWORD},
        "username",
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("case", NUL_BODIES)
def test_nul_in_a_json_body_is_400(borough, clients, case):
    who, method, path, body, field = NUL_BODIES[case]
    headers = fresh_address()
    if method == "PATCH":
        headers["HTTP_IF_MATCH"] = f'"{Family.objects.get(id=borough.family.id).version}"'
    before = snapshot()
    response = send(clients[who], method, path(borough), json.dumps(body(borough)), headers)
    assert response.status_code == 400, response.content[:300]
    data = response.json()
    if field is None:
        assert data["code"] == "invalid_characters", data
    else:
        assert data.get(field), data
    assert snapshot() == before


# --- 4. the WebSocket: a NUL in the ticket, a deeply nested frame ------------------------------


async def _connect(path: str):
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    return communicator, connected


def _ticket(client) -> str:
    response = client.post("/api/v1/alerts/ticket/")
    assert response.status_code == 201
    return response.json()["ticket"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "forged",
    ["{key}%00", "%00{key}", "{key_head}%00{key_tail}", "%00", "abc%00def"],
)
def test_nul_in_websocket_ticket_refuses_the_socket(borough, client_for, forged):
    """Refused before accepting, the genuine ticket unspent: it still opens the socket."""
    kw = client_for(borough.key_worker.user)

    async def scenario():
        key = await database_sync_to_async(_ticket)(kw)
        hostile = forged.format(key=key, key_head=key[:20], key_tail=key[20:])
        _, connected = await _connect(f"/ws/alerts/?ticket={hostile}")
        assert not connected
        sock, connected = await _connect(f"/ws/alerts/?ticket={key}")
        assert connected
        await sock.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cookie", [b'sessionid="\\000abc"', b"sessionid=abc\x00def"])
def test_nul_in_websocket_session_cookie_refuses_the_socket(borough, cookie):
    """A session cookie holding a NUL: refused before the session is read (a database error on
    PostgreSQL)."""

    async def scenario():
        communicator = WebsocketCommunicator(
            application,
            "/ws/alerts/",
            headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)],
        )
        connected, _ = await communicator.connect()
        assert not connected

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("frame", ["[" * 2000 + "]" * 2000, '[{"":' * 550 + "0" + "}]" * 550])
def test_deeply_nested_websocket_frame_is_a_bad_frame(borough, client_for, frame):
    """A frame under the size limit but nested past Python's recursion limit: the protocol's
    error frame, and the socket stays open."""
    kw = client_for(borough.key_worker.user)

    async def scenario():
        key = await database_sync_to_async(_ticket)(kw)
        sock, connected = await _connect(f"/ws/alerts/?ticket={key}")
        assert connected
        await sock.send_to(text_data=frame)
        assert (await sock.receive_json_from(timeout=5))["code"] == "bad_json"
        await sock.send_json_to({"type": "ping"})
        assert await sock.receive_json_from(timeout=5) == {"type": "pong"}
        await sock.disconnect()

    async_to_sync(scenario)()
