"""Alert latency from the POST of an intervention to receipt on another user's WebSocket.

Real services only: PostgreSQL (its own database, `teamaround_bench`, created and migrated here),
Redis (the channel layer), and the app served as in production by `python -m core.serve
--workers 2` (uvicorn workers). Two phases:

- idle: one socket (a key worker), a partner records 300 interventions one after another;
- loaded: 200 sockets open, one per user as one browser tab each (the 8 posting partners, the 8
  families' key workers, their 24 other named team members, 160 users of an uninvolved agency);
  8 clients record interventions back to back for 20 s, each on its own family, so each POST
  alerts 4 users (key worker + 3 team members).

Latency is measured on the key worker's socket (the headline figures) and on every other recipient
socket (fan-out). Afterwards every socket sends `resume` from before the phase: anything not
received live must arrive then, or it is counted lost. Results are printed next to the targets and
merged into bench/results.json.

    python -m bench [--small]           # or: python -m bench.alerts_latency [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench import procs

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
BENCH_DB = "teamaround_bench"
APP_NAME = "teamaround-bench"  # PGAPPNAME of the server's database sessions
FAMILIES = 8
TEAM_EXTRA = 3  # named practitioners on each family besides the key worker and the poster
OUTSIDERS = 160
WARMUP = 10
LIVE_WAIT_S = 2.0  # idle: how long to wait for one alert before counting it missed
GRACE_S = 3.0  # loaded: how long after the last POST to wait for stragglers

TARGETS = {"idle_p95_ms": 25, "loaded_p95_ms": 150, "loaded_p99_ms": 300}
# The served app's settings; BENCH_SERVER_SETTINGS serves it otherwise (e.g. with one piece
# switched to the library's way: bench/library/, bench/library_way.py).
SERVER_SETTINGS = os.environ.get("BENCH_SERVER_SETTINGS", "config.settings")


@dataclass(frozen=True)
class Size:
    idle_count: int
    sockets: int
    clients: int
    seconds: float


FULL = Size(idle_count=300, sockets=200, clients=8, seconds=20)
SMALL = Size(idle_count=30, sockets=20, clients=2, seconds=3)


# --- services -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bench_database_url(database_url: str, name: str = BENCH_DB) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _database_ensure(database_url: str, name: str = BENCH_DB) -> None:
    import psycopg

    maintenance = urlunsplit(urlsplit(database_url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def _env(bench_url: str, redis_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=bench_url,
        REDIS_URL=redis_url,
        DJANGO_SETTINGS_MODULE=SERVER_SETTINGS,
        PGAPPNAME=APP_NAME,
        PYTHONUNBUFFERED="1",
    )
    return env


def core_serve_command(port: int, workers: int) -> list[str]:
    """How the app is served (Makefile `run`): `python -m core.serve`, uvicorn workers."""
    return [
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


class Server:
    """The app served with N workers in its own process group; stopped by that group's id.

    `command(port, workers)` gives the server's command line (default: `core_serve_command`)."""

    def __init__(self, env: dict, workers: int, log_path: Path, command=core_serve_command):
        self.port = _free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command(self.port, workers),
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 401"):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if sig == signal.SIGKILL or self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                continue
        self._log.close()


class CpuMeter:
    """CPU time used by the web processes, the bench database's backends and this client.

    Read from /proc (Linux), so the cost per intervention can be read apart from how busy the
    machine was; empty elsewhere.
    """

    def __init__(self, web_pgid: int):
        self.web_pgid = web_pgid
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _snapshot(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = {"web": {}, "postgres": {}}
        for pid, _, pgid, ticks, cmdline in procs.processes():
            if pgid == self.web_pgid:
                out["web"][pid] = ticks
            elif cmdline.startswith(b"postgres:") and f" {BENCH_DB} ".encode() in cmdline:
                out["postgres"][pid] = ticks
        return out

    def start(self) -> None:
        self.before = self._snapshot()
        self.client_before = time.process_time()

    def stop(self) -> dict[str, float]:
        after = self._snapshot()
        used = {
            f"{group}_cpu_s": sum(t - self.before[group].get(pid, 0) for pid, t in now.items())
            / self.tick
            for group, now in after.items()
        }
        used["client_cpu_s"] = time.process_time() - self.client_before
        return {k: round(v, 2) for k, v in used.items()}


# --- data -----------------------------------------------------------------------------------


@dataclass
class Family:
    id: int
    key_worker: tuple[int, str]  # (user id, token)
    poster: tuple[int, str]
    team: list[tuple[int, str]]


@dataclass
class Data:
    families: list[Family]
    outsiders: list[tuple[int, str]]


def _data_ensure() -> Data:
    """The bench's agencies, families and users; created on the first run, reused after."""
    from agencies import services as agency_services
    from agencies.models import Agency, AgencyKind, StaffMember
    from agencies.roles import Role
    from cases import services as case_services
    from cases.models import Family as FamilyModel
    from consent import services as consent_services
    from consent.models import SharingBasis

    def staff(agency, role, username):
        existing = StaffMember.objects.filter(user__username=username).first()
        if existing is not None:
            return existing
        return agency_services.staff_create(
            agency=agency,
            username=username,
            password=secrets.token_urlsafe(16),
            role=role,
            first_name="Bench",
            last_name=username,
            validate=False,
        )

    def agency(name, kind):
        return Agency.objects.filter(name=name).first() or agency_services.agency_create(
            name=name, kind=kind
        )

    def token(member) -> tuple[int, str]:
        return member.user_id, agency_services.token_issue(user=member.user)[1]

    early_help = agency("Bench Early Help", AgencyKind.EARLY_HELP)
    school = agency("Bench School", AgencyKind.SCHOOL)
    partners = [
        agency("Bench Health", AgencyKind.HEALTH),
        agency("Bench Police", AgencyKind.POLICE),
        agency("Bench Housing", AgencyKind.HOUSING),
    ][:TEAM_EXTRA]
    outsider_agency = agency("Bench Voluntary", AgencyKind.VOLUNTARY)
    families = []
    for i in range(FAMILIES):
        kw = staff(early_help, Role.KEY_WORKER, f"bench-kw-{i}")
        poster = staff(school, Role.PRACTITIONER, f"bench-poster-{i}")
        team = [staff(a, Role.PRACTITIONER, f"bench-team-{i}-{j}") for j, a in enumerate(partners)]
        name = f"Bench household {i}"
        family = FamilyModel.objects.filter(name=name, key_worker_id=kw.user_id).first()
        if family is None:
            family = case_services.family_create(
                by=kw, name=name, postcode="SW1A 1AA", key_worker_id=kw.user_id
            )
            for member in [poster, *team]:
                case_services.involvement_create(
                    family=family, by=kw, agency=member.agency, practitioner_id=member.user_id
                )
        if not SharingBasis.objects.filter(family=family, withdrawn_at__isnull=True).exists():
            # The team sees the record only under a lawful basis (decision 0005).
            parent = case_services.person_create(
                family=family,
                by=kw,
                given_name="Alex",
                family_name=f"Bench{i}",
                relationship="parent",
                date_of_birth=date(1985, 5, 1),
                parental_responsibility=True,
            )
            consent_services.sharing_basis_create(
                family=family,
                by=kw,
                basis="consent",
                agencies=[m.agency for m in (poster, *team)],
                given_by=[parent],
                method="written",
            )
        families.append(
            Family(
                id=family.id,
                key_worker=token(kw),
                poster=token(poster),
                team=[token(m) for m in team],
            )
        )
    outsiders = [
        token(staff(outsider_agency, Role.PRACTITIONER, f"bench-outsider-{k}"))
        for k in range(OUTSIDERS)
    ]
    return Data(families=families, outsiders=outsiders)


def _max_alert_id() -> int:
    from django.db.models import Max

    from alerts.models import Alert

    return Alert.objects.aggregate(m=Max("id"))["m"] or 0


def _alert_ids_after(user_ids: set[int], after: int) -> dict[int, set[int]]:
    from alerts.models import Alert

    out: dict[int, set[int]] = {u: set() for u in user_ids}
    rows = Alert.objects.filter(recipient_id__in=user_ids, id__gt=after).values_list(
        "recipient_id", "id"
    )
    for user_id, alert_id in rows:
        out[user_id].add(alert_id)
    return out


# --- clients --------------------------------------------------------------------------------


class Http:
    """A minimal keep-alive HTTP/1.1 JSON client on asyncio streams (one request at a time)."""

    def __init__(self, port: int, token: str):
        self.port, self.token = port, token
        self.reader = self.writer = None

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        return await self.request("POST", path, body)

    async def get(self, path: str) -> tuple[int, dict | None]:
        return await self.request("GET", path)

    async def request(
        self, method: str, path: str, body: dict | None = None
    ) -> tuple[int, dict | None]:
        data = json.dumps(body).encode() if body is not None else b""
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Token {self.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode()
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            self.writer.write(head + data)
            await self.writer.drain()
            status_line = await self.reader.readline()
            if not status_line:  # the server closed an idle keep-alive connection: reconnect
                self.close()
                if attempt:
                    raise ConnectionError("server closed the connection")
                continue
            headers = {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                headers[key.strip().lower()] = value.strip()
            payload = await self.reader.readexactly(int(headers.get("content-length", 0)))
            if headers.get("connection", "").lower() == "close":
                self.close()
            try:
                body = json.loads(payload) if payload else None
            except ValueError:  # e.g. an HTML error page
                body = None
            return int(status_line.split()[1]), body
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _stats(latencies_s: list[float]) -> dict:
    ms = [v * 1000 for v in latencies_s]
    out = {f"p{q}_ms": _percentile(ms, q) for q in (50, 95, 99)}
    out["max_ms"] = max(ms) if ms else None
    return {k: (round(v, 1) if v is not None else None) for k, v in out.items()}


@dataclass
class Sock:
    """One open alerts socket and what it received live (token → receive time, alert ids)."""

    user_id: int
    ws: object
    measured: bool  # the family's key worker: headline latency
    live: dict[str, float] = field(default_factory=dict)
    live_ids: set[int] = field(default_factory=set)
    waiters: dict[str, asyncio.Future] = field(default_factory=dict)
    control: asyncio.Queue = field(default_factory=asyncio.Queue)
    task: asyncio.Task | None = None

    async def pump(self):
        async for raw in self.ws:
            now = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") == "alert":
                alert = frame["alert"]
                token = alert["summary"].rsplit(": ", 1)[-1]
                self.live_ids.add(alert["id"])
                self.live.setdefault(token, now)
                waiter = self.waiters.pop(token, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(now)
            else:
                await self.control.put(frame)

    async def resume(self, after: int) -> set[int]:
        """Send resume; the ids that come back (alert frames are counted by pump as well)."""
        before = set(self.live_ids)
        await self.ws.send(json.dumps({"type": "resume", "after": after}))
        while True:
            frame = await asyncio.wait_for(self.control.get(), 30)
            if frame.get("type") == "resumed":
                return self.live_ids - before


async def _tickets_fetch(port: int, wanted: list[tuple[int, str, bool]]) -> list[str]:
    """One ticket per socket over HTTP, one client per user, the users in parallel."""
    by_token: dict[str, list[int]] = {}
    for index, (_, token, _) in enumerate(wanted):
        by_token.setdefault(token, []).append(index)
    tickets: list[str] = [""] * len(wanted)

    async def fetch(token: str, indexes: list[int]):
        http = Http(port, token)
        try:
            for index in indexes:
                status, body = await http.post("/api/v1/alerts/ticket/")
                assert status == 201, (status, body)
                tickets[index] = body["ticket"]
        finally:
            http.close()

    await asyncio.gather(*(fetch(t, ix) for t, ix in by_token.items()))
    return tickets


async def _open_socks(
    port: int, wanted: list[tuple[int, str, bool]], tickets: list[str] | None = None
) -> list[Sock]:
    """Tickets over HTTP (one client per user, in parallel) unless given, then every socket at
    once."""
    from websockets.asyncio.client import connect

    if tickets is None:
        tickets = await _tickets_fetch(port, wanted)
    conns = await asyncio.gather(
        *(
            connect(
                f"ws://127.0.0.1:{port}/ws/alerts/?ticket={ticket}",
                origin=f"http://127.0.0.1:{port}",
                proxy=None,
                open_timeout=30,
                max_queue=None,
            )
            for ticket in tickets
        )
    )
    socks = [
        Sock(user_id=user_id, ws=ws, measured=measured)
        for (user_id, _, measured), ws in zip(wanted, conns, strict=True)
    ]
    for sock in socks:
        sock.task = asyncio.create_task(sock.pump())
    return socks


async def _close_socks(socks: list[Sock]) -> None:
    await asyncio.gather(*(s.ws.close() for s in socks), return_exceptions=True)
    for sock in socks:
        if sock.task is not None:
            sock.task.cancel()


async def _stragglers_wait(
    measured: list[Sock], sent_at: dict[str, float], families: list[Family]
) -> dict[int, set[str]]:
    """Wait until every measured (key worker's) socket has the alerts of its family's posts, or
    GRACE_S ends; the tokens each wants, by id(socket). A token names its family by its index in
    `families`: `<phase>-<run>-<index>-<n>`."""
    token_family = {t: int(t.split("-")[2]) for t in sent_at}
    want = {
        id(s): {t for t, i in token_family.items() if families[i].key_worker[0] == s.user_id}
        for s in measured
    }
    grace_end = time.perf_counter() + GRACE_S
    while time.perf_counter() < grace_end:
        if all(want[id(s)] <= s.live.keys() for s in measured):
            break
        await asyncio.sleep(0.05)
    return want


def _per_post(cpu: dict, sent: int) -> dict:
    if not sent:
        return {}
    return {k.removesuffix("_cpu_s"): round(v * 1000 / sent, 1) for k, v in cpu.items()}


def _intervention(token: str) -> dict:
    return {"kind": "parenting", "title": token, "started_on": "2026-01-05"}


async def _resume_check(socks: list[Sock], baseline: int) -> dict:
    """Every socket resumes from `baseline`; compare live ∪ resumed with the database."""
    resumed = await asyncio.gather(*(s.resume(baseline) for s in socks))
    expected = await asyncio.to_thread(_alert_ids_after, {s.user_id for s in socks}, baseline)
    deliveries = missed_live = on_resume = lost = 0
    for sock, got_on_resume in zip(socks, resumed, strict=True):
        want = expected[sock.user_id]
        deliveries += len(want)
        live = sock.live_ids - got_on_resume
        missed_live += len(want - live)
        on_resume += len(want & got_on_resume)
        lost += len(want - sock.live_ids)
    return {
        "deliveries": deliveries,
        "missed_live": missed_live,
        "on_resume": on_resume,
        "lost": lost,
    }


# --- phases ---------------------------------------------------------------------------------


async def _idle(server: Server, data: Data, size: Size) -> dict:
    port = server.port
    meter = CpuMeter(server.proc.pid)
    family = data.families[0]
    poster = Http(port, family.poster[1])
    path = f"/api/v1/families/{family.id}/interventions/"
    (sock,) = await _open_socks(port, [(family.key_worker[0], family.key_worker[1], True)])
    try:
        for n in range(WARMUP):
            await poster.post(path, _intervention(f"warm-idle-{n}"))
        await asyncio.sleep(0.5)
        baseline = await asyncio.to_thread(_max_alert_id)
        meter.start()
        latencies, post_times, sent, errors = [], [], 0, 0
        run = secrets.token_hex(3)
        for n in range(size.idle_count):
            token = f"idle-{run}-{n}"
            waiter = asyncio.get_running_loop().create_future()
            sock.waiters[token] = waiter
            t0 = time.perf_counter()
            status, _ = await poster.post(path, _intervention(token))
            post_times.append(time.perf_counter() - t0)
            if status != 201:
                errors += 1
                sock.waiters.pop(token, None)
                continue
            sent += 1
            try:
                received = await asyncio.wait_for(
                    asyncio.shield(waiter), max(0.0, LIVE_WAIT_S - (time.perf_counter() - t0))
                )
                latencies.append(received - t0)
            except TimeoutError:
                sock.waiters.pop(token, None)
        cpu = meter.stop()
        check = await _resume_check([sock], baseline)
    finally:
        poster.close()
        await _close_socks([sock])
    return {
        "sent": sent,
        "received_live": len(latencies),
        "http_errors": errors,
        **_stats(latencies),
        "post_p95_ms": _stats(post_times)["p95_ms"],
        "resume_check": check,
        "cpu": cpu,
        "cpu_ms_per_post": _per_post(cpu, sent),
    }


def _loaded_sockets(data: Data, size: Size) -> list[tuple[int, str, bool]]:
    """One socket per user: key workers (measured), posters, team members, then outsiders."""
    active = data.families[: size.clients]
    wanted = [(f.key_worker[0], f.key_worker[1], True) for f in active]
    wanted += [(f.poster[0], f.poster[1], False) for f in active]
    wanted += [(user_id, token, False) for f in active for user_id, token in f.team]
    wanted = wanted[: size.sockets]
    spare = size.sockets - len(wanted)
    if spare > len(data.outsiders):
        raise SystemExit(f"bench data has {len(data.outsiders)} outsiders, {spare} wanted")
    wanted += [(user_id, token, False) for user_id, token in data.outsiders[:spare]]
    return wanted


async def _loaded(server: Server, data: Data, size: Size) -> dict:
    port = server.port
    meter = CpuMeter(server.proc.pid)
    socks = await _open_socks(port, _loaded_sockets(data, size))
    active = data.families[: size.clients]
    posters = [Http(port, f.poster[1]) for f in active]
    sent_at: dict[str, float] = {}
    post_times: list[float] = []
    errors = 0
    run = secrets.token_hex(3)
    try:
        for i, family in enumerate(active):  # warm both web processes' paths and pools
            for n in range(3):
                path = f"/api/v1/families/{family.id}/interventions/"
                await posters[i].post(path, _intervention(f"warm-{run}-{i}-{n}"))
        await asyncio.sleep(1.0)
        baseline = await asyncio.to_thread(_max_alert_id)
        for sock in socks:
            sock.live.clear()
        meter.start()
        end = time.perf_counter() + size.seconds

        async def client(i: int):
            nonlocal errors
            path = f"/api/v1/families/{active[i].id}/interventions/"
            n = 0
            while time.perf_counter() < end:
                token = f"load-{run}-{i}-{n}"
                n += 1
                t0 = time.perf_counter()
                sent_at[token] = t0
                status, _ = await posters[i].post(path, _intervention(token))
                post_times.append(time.perf_counter() - t0)
                if status != 201:
                    errors += 1
                    del sent_at[token]

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(len(active))))
        elapsed = time.perf_counter() - started
        measured = [s for s in socks if s.measured]
        want = await _stragglers_wait(measured, sent_at, active)
        received_live = sum(len(want[id(s)] & s.live.keys()) for s in measured)
        headline, fanout = [], []
        for sock in socks:
            for token, received in sock.live.items():
                if token not in sent_at:
                    continue
                (headline if sock.measured else fanout).append(received - sent_at[token])
        cpu = meter.stop()
        check = await _resume_check(socks, baseline)
    finally:
        for http in posters:
            http.close()
        await _close_socks(socks)
    sent = len(sent_at)
    return {
        "sockets": len(socks),
        "clients": len(active),
        "seconds": round(elapsed, 1),
        "sent": sent,
        "posts_per_s": round(sent / elapsed, 1) if elapsed else None,
        "received_live": received_live,
        "http_errors": errors,
        **_stats(headline),
        "post_p50_ms": _stats(post_times)["p50_ms"],
        "post_p95_ms": _stats(post_times)["p95_ms"],
        "fanout": {"received_live": len(fanout), **_stats(fanout)},
        "resume_check": check,
        "cpu": cpu,
        "cpu_ms_per_post": _per_post(cpu, sent),
    }


# --- report ---------------------------------------------------------------------------------


def _fmt(value) -> str:
    return "  n/a" if value is None else f"{value:6.1f}"


def _verdict(value, target) -> str:
    if value is None:
        return "n/a"
    return "ok" if value <= target else "MISSED"


def _report(idle: dict, loaded: dict) -> None:
    ic, lc = idle["resume_check"], loaded["resume_check"]
    print(
        f"idle   : {idle['sent']} sent, {idle['received_live']} received live"
        f" (+{ic['on_resume']} on resume, {ic['lost']} lost)"
        f" | p50 {_fmt(idle['p50_ms'])} ms  p95 {_fmt(idle['p95_ms'])} ms"
        f" (target ≤ {TARGETS['idle_p95_ms']}: {_verdict(idle['p95_ms'], TARGETS['idle_p95_ms'])})"
        f"  p99 {_fmt(idle['p99_ms'])} ms  max {_fmt(idle['max_ms'])} ms"
        f" | POST p95 {_fmt(idle['post_p95_ms'])} ms"
    )
    print(
        f"loaded : {loaded['sockets']} sockets, {loaded['clients']} clients,"
        f" {loaded['seconds']} s: {loaded['sent']} sent ({loaded['posts_per_s']}/s),"
        f" {loaded['received_live']} received live on the key workers' sockets"
        f" | p50 {_fmt(loaded['p50_ms'])} ms"
        f"  p95 {_fmt(loaded['p95_ms'])} ms (target ≤ {TARGETS['loaded_p95_ms']}:"
        f" {_verdict(loaded['p95_ms'], TARGETS['loaded_p95_ms'])})"
        f"  p99 {_fmt(loaded['p99_ms'])} ms (target ≤ {TARGETS['loaded_p99_ms']}:"
        f" {_verdict(loaded['p99_ms'], TARGETS['loaded_p99_ms'])})"
        f"  max {_fmt(loaded['max_ms'])} ms"
        f" | POST p50 {_fmt(loaded['post_p50_ms'])} ms p95 {_fmt(loaded['post_p95_ms'])} ms"
    )
    for name, phase in (("idle", idle), ("loaded", loaded)):
        per = phase["cpu_ms_per_post"]
        if per:
            print(
                f"         {name} CPU per intervention: web {per['web']} ms, PostgreSQL"
                f" {per['postgres']} ms, this client {per['client']} ms"
            )
    fan = loaded["fanout"]
    print(
        f"         fan-out to other team members' sockets: {fan['received_live']} received live"
        f" | p50 {_fmt(fan['p50_ms'])} ms  p95 {_fmt(fan['p95_ms'])} ms"
        f"  p99 {_fmt(fan['p99_ms'])} ms"
    )
    print(
        f"         all sockets: {lc['deliveries']} deliveries due, {lc['missed_live']} not live,"
        f" {lc['on_resume']} on resume, {lc['lost']} lost"
    )


def _save(key: str, result: dict) -> None:
    try:
        existing = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        existing = {}
    existing[key] = result
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")


# --- entry point ----------------------------------------------------------------------------


def bench_data_ready(database_url: str, redis_url: str, name: str = BENCH_DB) -> tuple[dict, Data]:
    """The bench database `name` beside DATABASE_URL's (created and migrated), Django set up on
    it in this process, its data ensured: (the served app's environment, the data). Also used by
    bench/soak.py, on a database of its own."""
    bench_url = _bench_database_url(database_url, name)
    _database_ensure(database_url, name)
    env = _env(bench_url, redis_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update(
        DATABASE_URL=bench_url, DJANGO_SETTINGS_MODULE="config.settings", PGAPPNAME=APP_NAME
    )
    os.environ.setdefault("FAST_PASSWORD_HASHER", "1")  # bench users never sign in by password
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    return env, _data_ensure()


def run(*, small: bool = False) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not (database_url.startswith("postgres") and redis_url):
        print("alerts_latency needs DATABASE_URL=postgres://… and REDIS_URL=redis://…: skipped")
        return 0
    size = SMALL if small else FULL
    env, data = bench_data_ready(database_url, redis_url)

    log_path = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"bench-uvicorn-{os.getpid()}.log"
    load_before = os.getloadavg()[0]  # other work on the machine skews the figures
    server = Server(env, workers=2, log_path=log_path)
    try:
        server.wait_ready()

        async def phases():
            idle = await _idle(server, data, size)
            loaded = await _loaded(server, data, size)
            return idle, loaded

        idle, loaded = asyncio.run(phases())
    finally:
        server.stop()
    print(
        f"alerts latency: core.serve 2 workers ({SERVER_SETTINGS}), {os.cpu_count()} cores,"
        " Redis pub/sub,"
        f" PostgreSQL {BENCH_DB}{' (small run)' if small else ''};"
        f" load average before {load_before:.2f}, after {os.getloadavg()[0]:.2f}"
    )
    _report(idle, loaded)
    lost = idle["resume_check"]["lost"] + loaded["resume_check"]["lost"]
    result = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "server_settings": SERVER_SETTINGS,
        "size": size.__dict__,
        "targets": TARGETS,
        "idle": idle,
        "loaded": loaded,
        "met": {
            "idle_p95": _verdict(idle["p95_ms"], TARGETS["idle_p95_ms"]) == "ok",
            "loaded_p95": _verdict(loaded["p95_ms"], TARGETS["loaded_p95_ms"]) == "ok",
            "loaded_p99": _verdict(loaded["p99_ms"], TARGETS["loaded_p99_ms"]) == "ok",
            "nothing_lost": lost == 0,
        },
    }
    key = "alerts_latency_small" if small else "alerts_latency"
    _save(key, result)
    print(f"results → {RESULTS.relative_to(ROOT)} ({key})")
    if lost:
        print(f"LOST: {lost} alert(s) arrived neither live nor on resume")
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts_latency")
    parser.add_argument(
        "--small",
        action="store_true",
        default=os.environ.get("BENCH_SMALL", "") not in {"", "0"},
    )
    return run(small=parser.parse_args(argv).small)


if __name__ == "__main__":
    sys.exit(main())
