"""Redis restarted under open alert sockets and a stream of alerts: every client ends with every
alert it is owed, each once, and the web process is never restarted. Signing in, whose attempts
are counted in Redis, answers a clean 503 while it is down and works again once it is back.

Clients speak the protocol as static/js/live.js does: open with a ticket, `resume` after the
newest id they know, reconnect with backoff and jitter when the socket closes. Half of them also
reload (close and open again) while Redis is down, so their handshakes meet the outage; the rest
keep their sockets open throughout, so whatever was pushed while Redis was gone must reach them
without their doing anything. A socket whose client never resumed is closed with 1012 (service
restart), so that it reconnects and resumes.

The Redis is a redis-server of this test's own on a free port, killed and started again here
(never the machine's). The app is served as in production (`python -m core.serve`, one worker) on
the test database.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (tests/faults/__init__.py).
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
from collections import Counter

import pytest

from tests.faults import services_leg_required

services_leg_required()

import requests  # noqa: E402
from django.db import connection  # noqa: E402
from websockets.exceptions import ConnectionClosed, InvalidStatus  # noqa: E402

from alerts.models import Alert  # noqa: E402
from bench import procs  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.alerts.test_e2e_services import (  # noqa: E402
    Http,
    Service,
    _base_env,
    _http_ready,
    _test_database_url,
    _wait,
    _wait_db_sessions_gone,
    free_port,
    start_redis,
    start_web,
    ws_open,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

CLIENTS_PER_USER = 3
POST_EVERY_S = 0.12
BACKOFF_FIRST_S, BACKOFF_MAX_S = 0.3, 2.0  # live.js: 1 s and 10 s; shorter here
CLOSE_UNAUTHORISED, CLOSE_REVOKED, CLOSE_SERVICE_RESTART = 4401, 4403, 1012


class LiveClient:
    """One browser tab's socket, as live.js keeps it."""

    def __init__(self, name: str, port: int, http: Http, last_id: int):
        self.name, self.port, self.http = name, port, http
        self.last_id = last_id
        self.received: Counter[int] = Counter()
        self.opened = 0
        self.failed_opens = 0
        self.resumed = asyncio.Event()
        self.ws = None
        self.stopped = False

    async def run(self) -> None:
        backoff = BACKOFF_FIRST_S
        while not self.stopped:
            try:
                ticket = await asyncio.to_thread(self.http.ticket)
                self.ws = await ws_open(self.port, ticket)
            except (OSError, InvalidStatus, TimeoutError, AssertionError):
                self.failed_opens += 1
                wait = min(backoff, BACKOFF_MAX_S)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                await asyncio.sleep(wait / 2 + random.random() * wait / 2)
                continue
            self.opened += 1
            try:
                await self.ws.send(json.dumps({"type": "resume", "after": self.last_id}))
                async for raw in self.ws:
                    message = json.loads(raw)
                    if message["type"] == "alert":
                        alert_id = message["alert"]["id"]
                        self.received[alert_id] += 1
                        self.last_id = max(self.last_id, alert_id)
                    elif message["type"] == "resumed":
                        backoff = BACKOFF_FIRST_S
                        self.resumed.set()
            except ConnectionClosed:
                pass
            code = self.ws.close_code
            self.ws = None
            if code in (CLOSE_UNAUTHORISED, CLOSE_REVOKED):
                raise AssertionError(f"{self.name} was refused ({code})")

    async def reload(self) -> None:
        """The page is loaded again: the socket closes and the client opens a new one."""
        self.resumed.clear()
        if self.ws is not None:
            await self.ws.close()

    async def stop(self) -> None:
        self.stopped = True
        if self.ws is not None:
            await self.ws.close()


async def _close_code(ws, timeout: float) -> int | None:
    """The code the server closed `ws` with (frames before it read and dropped), None if it
    stayed open for `timeout` seconds."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
    except ConnectionClosed:
        return ws.close_code
    except TimeoutError:
        return None


def _max_alert_id() -> int:
    return Alert.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _owed(user, after: int) -> set[int]:
    return set(Alert.objects.filter(recipient=user, id__gt=after).values_list("id", flat=True))


def _owed_in_thread(users, after: int) -> dict[int, set[int]]:
    """`_owed` of each user, from a thread of its own whose connection is closed after."""
    try:
        return {user.id: _owed(user, after) for user in users}
    finally:
        connection.close()


@pytest.fixture
def stack(django_db_blocker, tmp_path):
    """A redis-server of our own and the app on it (one worker), on the test database."""
    with django_db_blocker.unblock():
        database_url, dbname = _test_database_url(), connection.settings_dict["NAME"]
    redis_port = free_port()
    services: list[Service] = [start_redis(redis_port, tmp_path, "redis")]
    try:
        env = _base_env(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
        web, port = start_web("web-redis", env, tmp_path, workers=1)
        services.append(web)
        _wait("uvicorn", lambda: _http_ready(port), [web])
        yield services, redis_port, web, port
    finally:
        for service in reversed(services):
            service.stop()
        with django_db_blocker.unblock():
            _wait_db_sessions_gone(dbname)


def test_redis_restart_loses_no_alert(stack, borough, tmp_path):
    services, redis_port, web, port = stack
    b = borough
    kw, partner = b.key_worker.user, b.partner.user
    http = {kw.id: Http(port, kw), partner.id: Http(port, partner)}
    workers_before = procs.children(web.proc.pid)
    baseline = _max_alert_id()
    posted: list[int] = []
    post_errors: list[str] = []
    posting = threading.Event()
    posting.set()

    def post_stream() -> None:
        # Each records an intervention on the family in turn: the partner's alerts the key
        # worker, the key worker's alerts the partner.
        n = 0
        while posting.is_set():
            author = (partner, kw)[n % 2]
            response = http[author.id].post(
                f"/families/{b.family.id}/interventions/",
                {"kind": "parenting", "title": f"Session {n}", "started_on": "2026-01-05"},
            )
            if response.status_code == 201:
                posted.append(response.json()["id"])
            else:
                post_errors.append(f"{response.status_code} {response.text[:200]}")
            n += 1
            time.sleep(POST_EVERY_S)

    sign_ins: list[requests.Response] = []
    silent_closed: list[int | None] = []

    def sign_in() -> requests.Response:
        return requests.post(
            f"http://127.0.0.1:{port}/api/v1/auth/token/",
            json={"username": kw.username, "password": f.PASSWORD},
            timeout=15,
        )

    async def scenario() -> list[tuple[object, LiveClient]]:
        clients = [
            (user, LiveClient(f"{user.username}-{i}", port, http[user.id], baseline))
            for user in (kw, partner)
            for i in range(CLIENTS_PER_USER)
        ]
        tasks = [asyncio.create_task(c.run()) for _, c in clients]
        await asyncio.wait_for(asyncio.gather(*(c.resumed.wait() for _, c in clients)), 20)
        # A client that never resumes: nothing to resume from, so it is asked to reconnect.
        silent = await ws_open(port, await asyncio.to_thread(http[kw.id].ticket))
        poster = threading.Thread(target=post_stream, daemon=True)
        poster.start()
        try:
            await asyncio.sleep(1.5)
            services[0].stop(signal.SIGKILL)  # Redis dies
            await asyncio.sleep(0.3)
            for _, client in clients[::2]:  # every other tab reloads while Redis is down
                await client.reload()
            # Signing in counts attempts in Redis (the throttle): refused cleanly meanwhile.
            sign_ins.append(await asyncio.to_thread(sign_in))
            await asyncio.sleep(1.2)
            services[0] = await asyncio.to_thread(
                start_redis, redis_port, tmp_path, "redis-restarted"
            )
            sign_ins.append(await asyncio.to_thread(sign_in))
            await asyncio.sleep(3.0)
            silent_closed.append(await _close_code(silent, 5))
        finally:
            posting.clear()
            await asyncio.to_thread(poster.join, 20)
        # Every client gets what it is owed, or the grace ends.
        owed = await asyncio.to_thread(_owed_in_thread, (kw, partner), baseline)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if all(owed[u.id] <= set(c.received) for u, c in clients):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # any duplicate would arrive now
        for _, client in clients:
            await client.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if task.exception() is not None:
                raise task.exception()
        return clients

    clients = asyncio.run(scenario())
    workers_after = procs.children(web.proc.pid)
    web.check_alive()

    assert not post_errors, post_errors
    assert silent_closed == [CLOSE_SERVICE_RESTART]
    down, back = sign_ins
    assert down.status_code == 503, down.text
    assert down.json()["code"] == "service_unavailable" and down.headers["Retry-After"]
    assert back.status_code == 200 and back.json()["token"], back.text
    assert len(posted) > 30
    for user, client in clients:
        owed = _owed(user, baseline)
        missing = owed - set(client.received)
        assert not missing, (
            f"{client.name} lost alerts {sorted(missing)} of {len(owed)}"
            f" (opened {client.opened} times)\n{web.log_tail()}"
        )
        assert set(client.received) == owed, (client.name, set(client.received) - owed)
        twice = [i for i, n in client.received.items() if n > 1]
        assert not twice, f"{client.name} got alerts {twice} more than once"
    reloaded = [c for _, c in clients[::2]]
    assert all(c.opened >= 2 for c in reloaded), [(c.name, c.opened) for c in reloaded]
    assert any(c.failed_opens for c in reloaded), "no reload met the outage"
    kept = [c for _, c in clients[1::2]]
    assert all(c.opened == 1 for c in kept), [(c.name, c.opened) for c in kept]
    assert workers_after == workers_before
    assert "restarting" not in web.log_tail(50_000)
