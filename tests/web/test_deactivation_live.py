"""Deactivating a staff member ends every way in at once, against the app as it is served.

The app runs as tests/web/live.py serves it (`python -m core.serve` on a database of its own; the
session's one server of tests/web, `live_app`, so a fresh account is made for this test):
one process with the in-memory channel layer on the embedded leg; with REDIS_URL, two worker
processes and the Redis channel layer, the person's sockets held by both workers, so the one that
handles the agency admin's deactivation reaches at least one of them only through Redis.

The person signs in both ways a client can: an API token (`POST /api/v1/auth/token/`) and a
session (the sign-in page); they hold alert sockets opened with tickets (from the token) and with
the session cookie, and an unused ticket. Their agency's admin deactivates them through the
staff page. Every socket must be closed (4403) within a second of the admin's answer; then the
token, the session and the unused ticket are refused, and neither can open a socket again.
Clients: `requests` and the `websockets` library.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import pytest
import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.web.live import LiveServer

CLOSE_WITHIN_S = 1.0
OPEN_TIMEOUT_S = 20
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def _signed_in(app: LiveServer, username: str) -> requests.Session:
    """A browser-like session signed in through the sign-in page."""
    http = requests.Session()
    form = http.get(f"{app.url}/sign-in/", timeout=10)
    answer = http.post(
        f"{app.url}/sign-in/",
        data={
            "username": username,
            "password": app.password,
            "csrfmiddlewaretoken": CSRF.search(form.text).group(1),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302 and "/sign-in/" not in answer.headers["Location"], answer.text
    return http


def _ticket(app: LiveServer, token: str) -> requests.Response:
    return requests.post(
        f"{app.url}/api/v1/alerts/ticket/",
        headers={"Authorization": f"Token {token}"},
        timeout=10,
    )


async def _socket(app: LiveServer, *, ticket: str = "", cookie: str = "") -> ClientConnection:
    query = f"?ticket={ticket}" if ticket else ""
    return await connect(
        f"ws://127.0.0.1:{app.port}/ws/alerts/{query}",
        origin=app.url,
        additional_headers={"Cookie": f"sessionid={cookie}"} if cookie else None,
        proxy=None,
        open_timeout=OPEN_TIMEOUT_S,
        compression=None,
    )


async def _pong(ws: ClientConnection) -> None:
    await ws.send('{"type": "ping"}')
    assert '"pong"' in await asyncio.wait_for(ws.recv(), OPEN_TIMEOUT_S)


def _worker_of(app: LiveServer, ws: ClientConnection) -> int | None:
    port = ws.local_address[1]
    return next((pid for pid, ports in app.connections().items() if port in ports), None)


def test_deactivation_closes_sockets_at_once_and_refuses_tokens_and_sessions(live_app):
    app = live_app
    username = f"leaving-{uuid.uuid4().hex[:8]}"
    staff_id = int(
        app.python(
            "from agencies.models import Agency\n"
            "from agencies.roles import Role\n"
            "from tests import factories as f\n"
            "agency = Agency.objects.get(name='Riverside Early Help')\n"
            f"print(f.staff_make(agency=agency, role=Role.PRACTITIONER, username={username!r}).id)"
        ).strip()
    )

    issued = requests.post(
        f"{app.url}/api/v1/auth/token/",
        json={"username": username, "password": app.password},
        timeout=10,
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["token"]
    person = _signed_in(app, username)
    session_key = person.cookies["sessionid"]
    unused_ticket = _ticket(app, token).json()["ticket"]
    admin = _signed_in(app, app.users["agency_admin"])
    confirm = admin.get(f"{app.url}/staff/{staff_id}/deactivate/", timeout=10)
    assert confirm.status_code == 200

    async def scenario() -> None:
        sockets = [await _socket(app, cookie=session_key)]
        # Ticket sockets until every worker holds one of the person's sockets (with two
        # workers, one of them is not the worker that handles the deactivation).
        workers: set[int | None] = set()
        for _ in range(12):
            ticket = (await asyncio.to_thread(_ticket, app, token)).json()["ticket"]
            ws = await _socket(app, ticket=ticket)
            sockets.append(ws)
            workers.add(_worker_of(app, ws))
            if len(sockets) >= 3 and len(workers - {None}) >= app.worker_count:
                break
        for ws in sockets:
            await _pong(ws)
        held_by = {_worker_of(app, ws) for ws in sockets}
        assert len(held_by - {None}) == app.worker_count, (held_by, app.connections())

        answer = await asyncio.to_thread(
            admin.post,
            f"{app.url}/staff/{staff_id}/deactivate/",
            data={"csrfmiddlewaretoken": CSRF.search(confirm.text).group(1)},
            allow_redirects=False,
            timeout=10,
        )
        answered = time.monotonic()
        assert answer.status_code == 302, answer.text[:500]
        await asyncio.wait_for(
            asyncio.gather(*(ws.wait_closed() for ws in sockets)), CLOSE_WITHIN_S
        )
        took = time.monotonic() - answered
        assert [ws.close_code for ws in sockets] == [4403] * len(sockets), took

        # Nor can they open one again: a session socket is refused at the handshake, and so is
        # the ticket issued before.
        for kwargs in ({"cookie": session_key}, {"ticket": unused_ticket}):
            with pytest.raises(InvalidStatus):
                await _socket(app, **kwargs)

    asyncio.run(scenario())

    me = f"{app.url}/api/v1/me/"
    assert (
        requests.get(me, headers={"Authorization": f"Token {token}"}, timeout=10).status_code == 401
    )
    assert _ticket(app, token).status_code == 401
    assert person.get(me, timeout=10).status_code == 401
    page = person.get(f"{app.url}/caseload/", allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/sign-in/" in page.headers["Location"]
    again = requests.post(
        f"{app.url}/api/v1/auth/token/",
        json={"username": username, "password": app.password},
        timeout=10,
    )
    assert again.status_code == 400  # an inactive account signs in no more
