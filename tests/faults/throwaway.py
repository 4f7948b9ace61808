"""A PostgreSQL cluster of the fault tests' own: `initdb` and `pg_ctl` of the machine's PostgreSQL
in a temporary folder, on a free loopback port, so a test can stop and start it. The machine's own
PostgreSQL (and everyone else's tests on it) is never touched.

initdb refuses to run as root: as root, the cluster belongs to the `postgres` system user (or
`nobody`) and its commands run as that user; otherwise as whoever runs the tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.alerts.test_e2e_services import free_port


def postgres_bindir() -> Path:
    """The folder of initdb/pg_ctl/pg_dump: `pg_config --bindir`, else the newest
    /usr/lib/postgresql/*/bin, else wherever initdb is on PATH."""
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(Path(out.stdout.strip()))
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)
    for folder in candidates:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")


def _owner() -> pwd.struct_passwd | None:
    """The user the cluster runs as when we are root (initdb refuses root), else None (us)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to own the cluster")


class ThrowawayPostgres:
    """initdb'd on construction; `start()`, `stop()`, `remove()`. Trust authentication for the
    superuser `postgres`, loopback only, fsync off (nothing here needs to survive a crash)."""

    def __init__(self):
        self.bin = postgres_bindir()
        self.owner = _owner()
        self.root = Path(tempfile.mkdtemp(prefix="teamaround-faults-pg-"))
        if self.owner is not None:
            os.chown(self.root, self.owner.pw_uid, self.owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self._run(
            "initdb",
            ["-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
            + ["--no-sync", "--locale=C"],
        )

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, tool: str, args: list[str], timeout: float = 60) -> None:
        kwargs = {}
        if self.owner is not None:
            kwargs = {"user": self.owner.pw_uid, "group": self.owner.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bin / tool), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
            **kwargs,
        )
        if result.returncode:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            ["-D", str(self.data), "-l", str(self.log), "-o", options, "-w"]
            + ["-t", "30", "start"],
        )

    def stop(self) -> None:
        """A fast shutdown: every session is ended (its client sees the connection terminated)."""
        self._run("pg_ctl", ["-D", str(self.data), "-m", "fast", "-w", "-t", "30", "stop"])

    def copy_database(self, source_url: str, dbname: str) -> None:
        """`dbname` here becomes a copy (schema and rows) of the database at `source_url`."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        dump = subprocess.run(
            [str(self.bin / "pg_dump"), "-Fc", "--no-owner", "--no-acl", "-d", source_url],
            capture_output=True,
            timeout=60,
            check=True,
        )
        subprocess.run(
            [str(self.bin / "pg_restore"), "--no-owner", "--no-acl", "-d", self.url(dbname)],
            input=dump.stdout,
            capture_output=True,
            timeout=60,
            check=True,
        )

    def remove(self) -> None:
        if self.data.exists() and (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", ["-D", str(self.data), "-m", "immediate", "-w", "stop"])
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
