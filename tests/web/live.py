"""The app served for browser tests: `python -m core.serve` as a subprocess, on a database of
its own that the subprocess sees, migrated and seeded with a small borough.

- SQLite (the embedded default): a file in a temporary folder.
- PostgreSQL (DATABASE_URL=postgres://…): a database `<test database name>_live` on the same
  server, made afresh and dropped at the end (never pytest-django's test database, whose
  transactions the server could not see).

How it is served follows the leg, as `make run` serves it:

- Embedded (no REDIS_URL): one worker process with the in-memory channel layer (which cannot
  carry a push from one process to another), Celery tasks in process, the sign-in throttle's
  counts in the database.
- With REDIS_URL=redis://…: `--workers 2` (each worker a process of its own on its own socket,
  core/serve.py) with the Redis pub/sub channel layer (channels_redis) and the throttle's counts in
  Redis, so a request handled by one worker reaches a socket held by the other through Redis.
  The server gets the next Redis database number after REDIS_URL's (`live_redis_url`), not the
  test run's own. No Celery worker is started: the web process pushes alerts itself after commit
  (alerts/push.py) and queues no Celery task, and the periodic tasks (digest, sharing sweep) are
  not run, as on the embedded leg (EMBEDDED_BEAT is not passed on).

Its sign-in throttle is raised (`THROTTLE_RATE`) so a suite that signs in often through the page
is not refused. `workers()` and `connections()` show, from /proc, which worker processes serve and
which of them holds each open connection (a test can place sockets on distinct workers).

`python -m tests.web.live seed` (run by `LiveServer.start` with the server's environment) builds
the borough through the services (tests/factories.py) and prints its names and ids as JSON.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60
THROTTLE_RATE = "1000/min"
PASSWORD = "correct-horse-battery-staple"  # tests/factories.py PASSWORD: every seeded account's
_SERVERS_STARTED = itertools.count()  # PostgreSQL servers started by this process
REDIS_DATABASES = 16  # Redis's default number of databases
WORKERS_WITH_REDIS = 2
TCP_ESTABLISHED, TCP_LISTEN = "01", "0A"  # states in /proc/net/tcp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_redis_url(url: str) -> str:
    """REDIS_URL with the next database number (redis://h:6379/11 → redis://h:6379/12; none
    given is 0, the last wraps to 0): the served app's keys apart from the test run's."""
    parsed = urlparse(url)
    number = parsed.path.strip("/")
    db = int(number) if number.isdigit() else 0
    return urlunparse(parsed._replace(path=f"/{(db + 1) % REDIS_DATABASES}"))


def _tcp_sockets() -> list[tuple[int, int, str, int]]:
    """(local port, remote port, state, inode) of every IPv4 TCP socket (/proc/net/tcp)."""
    rows = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        rows.append((int(local.split(":")[1], 16), int(remote.split(":")[1], 16), state, inode))
    return rows


def _socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds open."""
    inodes = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[len("socket:[") : -1]))
    return inodes


def listening(pids, port: int) -> set[int]:
    """Those of `pids` holding a listening socket on `port`."""
    sockets = {
        inode for local, _, state, inode in _tcp_sockets() if local == port and state == TCP_LISTEN
    }
    return {pid for pid in pids if _socket_inodes(pid) & sockets}


@dataclass
class LiveServer:
    """A running app: `url` (no trailing slash), `users` (seed key → username), `ids` (seed key
    → id), `python(code)` to run code against its database and settings (e.g. to add data or
    check it), `redis_url` and `worker_count` (how it is served), `workers()` and
    `connections()` (its worker processes and the connections each holds)."""

    url: str = ""
    users: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    password: str = PASSWORD
    env: dict = field(default_factory=dict)
    redis_url: str = ""  # the served app's REDIS_URL; "" on the embedded leg
    worker_count: int = 1
    port: int = 0
    _proc: subprocess.Popen | None = None
    _log: object = None
    _workdir: Path | None = None
    _pg: dict | None = None

    # --- running ---------------------------------------------------------------------------

    @classmethod
    def start(cls) -> LiveServer:
        server = cls()
        server._workdir = Path(tempfile.mkdtemp(prefix="live-server-"))
        try:
            server.env = server._environment()
            server._run([sys.executable, "manage.py", "migrate", "--noinput"])
            server._run([sys.executable, "manage.py", "createcachetable"])
            seeded = json.loads(server._run([sys.executable, "-m", "tests.web.live", "seed"]))
            server.users, server.ids = seeded["users"], seeded["ids"]
            server._serve()
        except BaseException:
            server.stop()
            raise
        return server

    def _environment(self) -> dict:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "EMBEDDED_BEAT"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            PYTHONUNBUFFERED="1",
            LOG_LEVEL="WARNING",
            FAST_PASSWORD_HASHER="1",
            TOKEN_THROTTLE_RATE=THROTTLE_RATE,
            DATABASE_URL=self._database(),
        )
        if os.environ.get("REDIS_URL"):
            self.redis_url = live_redis_url(os.environ["REDIS_URL"])
            self.worker_count = WORKERS_WITH_REDIS
            self._redis_check()
            env["REDIS_URL"] = self.redis_url
        return env

    def _redis_check(self) -> None:
        import redis

        try:
            redis.Redis.from_url(self.redis_url, socket_timeout=5).ping()
        except redis.RedisError as error:
            raise RuntimeError(f"no Redis at {self.redis_url}: {error}") from error

    def _database(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            return f"sqlite:///{self._workdir / 'live.sqlite3'}"
        import psycopg

        parsed = urlparse(url)
        base = os.environ.get("TEST_DATABASE_NAME") or f"test_{parsed.path.lstrip('/')}"
        # Tests run in parallel processes (pytest-xdist): each its own, as its test database.
        base += (
            f"_{os.environ['PYTEST_XDIST_WORKER']}" if "PYTEST_XDIST_WORKER" in os.environ else ""
        )
        # A second server in the same run (tests/e2e imports the fixture, so it has its own
        # session-scoped copy) gets a database of its own instead of dropping the first one's.
        started = next(_SERVERS_STARTED)
        name = f"{base}_live" if started == 0 else f"{base}_live{started}"
        self._pg = {
            "host": parsed.hostname or "127.0.0.1",
            "port": parsed.port or 5432,
            "user": parsed.username or "postgres",
            "password": parsed.password or None,
            "dbname": "postgres",
            "name": name,
        }
        with psycopg.connect(**self._pg_connect(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        auth = quote(self._pg["user"])
        if self._pg["password"]:
            auth += ":" + quote(self._pg["password"])
        return f"postgres://{auth}@{self._pg['host']}:{self._pg['port']}/{name}"

    def _pg_connect(self) -> dict:
        return {k: v for k, v in self._pg.items() if k != "name" and v is not None}

    def _run(self, cmd: list[str], stdin: str | None = None) -> str:
        done = subprocess.run(
            cmd,
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _serve(self) -> None:
        port = self.port = free_port()
        self._log = open(self._workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "core.serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", str(self.worker_count), "--timeout-graceful-shutdown", "2"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            if len(self.serving()) < self.worker_count:  # every worker takes connections
                time.sleep(0.1)
                continue
            try:
                with urllib.request.urlopen(self.url + "/sign-in/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def workers(self) -> list[int]:
        """The pids of the worker processes serving (core/serve.py's children), in pid order."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid …: comm may hold spaces, so split after its ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) == self._proc.pid:
                pids.append(int(entry))
        return sorted(pids)

    def serving(self) -> set[int]:
        """The workers holding a listening socket on the server's port."""
        return listening(self.workers(), self.port)

    def connections(self) -> dict[int, set[int]]:
        """Worker pid → the client ports of the open (established) connections it holds; every
        worker is a key, with no connections or some."""
        established = {
            inode: remote
            for local, remote, state, inode in _tcp_sockets()
            if local == self.port and state == TCP_ESTABLISHED
        }
        return {
            pid: {established[inode] for inode in _socket_inodes(pid) if inode in established}
            for pid in self.workers()
        }

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return (self._workdir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def python(self, code: str) -> str:
        """Run `code` in a fresh process with the server's environment (its database, its Redis,
        Django set up); its stdout."""
        prelude = "import django; django.setup()\n"
        return self._run([sys.executable, "-c", prelude + code])

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self._proc.pid, sig)
                except (ProcessLookupError, PermissionError):
                    break
                try:
                    self._proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self._proc is not None:
            try:  # any worker left behind in the group
                os.killpg(self._proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self._log is not None:
            self._log.close()
        if self._pg is not None:
            import psycopg

            with psycopg.connect(**self._pg_connect(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self._pg["name"]}" WITH (FORCE)')
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


# --- the seed -------------------------------------------------------------------------------------


def seed() -> dict:
    """A small borough, built through the services: two families led by Early Help (the second
    for tests that end or withdraw something), a school on both teams under consent, a closed
    family (to reopen), a family stepped up to children's social care (to step down), and one
    account for each kind of person."""
    from datetime import date

    from django.db import transaction

    from agencies.models import AgencyKind
    from agencies.roles import Role
    from cases import services as case_services
    from cases.models import Family
    from consent import services as consent_services
    from tests import factories as f

    with transaction.atomic():
        early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Riverside Early Help")
        school = f.agency_make(kind=AgencyKind.SCHOOL, name="Riverside Primary School")
        housing = f.agency_make(kind=AgencyKind.HOUSING, name="Riverside Housing")
        health = f.agency_make(kind=AgencyKind.HEALTH, name="Riverside Health Visiting")
        people = {
            "key_worker": f.staff_make(agency=early_help, role=Role.KEY_WORKER, username="kw"),
            "manager": f.staff_make(agency=early_help, role=Role.MANAGER, username="manager"),
            "lead_practitioner": f.staff_make(
                agency=early_help, role=Role.PRACTITIONER, username="eh.worker"
            ),
            "agency_admin": f.staff_make(
                agency=early_help, role=Role.AGENCY_ADMIN, username="eh.admin"
            ),
            "leaver": f.staff_make(agency=early_help, role=Role.PRACTITIONER, username="leaver"),
            "partner": f.staff_make(agency=school, role=Role.PRACTITIONER, username="teacher"),
            "outsider": f.staff_make(agency=housing, role=Role.PRACTITIONER, username="housing"),
            "health_visitor": f.staff_make(agency=health, role=Role.PRACTITIONER, username="hv"),
            "csc_manager": f.staff_make(
                agency=f.agency_make(
                    kind=AgencyKind.CHILDRENS_SOCIAL_CARE, name="Riverside Children's Social Care"
                ),
                role=Role.MANAGER,
                username="csc.manager",
            ),
        }
        kw = people["key_worker"]
        ids: dict[str, int] = {}
        for key, name in (("family", "Smith household"), ("family2", "Jones household")):
            family = f.family_make(by=kw, name=name, postcode="RB1 1AA")
            involvement = f.involvement_make(
                family=family, by=kw, agency=school, practitioner=people["partner"].user
            )
            basis = f.consent_make(family=family, by=kw, agencies=[school])
            ids[key] = family.id
            ids[f"{key}_involvement"] = involvement.id
            ids[f"{key}_consent"] = basis.id
        family = Family.objects.get(id=ids["family"])
        need = case_services.need_create(
            family=family, by=kw, outcome=f.outcome("education"), descriptor="Attendance at 70%"
        )
        ids["need"] = need.id
        ids["member"] = family.members.order_by("id").first().id
        for key, owner in (("action_partner", school), ("action_lead", early_help)):
            ids[key] = case_services.plan_action_create(
                family=family,
                by=kw,
                description=f"Plan action owned by {owner.name}",
                owner_agency=owner,
                due_on=date(2026, 9, 1),
                needs=[need],
            ).id
        ids["decision"] = consent_services.sharing_basis_create(
            family=family,
            by=kw,
            basis="safeguarding",
            agencies=[school],
            justification="Risk of harm reported by the school.",
            decided_by_id=people["manager"].user_id,
        ).id
        ids["grant"] = consent_services.emergency_access_grant(
            family_id=family.id, by=people["health_visitor"], reason="Urgent referral at night."
        ).id
        case_services.intervention_create(
            family=family,
            by=people["partner"],
            kind="attendance",
            title="Morning routine support",
            started_on=date(2025, 10, 6),
        )
        from alerts.models import Alert

        ids["alert"] = Alert.objects.filter(recipient=kw.user).order_by("-id").first().id
        ids["staff"] = people["lead_practitioner"].id
        ids["leaver"] = people["leaver"].id
        ids["early_help"] = early_help.id
        from referrals import services as referral_services

        ids["referral"] = referral_services.referral_create(
            by=people["partner"],
            household={"name": "Smith household", "postcode": "RB1 1AA"},
            people=[{"given_name": "Amy", "family_name": "Smith", "relationship": "child"}],
            concerns=[{"outcome": "education", "descriptor": "Attendance at 84%"}],
            consent={"given_by": "Dana Smith", "method": "verbal", "given_on": date.today()},
            urgency="routine",
        ).id
        closed = f.family_make(by=kw, name="Brown household", postcode="RB1 1AA")
        case_services.family_close(
            family_id=closed.id, by=kw, reason="outcomes_met", outcome_summary="Plan met."
        )
        ids["family_closed"] = closed.id
        stepped = f.family_make(by=kw, name="Green household", postcode="RB1 1AA")
        case_services.family_step_up(
            family_id=stepped.id,
            by=people["manager"],
            to_agency=people["csc_manager"].agency,
            reason="Significant harm: a section 47 enquiry.",
        )
        ids["family_stepped_up"] = stepped.id
    return {
        "users": {key: staff.user.username for key, staff in people.items()},
        "ids": ids,
    }


if __name__ == "__main__":
    if sys.argv[1:] != ["seed"]:
        raise SystemExit("usage: python -m tests.web.live seed")
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    print(json.dumps(seed()))
