"""The app served for browser tests: `python -m core.serve` as a subprocess, on a database of
its own that the subprocess sees, migrated and seeded with a small borough.

- SQLite (the embedded default): a file in a temporary folder.
- PostgreSQL (DATABASE_URL=postgres://…): a database `<test database name>_live` on the same
  server, made afresh and dropped at the end (never pytest-django's test database, whose
  transactions the server could not see).

The server runs without REDIS_URL whatever the leg (in-memory channel layer, Celery tasks in
process, the sign-in throttle's counts in the database): one worker process, nothing else to
start. Its sign-in throttle is raised (`THROTTLE_RATE`) so a suite that signs in often through
the page is not refused.

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
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60
THROTTLE_RATE = "1000/min"
PASSWORD = "correct-horse-battery-staple"  # tests/factories.py PASSWORD: every seeded account's
_SERVERS_STARTED = itertools.count()  # PostgreSQL servers started by this process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    """A running app: `url` (no trailing slash), `users` (seed key → username), `ids` (seed key
    → id), `python(code)` to run code against its database (e.g. to add data or check it)."""

    url: str = ""
    users: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    password: str = PASSWORD
    env: dict = field(default_factory=dict)
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
        return env

    def _database(self) -> str:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith("postgres"):
            return f"sqlite:///{self._workdir / 'live.sqlite3'}"
        import psycopg

        parsed = urlparse(url)
        base = os.environ.get("TEST_DATABASE_NAME") or f"test_{parsed.path.lstrip('/')}"
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
        port = free_port()
        self._log = open(self._workdir / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "core.serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", "1", "--timeout-graceful-shutdown", "2"],
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
            try:
                with urllib.request.urlopen(self.url + "/sign-in/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"not ready after {READY_TIMEOUT_S} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 5000) -> str:
        try:
            return (self._workdir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def python(self, code: str) -> str:
        """Run `code` in a fresh process on the server's database (Django set up); its stdout."""
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
    for tests that end or withdraw something), a school on both teams under consent, and one
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
