"""Nothing answers without sign-in: every route of the URL conf, walked as
tests/test_architecture.py walks it (includes followed, so a route added later is covered at
once), is requested anonymously with each method it takes.

- the API (`/api/v1/…`): 401 for every method;
- pages: 302 to `/sign-in/?next=<path>` (a method the page does not take may answer 405
  instead, as long as its GET sends to sign in);
- the Django admin: 302 to its own login form (`/admin/login/?next=…`), which is a sign-in form
  like the service's (the lockout, the throttle and, once signed in, the second factor apply);
- `OPEN`: the routes that are how one signs in or out, each with its reason;
- the WebSocket routes: the handshake is refused.

Parameters are filled with a value that resolves to the route (an id that need not exist: the
answer must come before any lookup).
"""

from __future__ import annotations

import itertools
from urllib.parse import quote

import pytest
from asgiref.sync import async_to_sync
from channels.testing.websocket import WebsocketCommunicator
from django.test import Client
from django.urls import resolve

from tests.test_architecture import Route, consumers, routes

# url name (namespaced) → why anonymous people may use it.
OPEN = {
    "root": "`/`: sends to sign in (without `next`: it is the start)",
    "sign-in": "the sign-in page",
    "sign-out": "signing out (anonymous: nothing to end)",
    "auth-token": "the API's sign-in: the credentials are in the body",
    "admin:login": "the Django admin's sign-in form",
    "admin:logout": "signing out of the Django admin",
}
API_PREFIX = "api/v1/"
PAGES_FOR_PEOPLE_UNDER_API = {"docs"}  # the API docs page: a page, sends to sign in
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CANDIDATES = ("1", "auth", "agencies", "x")  # path parameter values tried until one resolves


def _name(route: Route) -> str:
    namespaces = [p.namespace for p in route.chain[:-1] if getattr(p, "namespace", None)]
    return ":".join([*namespaces, route.chain[-1].name or ""])


def _url(route: Route) -> str | None:
    for values in itertools.product(CANDIDATES, repeat=len(route.params)):
        url = route.url(dict(zip(route.params, values, strict=True)))
        try:
            if resolve(url).func is route.callback:
                return url
        except Exception:  # a value the pattern does not take: try the next
            continue
    return None


def _kind(route: Route) -> str:
    name = _name(route)
    if name in OPEN:
        return "open"
    if name.startswith("admin:"):
        return "admin"
    if route.route.startswith(API_PREFIX) and name not in PAGES_FOR_PEOPLE_UNDER_API:
        return "api"
    return "page"


def _methods(route: Route) -> list[str]:
    taken = [m for m in route.methods() if m in METHODS]
    return taken or ["GET", "POST"]


def _problem(kind: str, method: str, url: str, response) -> str | None:
    status = response.status_code
    location = response.get("Location", "")
    if kind == "api":
        return None if status == 401 else f"{status}, expected 401"
    if kind == "admin":
        want = f"/admin/login/?next={quote(url, safe='/')}"
        ok = status == 302 and location == want
        return None if ok or (method != "GET" and status == 405) else f"{status} {location}"
    want = f"/sign-in/?next={quote(url, safe='/')}"
    if status == 302 and location == want:
        return None
    if method != "GET" and status == 405:
        return None
    return f"{status} {location}, expected 302 to {want}"


@pytest.mark.django_db
def test_every_route_needs_sign_in():
    found = {"api": 0, "page": 0, "admin": 0, "open": 0}
    wrong, unbuilt = [], []
    client = Client(raise_request_exception=False)
    for route in routes():
        kind = _kind(route)
        found[kind] += 1
        if kind == "open":
            continue
        url = _url(route)
        if url is None:
            unbuilt.append(f"/{route.route}")
            continue
        for method in _methods(route):
            response = client.generic(method, url, data="{}", content_type="application/json")
            problem = _problem(kind, method, url, response)
            if problem:
                wrong.append(f"{method} {url} ({_name(route)}, {kind}): {problem}")
    assert not unbuilt, unbuilt
    assert not wrong, "\n".join(wrong)
    # The walk found the service: not a vacuous pass.
    assert found["api"] >= 25 and found["page"] >= 25 and found["admin"] >= 5, found


def test_the_open_routes_exist():
    names = {_name(route) for route in routes()}
    assert set(OPEN) <= names, set(OPEN) - names


def test_every_websocket_refuses_anonymous_people():
    from config.asgi import application

    paths = [path for path, _consumer in consumers()]
    assert paths

    async def connect(path: str) -> bool:
        sock = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://localhost")])
        connected, _ = await sock.connect(timeout=5)
        if connected:
            await sock.disconnect()
        return connected

    for path in paths:
        assert async_to_sync(connect)("/" + path.lstrip("/")) is False, path
