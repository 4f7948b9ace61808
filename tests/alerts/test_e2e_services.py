"""Alerts end to end on the real-services leg: live delivery to the team only, resume after a
disconnect, Redis down while recording, bad frames, and the digest.

The app runs as users run it: `python -m core.serve --workers 2` (uvicorn) on the test database,
the Redis pub/sub channel layer, and a real Celery worker. Clients are the `websockets` library and
`requests` with real token auth; test data is built through the services and committed.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
if not (DATABASE_URL.startswith("postgres") and REDIS_URL):
    pytest.skip(
        "needs the real-services leg: DATABASE_URL=postgres://… and REDIS_URL=redis://…",
        allow_module_level=True,
    )

import redis  # noqa: E402
import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from websockets.asyncio.client import ClientConnection, connect  # noqa: E402
from websockets.exceptions import ConnectionClosedError, InvalidStatus  # noqa: E402

from agencies.models import AgencyKind  # noqa: E402
from agencies.roles import Role  # noqa: E402
from alerts.models import Alert  # noqa: E402
from cases import services as case_services  # noqa: E402
from tests import factories as f  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 40
LIVE_TIMEOUT_S = 10
# The worker consumes only this run's queue, so another engineer's worker on the same Redis
# neither steals our task nor gets it run against our test database.
QUEUE = f"e2e-{uuid.uuid4().hex[:12]}"
APP_NAME = f"teamaround-{QUEUE}"  # PGAPPNAME of the subprocesses' database sessions

# The worker's settings: the project's, plus the file e-mail backend's folder from the
# environment (config/settings.py does not read EMAIL_FILE_PATH).
WORKER_SETTINGS = """\
import os

from config.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
"""


# --- processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """A subprocess in its own process group, logging to a file, always stoppable."""

    def __init__(self, name: str, cmd: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def check_alive(self) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
            )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.proc.poll() is None:
            self._signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(5)
        self._signal(signal.SIGKILL)  # any child left behind in the group (uvicorn workers)
        self._log.close()

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait(what: str, ready, services: list[Service], timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            service.check_alive()
        try:
            if ready():
                return
        except Exception:  # not up yet
            pass
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.name}\n{s.log_tail()}" for s in services)
    raise RuntimeError(f"{what} not ready after {timeout} s\n{logs}")


def _http_ready(port: int) -> bool:
    response = requests.get(f"http://127.0.0.1:{port}/api/v1/me/", timeout=2)
    return response.status_code == 401


def _base_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    env.update(
        PYTHONUNBUFFERED="1",
        DJANGO_SETTINGS_MODULE="config.settings",
        LOG_LEVEL="WARNING",
        PGAPPNAME=APP_NAME,
    )
    env.update(extra)
    return env


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db.get("USER") or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def start_web(name: str, env: dict, log_dir: Path, workers: int = 2) -> tuple[Service, int]:
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "core.serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--timeout-graceful-shutdown",
        "3",
    ]
    return Service(name, cmd, env, log_dir), port


def start_redis(port: int, log_dir: Path, name: str) -> Service:
    cmd = [
        shutil.which("redis-server") or "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
    ]
    service = Service(name, cmd, os.environ.copy(), log_dir)
    _wait(name, lambda: redis.Redis(port=port, socket_timeout=1).ping(), [service])
    return service


def _wait_db_sessions_gone(dbname: str, timeout: float = 10) -> None:
    """Let the servers' pooled connections go, so pytest-django can drop the test database."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = %s",
                [dbname, APP_NAME],
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


class Stack:
    def __init__(self, web: Service, port: int, worker: Service, env: dict, mail_dir: Path, logs):
        self.web, self.port, self.worker = web, port, worker
        self.env, self.mail_dir, self.log_dir = env, mail_dir, logs


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, tmp_path_factory):
    """uvicorn (2 workers) + a Celery worker, on the test database and REDIS_URL."""
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    mail_dir = tmp_path_factory.mktemp("e2e-mail")
    settings_dir = tmp_path_factory.mktemp("e2e-settings")
    (settings_dir / "e2e_worker_settings.py").write_text(WORKER_SETTINGS)
    with django_db_blocker.unblock():
        database_url = _test_database_url()
        dbname = connection.settings_dict["NAME"]
    env = _base_env(DATABASE_URL=database_url, REDIS_URL=REDIS_URL)
    worker_env = dict(
        env,
        DJANGO_SETTINGS_MODULE="e2e_worker_settings",
        PYTHONPATH=os.pathsep.join([str(settings_dir), str(ROOT)]),
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail_dir),
    )
    started: list[Service] = []
    try:
        web, port = start_web("web", env, log_dir)
        started.append(web)
        worker = Service(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--concurrency=1",
                "--pool=solo",
                "--loglevel=INFO",
                "-Q",
                QUEUE,
                "-n",
                f"{QUEUE}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            worker_env,
            log_dir,
        )
        started.append(worker)
        _wait("uvicorn", lambda: _http_ready(port), [web])
        _wait("celery worker", lambda: " ready." in worker.log_tail(100_000), [worker])
        yield Stack(web, port, worker, env, mail_dir, log_dir)
    finally:
        for service in reversed(started):
            service.stop()
        with django_db_blocker.unblock():
            _wait_db_sessions_gone(dbname)


# --- clients --------------------------------------------------------------------------------


class Http:
    """`requests` with a user's real token, never through a proxy."""

    def __init__(self, port: int, user):
        self.base = f"http://127.0.0.1:{port}/api/v1"
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Token {f.token_for(user)}"

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=15)

    def ticket(self) -> str:
        response = self.post("/alerts/ticket/")
        assert response.status_code == 201, response.text
        return response.json()["ticket"]

    def record(self, family_id: int, title: str = "Parenting course", **extra) -> dict:
        body = {"kind": "parenting", "title": title, "started_on": "2026-01-05", **extra}
        response = self.post(f"/families/{family_id}/interventions/", body)
        assert response.status_code == 201, response.text
        return response.json()


async def ws_open(port: int, ticket: str, origin: str | None = None) -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws/alerts/?ticket={ticket}",
        origin=origin or f"http://127.0.0.1:{port}",
        proxy=None,
        open_timeout=20,
        compression=None,
    )


async def ws_for(port: int, http: Http) -> ClientConnection:
    return await ws_open(port, await asyncio.to_thread(http.ticket))


async def recv_json(ws: ClientConnection, timeout: float = LIVE_TIMEOUT_S) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def silent(ws: ClientConnection, seconds: float) -> bool:
    try:
        frame = await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"expected nothing, got {frame}")


async def resume(ws: ClientConnection, after: int) -> list[dict]:
    """Send resume; the alert frames that come back before `resumed`."""
    await ws.send(json.dumps({"type": "resume", "after": after}))
    alerts = []
    while True:
        frame = await recv_json(ws)
        if frame["type"] == "resumed":
            return alerts
        assert frame["type"] == "alert", frame
        alerts.append(frame["alert"])


async def ping_pong(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await recv_json(ws) == {"type": "pong"}


def alert_ids(user, **filters) -> list[int]:
    return list(
        Alert.objects.filter(recipient=user, **filters).order_by("id").values_list("id", flat=True)
    )


def intervention_alert(user, intervention_id: int) -> Alert:
    return Alert.objects.get(recipient=user, source_type="intervention", source_id=intervention_id)


# --- tests ----------------------------------------------------------------------------------


def test_live_alert_reaches_team_only(stack, borough):
    """A partner records over HTTP → the key worker's socket gets it; others get nothing."""
    b = borough
    youth = f.agency_make(kind=AgencyKind.YOUTH_JUSTICE, name="Youth Justice")
    leaver = f.staff_make(agency=youth, role=Role.PRACTITIONER)
    involvement = f.involvement_make(
        family=b.family, by=b.key_worker, agency=youth, practitioner=leaver.user
    )
    f.consent_make(family=b.family, by=b.key_worker, agencies=[youth])
    case_services.involvement_end(involvement=involvement, by=b.key_worker)
    users = {
        "kw": b.key_worker.user,
        "outsider": b.outsider.user,
        "leaver": leaver.user,
        "ended": b.ended_partner.user,
    }
    http = {name: Http(stack.port, user) for name, user in users.items()}
    partner = Http(stack.port, b.partner.user)

    async def scenario():
        socks = {name: await ws_for(stack.port, client) for name, client in http.items()}
        try:
            created = await asyncio.to_thread(partner.record, b.family.id, "Attendance plan")
            frame = await recv_json(socks["kw"])
            assert frame["type"] == "alert"
            alert = frame["alert"]
            assert alert["kind"] == "intervention.recorded"
            assert alert["family"] == b.family.id and alert["agency"] == b.school.id
            assert "Attendance plan" in alert["summary"] and alert["read_at"] is None
            for name in ("outsider", "leaver", "ended"):
                await silent(socks[name], 0.5 if name != "outsider" else 1.0)
                await ping_pong(socks[name])
                # Nothing of the record on resume either; the leaver was told it lost access.
                kinds = [x["kind"] for x in await resume(socks[name], 0)]
                assert kinds == (["access.lost"] if name == "leaver" else []), (name, kinds)
            await silent(socks["kw"], 0.3)  # exactly one frame
            return created, alert
        finally:
            await asyncio.gather(*(ws.close() for ws in socks.values()))

    created, alert = asyncio.run(scenario())
    assert alert["id"] == intervention_alert(b.key_worker.user, created["id"]).id
    for user in (b.outsider.user, leaver.user, b.ended_partner.user, b.partner.user):
        assert not Alert.objects.filter(
            recipient=user, source_type="intervention", source_id=created["id"]
        ).exists()
    # The leaver was alerted while on the team, and can no longer read it.
    assert Alert.objects.filter(recipient=leaver.user).exists()
    listed = Http(stack.port, leaver.user).session.get(
        f"http://127.0.0.1:{stack.port}/api/v1/alerts/", timeout=10
    )
    assert listed.status_code == 200
    assert [x["kind"] for x in listed.json()["results"]] == ["access.lost"]


def test_kill_and_resume_gets_exactly_the_missed_three(stack, borough):
    """Disconnect, three recorded, reconnect + resume → those three, in order, once."""
    b = borough
    kw = Http(stack.port, b.key_worker.user)
    partner = Http(stack.port, b.partner.user)

    async def scenario():
        ws = await ws_for(stack.port, kw)
        first = await asyncio.to_thread(partner.record, b.family.id, "Before the drop")
        frame = await recv_json(ws)
        last_seen = frame["alert"]["id"]
        ws.transport.abort()  # killed: no closing handshake
        await asyncio.sleep(0.2)
        missed = [
            await asyncio.to_thread(partner.record, b.family.id, f"While away {n}")
            for n in range(3)
        ]
        await asyncio.to_thread(kw.record, b.family.id, "Key worker's own")  # alerts the partner
        ws = await ws_for(stack.port, kw)
        try:
            got = await resume(ws, last_seen)
            await silent(ws, 0.5)
            # Resuming again on the same socket sends nothing twice.
            again = await resume(ws, last_seen)
        finally:
            await ws.close()
        return first, missed, last_seen, got, again

    first, missed, last_seen, got, again = asyncio.run(scenario())
    assert last_seen == intervention_alert(b.key_worker.user, first["id"]).id
    expected = [intervention_alert(b.key_worker.user, m["id"]).id for m in missed]
    assert [a["id"] for a in got] == expected
    assert expected == sorted(expected) and len(set(expected)) == 3
    assert [a["summary"].rsplit(": ", 1)[1] for a in got] == [f"While away {n}" for n in range(3)]
    assert all(a["kind"] == "intervention.recorded" for a in got)
    assert alert_ids(b.key_worker.user, id__gt=last_seen) == expected  # no others exist
    assert again == []


def test_redis_down_alert_kept_and_delivered_on_resume(stack, borough, tmp_path):
    """Redis stopped while recording → 201, alert stored, delivered on resume."""
    b = borough
    redis_port = free_port()
    services: list[Service] = []
    try:
        services.append(start_redis(redis_port, stack.log_dir, "redis2"))
        web2, port2 = start_web(
            "web2",
            dict(stack.env, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"),
            stack.log_dir,
            workers=1,
        )
        services.append(web2)
        _wait("uvicorn on the second Redis", lambda: _http_ready(port2), [web2])
        kw = Http(port2, b.key_worker.user)
        partner = Http(port2, b.partner.user)

        async def live_once(title: str) -> tuple[dict, dict]:
            ws = await ws_for(port2, kw)
            try:
                created = await asyncio.to_thread(partner.record, b.family.id, title)
                return created, (await recv_json(ws))["alert"]
            finally:
                await ws.close()

        _, before = asyncio.run(live_once("Redis up"))

        services[0].stop(signal.SIGKILL)  # Redis dies
        started = time.monotonic()
        during = partner.record(b.family.id, "Redis down")  # asserts 201
        elapsed = time.monotonic() - started
        stored = intervention_alert(b.key_worker.user, during["id"])
        assert stored.read_at is None
        assert elapsed < 5, f"recording took {elapsed:.1f} s with Redis down"

        services[0] = start_redis(redis_port, stack.log_dir, "redis2-restarted")

        async def reconnect_and_resume() -> list[dict]:
            """What a client does (static/js/live.js): reconnect until it can, and again when
            the socket is closed with 1012, which a socket opened before the layer had
            subscribed to Redis again gets; then resume."""
            deadline = time.monotonic() + 20
            while True:
                try:
                    ws = await ws_for(port2, kw)
                except (OSError, InvalidStatus, TimeoutError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
                    continue
                try:
                    return await resume(ws, before["id"])
                except ConnectionClosedError as closed:
                    if closed.rcvd is None or closed.rcvd.code != 1012:
                        raise
                    if time.monotonic() > deadline:
                        raise
                finally:
                    await ws.close()

        resumed = asyncio.run(reconnect_and_resume())
        assert [a["id"] for a in resumed] == [stored.id]
        assert "Redis down" in resumed[0]["summary"]

        # Live pushes work again once Redis is back.
        after, live = asyncio.run(live_once("Redis back"))
        assert live["id"] == intervention_alert(b.key_worker.user, after["id"]).id
    finally:
        for service in reversed(services):
            service.stop()


def test_two_hundred_sockets_all_get_the_alert(stack, borough):
    """200 sockets open at once across both web processes; every recipient socket gets it."""
    b = borough
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    health_visitor = f.staff_make(agency=health, role=Role.PRACTITIONER)
    f.involvement_make(
        family=b.family, by=b.key_worker, agency=health, practitioner=health_visitor.user
    )
    f.consent_make(family=b.family, by=b.key_worker, agencies=[health])
    plan = [(b.key_worker.user, 100), (health_visitor.user, 60), (b.outsider.user, 40)]
    clients = [Http(stack.port, user) for user, count in plan for _ in range(count)]
    owners = [user.id for user, count in plan for _ in range(count)]
    partner = Http(stack.port, b.partner.user)
    with ThreadPoolExecutor(8) as pool:
        tickets = list(pool.map(lambda c: c.ticket(), clients))

    async def scenario():
        socks = await asyncio.gather(*(ws_open(stack.port, t) for t in tickets))
        try:
            await asyncio.sleep(0.2)  # subscriptions settle
            created = await asyncio.to_thread(partner.record, b.family.id, "Crowded room")
            paired = list(zip(socks, owners, strict=True))
            receivers = [ws for ws, uid in paired if uid != b.outsider.user.id]
            frames = await asyncio.gather(*(recv_json(ws, 20) for ws in receivers))
            outsiders = [ws for ws, uid in paired if uid == b.outsider.user.id]
            await asyncio.gather(*(silent(ws, 1.0) for ws in outsiders))
            return created, frames
        finally:
            await asyncio.gather(*(ws.close() for ws in socks))

    started = time.monotonic()
    created, frames = asyncio.run(scenario())
    assert time.monotonic() - started < 45
    expected = {
        b.key_worker.user.id: intervention_alert(b.key_worker.user, created["id"]).id,
        health_visitor.user.id: intervention_alert(health_visitor.user, created["id"]).id,
    }
    receiver_owners = [uid for uid in owners if uid != b.outsider.user.id]
    assert len(frames) == 160
    assert all(fr["type"] == "alert" for fr in frames)
    assert [fr["alert"]["id"] for fr in frames] == [expected[uid] for uid in receiver_owners]


def test_digest_through_the_real_worker(stack, borough):
    """The digest task goes through the Redis broker to a real Celery worker, which e-mails."""
    from alerts.tasks import alerts_digest_send

    b = borough
    get_user_model().objects.filter(id=b.key_worker.user.id).update(
        email="key.worker@council.example"
    )
    partner = Http(stack.port, b.partner.user)
    created = partner.record(b.family.id, "Attendance plan agreed")
    alert = intervention_alert(b.key_worker.user, created["id"])
    Alert.objects.filter(id=alert.id).update(created_at=timezone.now() - timedelta(hours=2))
    for old in stack.mail_dir.iterdir():
        old.unlink()

    # As `.delay()` does, through the REDIS_URL broker; on this run's own queue (see QUEUE).
    alerts_digest_send.apply_async(queue=QUEUE)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = [p for p in stack.mail_dir.iterdir() if p.stat().st_size]
        alert.refresh_from_db()
        if files and alert.digested_at is not None:
            break
        stack.worker.check_alive()
        time.sleep(0.2)
    else:
        raise AssertionError(f"no digest e-mail within 30 s\n{stack.worker.log_tail()}")
    text = "".join(p.read_text() for p in files)
    assert "To: key.worker@council.example" in text
    assert "Subject: Team Around: unread alerts" in text
    assert "Attendance plan agreed" not in text  # the digest carries no case content
    assert b.family.reference in text
    assert "alerts.tasks.alerts_digest_send" in stack.worker.log_tail(100_000)


def test_bad_frames_get_errors_and_leak_nothing(stack, borough):
    """Malformed JSON, unknown types, bad resumes → error frames; the socket stays up."""
    b = borough
    kw = Http(stack.port, b.key_worker.user)
    partner = Http(stack.port, b.partner.user)
    kw_work = kw.record(b.family.id, "Key worker visit")  # alerts the partner
    partner_work = partner.record(b.family.id, "School meeting")  # alerts the key worker
    partner_alert = intervention_alert(b.partner.user, kw_work["id"]).id
    partner_ids = set(alert_ids(b.partner.user))
    kw_ids = alert_ids(b.key_worker.user)
    assert partner_ids and kw_ids

    async def scenario():
        ws = await ws_for(stack.port, kw)
        errors, alerts = [], []
        try:
            bad = [
                "not json",
                "{",
                "[1, 2]",
                '"resume"',
                "null",
                json.dumps({"type": "nope"}),
                json.dumps({"no": "type"}),
                json.dumps({"type": "resume"}),
                json.dumps({"type": "resume", "after": "5"}),
                json.dumps({"type": "resume", "after": -1}),
                json.dumps({"type": "resume", "after": 1.5}),
                json.dumps({"type": "resume", "after": True}),
                json.dumps({"type": "resume", "after": None}),
                json.dumps({"type": "resume", "after": [partner_alert]}),
                "x" * 10_000,
                b"\x00\x01binary",
            ]
            for frame in bad:
                await ws.send(frame)
                reply = await recv_json(ws)
                assert reply["type"] == "error", (frame, reply)
                errors.append(reply["code"])
                await ping_pong(ws)
            # Another user's id range: only the key worker's own alerts come back.
            alerts += await resume(ws, partner_alert - 1)
            for huge in (2**63, 10**30):  # beyond bigint: nothing, or an error, never a crash
                await ws.send(json.dumps({"type": "resume", "after": huge}))
                reply = await recv_json(ws)
                assert reply["type"] in {"resumed", "error"}, reply
            await ping_pong(ws)
            alerts += await resume(ws, 0)
            await ping_pong(ws)
        finally:
            await ws.close()
        return errors, alerts

    errors, alerts = asyncio.run(scenario())
    assert set(errors) <= {"bad_json", "bad_frame", "unknown_type", "bad_resume"}
    assert errors.count("bad_resume") == 7
    received = [a["id"] for a in alerts]
    assert not set(received) & partner_ids
    assert set(received) <= set(kw_ids)
    assert intervention_alert(b.key_worker.user, partner_work["id"]).id in received
    assert "Traceback" not in stack.web.log_tail(1_000_000)  # no frame crashed the consumer


def test_handshake_refusals(stack, borough):
    """No ticket, a forged or reused ticket, or a foreign origin: refused at the handshake."""
    kw = Http(stack.port, borough.key_worker.user)

    async def refused(ticket: str, origin: str | None = None) -> None:
        with pytest.raises(InvalidStatus) as info:
            await ws_open(stack.port, ticket, origin)
        assert info.value.response.status_code == 403

    async def scenario():
        await refused("")
        await refused("forged")
        await refused(await asyncio.to_thread(kw.ticket), origin="http://evil.example")
        ticket = await asyncio.to_thread(kw.ticket)
        ws = await ws_open(stack.port, ticket)
        await ping_pong(ws)
        await ws.close()
        await refused(ticket)  # single use

    asyncio.run(scenario())


def test_deactivated_user_is_closed(stack, borough):
    """A user deactivated while connected: closed at the next resume, or at once when nudged."""
    from alerts import push

    kw = Http(stack.port, borough.key_worker.user)
    loop = asyncio.new_event_loop()
    try:

        async def open_two():
            socks = [await ws_for(stack.port, kw) for _ in range(2)]
            await ping_pong(socks[0])
            return socks

        first, second = loop.run_until_complete(open_two())
        get_user_model().objects.filter(id=borough.key_worker.user.id).update(is_active=False)

        async def resume_is_refused():
            await first.send(json.dumps({"type": "resume", "after": 0}))
            await asyncio.wait_for(first.wait_closed(), LIVE_TIMEOUT_S)

        loop.run_until_complete(resume_is_refused())
        assert first.close_code == 4403
        push.user_revoke(borough.key_worker.user.id)  # what deactivation sends
        loop.run_until_complete(asyncio.wait_for(second.wait_closed(), LIVE_TIMEOUT_S))
        assert second.close_code == 4403
    finally:
        loop.close()
