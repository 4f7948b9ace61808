"""A report build survives its worker killed mid-build: a real Celery worker (prefork, one
child) on the REDIS_URL broker and the test database; the child building the report is killed
with SIGKILL while the build is under way; the task, acknowledged late, is delivered again and
the report ends done, built once more (two attempts), with one `report.ready` alert.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import date

import pytest

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
if not (DATABASE_URL.startswith("postgres") and REDIS_URL):
    pytest.skip(
        "needs the real-services leg: DATABASE_URL=postgres://… and REDIS_URL=redis://…",
        allow_module_level=True,
    )

from django.db import connection  # noqa: E402

from alerts.models import Alert  # noqa: E402
from reports.models import ReportJob  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.alerts.test_e2e_services import (  # noqa: E402
    QUEUE,
    Service,
    _base_env,
    _test_database_url,
    _wait,
    _wait_db_sessions_gone,
)
from tests.reports.conftest import framework_ensure  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# Each progress step of a build pauses, so that the build lasts long enough to be killed.
WORKER_SETTINGS = """\
import os

from config.settings import *  # noqa: F403

REPORTS_STEP_PAUSE_S = 0.4
STORAGES = {**STORAGES, "reports": {**STORAGES["reports"],
            "OPTIONS": {"location": os.environ["REPORTS_ROOT"]}}}
"""


@pytest.fixture
def worker(django_db_blocker, tmp_path, settings):
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    (settings_dir / "reports_worker_settings.py").write_text(WORKER_SETTINGS)
    reports_root = tmp_path / "reports"
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(reports_root)},
        },
    }
    with django_db_blocker.unblock():
        database_url, dbname = _test_database_url(), connection.settings_dict["NAME"]
    env = dict(
        _base_env(DATABASE_URL=database_url, REDIS_URL=REDIS_URL),
        DJANGO_SETTINGS_MODULE="reports_worker_settings",
        PYTHONPATH=os.pathsep.join([str(settings_dir), os.getcwd()]),
        REPORTS_ROOT=str(reports_root),
    )
    service = Service(
        "report-worker",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--concurrency=1",
            "--pool=prefork",
            "--loglevel=INFO",
            "-Q",
            QUEUE,
            "-n",
            f"{QUEUE}-reports@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env,
        tmp_path,
    )
    try:
        _wait("celery worker", lambda: " ready." in service.log_tail(100_000), [service])
        yield service
    finally:
        service.stop()
        with django_db_blocker.unblock():
            _wait_db_sessions_gone(dbname)


def test_a_build_survives_its_worker_killed(worker, borough):
    from reports.tasks import report_build

    framework_ensure()
    for n in range(3):
        f.family_make(by=borough.key_worker, name=f"Household {n}")
    job = ReportJob.objects.create(
        kind="claims",
        format="pdf",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
        requested_by=borough.manager.user,
        agency=borough.manager.agency,
    )
    report_build.apply_async(args=[job.id], queue=QUEUE)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == "running" and job.progress > 0 and job.worker:
            break
        worker.check_alive()
        time.sleep(0.05)
    else:
        raise AssertionError(f"the build did not start\n{worker.log_tail()}")
    child = int(job.worker.rsplit(":", 1)[1])
    assert child != worker.proc.pid
    os.kill(child, signal.SIGKILL)  # the pool process building the report

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in ("done", "failed"):
            break
        worker.check_alive()
        time.sleep(0.1)
    assert job.status == "done", (job.status, job.error, worker.log_tail())
    assert job.attempts == 2
    assert int(job.worker.rsplit(":", 1)[1]) != child
    assert Alert.objects.filter(kind="report.ready", source_id=job.id).count() == 1
    assert "WorkerLostError" in worker.log_tail(100_000) or "signal 9" in worker.log_tail(100_000)
