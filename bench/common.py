"""What the scale benchmarks share: which services are there, the bench database, results.

Two modes:
- `postgres`: DATABASE_URL is PostgreSQL and REDIS_URL is set. The bench gets its own database
  next to DATABASE_URL's (`teamaround_bench_scale`, or `teamaround_bench_scale_small` for
  `--small`), created and migrated here; the served app uses Redis as in production.
- `sqlite`: anything else. A reduced scale in a SQLite file of its own (never db.sqlite3), with
  the in-memory channel layer; figures are for keeping the bench working, not for comparison.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
BENCH_SETTINGS = "bench.settings"
# BENCH_DATABASE: another name, for a bench database of one's own (a branch whose schema differs).
PG_DB = os.environ.get("BENCH_DATABASE", "teamaround_bench_scale")
APP_NAME = "teamaround-bench-scale"  # PGAPPNAME of the bench's database sessions


@dataclass(frozen=True)
class Scale:
    name: str
    families: int
    persons: int
    staff: int
    events: int  # interventions + contacts

    @property
    def label(self) -> str:
        return (
            f"{self.name}: {self.families:,} families, {self.persons:,} people,"
            f" {self.staff:,} staff, {self.events:,} interventions+contacts"
        )


FULL = Scale("full", families=20_000, persons=80_000, staff=2_000, events=1_000_000)
REDUCED = Scale("reduced", families=2_000, persons=8_000, staff=200, events=100_000)
SMALL = Scale("small", families=200, persons=800, staff=100, events=10_000)


@dataclass(frozen=True)
class Env:
    mode: str  # "postgres" | "sqlite"
    small: bool
    scale: Scale
    database_url: str  # the bench database
    redis_url: str

    @property
    def postgres(self) -> bool:
        return self.mode == "postgres"

    @property
    def key_suffix(self) -> str:
        return ("_small" if self.small else "") + ("" if self.postgres else "_sqlite")

    @property
    def describe(self) -> str:
        if self.postgres:
            return f"PostgreSQL {urlsplit(self.database_url).path.lstrip('/')} + Redis"
        return f"SQLite {self.sqlite_path} (no PostgreSQL/Redis configured)"

    @property
    def sqlite_path(self) -> str:
        return "/" + urlsplit(self.database_url).path.lstrip("/")


def small_default() -> bool:
    return os.environ.get("BENCH_SMALL", "") not in {"", "0"}


def bench_env(*, small: bool) -> Env:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if database_url.startswith("postgres") and redis_url:
        name = PG_DB + ("_small" if small else "")
        url = urlunsplit(urlsplit(database_url)._replace(path=f"/{name}"))
        return Env("postgres", small, SMALL if small else FULL, url, redis_url)
    folder = Path(os.environ.get("BENCH_DIR", tempfile.gettempdir()))
    path = folder / f"teamaround_bench_scale{'_small' if small else ''}.sqlite3"
    return Env("sqlite", small, SMALL if small else REDUCED, f"sqlite:///{path}", "")


def services_note(env: Env) -> str | None:
    if env.postgres:
        return None
    return (
        "DATABASE_URL=postgres://… and REDIS_URL=redis://… are not both set: running a reduced"
        f" scale ({env.scale.label}) on SQLite, with the in-memory channel layer."
        " These figures keep the bench working; they are not the ones to compare."
    )


def child_env(env: Env, settings: str = BENCH_SETTINGS, **extra: str) -> dict:
    out = dict(os.environ)
    out.update(
        DATABASE_URL=env.database_url,
        DJANGO_SETTINGS_MODULE=settings,
        PYTHONUNBUFFERED="1",
        FAST_PASSWORD_HASHER="1",
        PGAPPNAME=APP_NAME,
    )
    if env.redis_url:
        out["REDIS_URL"] = env.redis_url
    else:
        out.pop("REDIS_URL", None)
    out.update(extra)
    return out


def database_ensure(env: Env) -> None:
    """Create the bench database if missing (PostgreSQL); `django_setup` migrates it."""
    if env.postgres:
        import psycopg

        name = urlsplit(env.database_url).path.lstrip("/")
        maintenance = urlunsplit(urlsplit(env.database_url)._replace(path="/postgres"))
        with psycopg.connect(maintenance, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                try:
                    conn.execute(f'CREATE DATABASE "{name}"')
                    print(f"created database {name}", flush=True)
                except psycopg.errors.DuplicateDatabase:
                    pass  # another bench run created it meanwhile
    else:
        Path(env.sqlite_path).parent.mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def bench_lock(env: Env):
    """One generator per bench database at a time (CI and a developer may share a machine)."""
    if env.postgres:
        import psycopg

        name = urlsplit(env.database_url).path.lstrip("/")
        maintenance = urlunsplit(urlsplit(env.database_url)._replace(path="/postgres"))
        key = int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", [key])
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", [key])
    else:
        path = env.sqlite_path + ".lock"
        with open(path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def django_setup(env: Env, settings: str = BENCH_SETTINGS) -> None:
    """Point this process's Django at the bench database and migrate it (call once, first)."""
    os.environ.update(
        DATABASE_URL=env.database_url,
        DJANGO_SETTINGS_MODULE=settings,
        FAST_PASSWORD_HASHER="1",
        PGAPPNAME=APP_NAME,
    )
    if env.redis_url:
        os.environ["REDIS_URL"] = env.redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    started = time.perf_counter()
    with bench_lock(env):
        call_command("migrate", interactive=False, verbosity=0)
    took = time.perf_counter() - started
    if took > 3:
        print(f"migrated the bench database in {took:.0f} s", flush=True)


# --- results ---------------------------------------------------------------------------------


def results_load() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def results_save(key: str, result: dict) -> None:
    """Merge one top-level key into bench/results.json (atomic replace)."""
    existing = results_load()
    result = {"run_id": os.environ.get("BENCH_RUN_ID", ""), **result}
    existing[key] = result
    tmp = RESULTS.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(existing, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(RESULTS)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# --- statistics and formatting ------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}"


class Progress:
    """One line per step; redrawn in place on a terminal, a plain line when done otherwise."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.done = label, max(total, 1), 0
        self.started = time.perf_counter()
        self.tty = sys.stdout.isatty()
        self._last = 0.0

    def add(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.tty and now - self._last > 0.2:
            self._last = now
            self._draw(end="\r")

    def _draw(self, end: str) -> None:
        share = min(1.0, self.done / self.total)
        bar = "#" * int(share * 30)
        took = time.perf_counter() - self.started
        print(
            f"  {self.label:<30} [{bar:<30}] {self.done:>10,} rows {took:6.1f} s",
            end=end,
            flush=True,
        )

    def close(self) -> None:
        self._draw(end="\n")
