"""A Celery worker killed outright (SIGKILL to the worker and its pool process) mid-task: the
task, acknowledged late, stays unacknowledged in the Redis broker; a new worker takes it back once
its visibility timeout has passed and runs it again, and it completes once: the report is built,
one `report.ready` alert, one file. Delivered once more after that (as the reports sweep or a
second restore would), it does nothing.

tests/reports/test_worker_lost.py kills only the pool process, whose parent gives the task back
at once (`reject_on_worker_lost`); here nothing is left to give it back, which is what the
broker's visibility timeout is for (Celery's Redis transport: an unacknowledged message is
delivered again once it is older than `visibility_timeout`). The workers here run with a timeout
of 3 s (production keeps Celery's hour: decision 0024), on a redis-server of this test's own.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (tests/faults/__init__.py).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from datetime import date

import pytest

from tests.faults import services_leg_required

services_leg_required()

import redis  # noqa: E402
from celery import Celery  # noqa: E402
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
    free_port,
    start_redis,
)
from tests.reports.conftest import framework_ensure  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

VISIBILITY_TIMEOUT_S = 3
WORKER_SETTINGS = f"""\
import os

from config.settings import *  # noqa: F403

REPORTS_STEP_PAUSE_S = 0.3  # each progress step pauses: the build lasts long enough to be killed
STORAGES = {{**STORAGES, "reports": {{**STORAGES["reports"],
            "OPTIONS": {{"location": os.environ["REPORTS_ROOT"]}}}}}}
CELERY_BROKER_TRANSPORT_OPTIONS = {{
    "visibility_timeout": {VISIBILITY_TIMEOUT_S},
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}}
"""


class Workers:
    """Celery workers (prefork, one pool process) on our broker and the test database."""

    def __init__(self, env: dict, log_dir):
        self.env, self.log_dir, self.started = env, log_dir, 0

    def start(self) -> Service:
        self.started += 1
        service = Service(
            f"worker-{self.started}",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency=1"]
            + ["--pool=prefork", "--loglevel=INFO", "-Q", QUEUE]
            + ["-n", f"{QUEUE}-faults-{self.started}@%h"]
            + ["--without-gossip", "--without-mingle", "--without-heartbeat"],
            self.env,
            self.log_dir,
        )
        _wait("celery worker", lambda: " ready." in service.log_tail(100_000), [service])
        return service


def _files(folder) -> list:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _dead(pid: int) -> bool:
    """Gone, or a zombie waiting to be reaped (its parent was killed too)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _wait_for(what: str, condition, worker: Service | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None:
            worker.check_alive()
        time.sleep(0.05)
    raise AssertionError(f"{what} within {timeout} s\n{worker.log_tail() if worker else ''}")


@pytest.fixture
def broker(tmp_path, django_db_blocker):
    port = free_port()
    service = start_redis(port, tmp_path, "broker")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        service.stop()
        with django_db_blocker.unblock():
            _wait_db_sessions_gone(connection.settings_dict["NAME"])


def test_a_task_whose_worker_was_killed_runs_again_and_completes_once(
    broker, borough, tmp_path, django_db_blocker, settings
):
    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    (settings_dir / "faults_worker_settings.py").write_text(WORKER_SETTINGS)
    reports_root = tmp_path / "reports"
    with django_db_blocker.unblock():
        database_url = _test_database_url()
    env = dict(
        _base_env(DATABASE_URL=database_url, REDIS_URL=broker),
        DJANGO_SETTINGS_MODULE="faults_worker_settings",
        PYTHONPATH=os.pathsep.join([str(settings_dir), os.getcwd()]),
        REPORTS_ROOT=str(reports_root),
    )
    workers = Workers(env, tmp_path)
    # Not the process's current app: shared tasks sent by later tests in this process must
    # still go to the project's broker, not to this throw-away one.
    sender = Celery("faults-sender", broker=broker, set_as_current=False)

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

    def job_now() -> ReportJob:
        job.refresh_from_db()
        return job

    first = workers.start()
    second = None
    try:
        sender.send_task("reports.tasks.report_build", args=[job.id], queue=QUEUE)
        _wait_for(
            "the build started",
            lambda: job_now().status == "running" and job.progress > 0 and job.worker,
            first,
            30,
        )
        killed_child = int(job.worker.rsplit(":", 1)[1])
        assert killed_child != first.proc.pid  # built in the pool process
        first.stop(signal.SIGKILL)  # the whole worker: its main process and its pool process
        assert first.proc.returncode == -signal.SIGKILL
        _wait_for("the pool process gone", lambda: _dead(killed_child), None, 5)
        # Nothing acknowledged it and nothing gave it back: it waits in the broker's unacked set.
        assert redis.Redis.from_url(broker).hlen("unacked") == 1
        assert job_now().status == "running" and job.attempts == 1

        second = workers.start()
        _wait_for(
            "the build done again", lambda: job_now().status in ("done", "failed"), second, 40
        )
        assert job.status == "done", (job.status, job.error, second.log_tail())
        assert job.attempts == 2
        assert int(job.worker.rsplit(":", 1)[1]) != killed_child
        alerts = Alert.objects.filter(kind="report.ready", source_id=job.id)
        assert alerts.count() == 1
        assert [p.name for p in _files(reports_root)] == [job.file_name.rsplit("/", 1)[1]]
        _wait_for(
            "the task acknowledged",
            lambda: redis.Redis.from_url(broker).hlen("unacked") == 0,
            second,
            10,
        )

        # Delivered once more (the sweep, or a second restore): the finished build stays as it is.
        sender.send_task("reports.tasks.report_build", args=[job.id], queue=QUEUE)
        _wait_for(
            "the second delivery handled",
            lambda: "'nothing to build'" in second.log_tail(100_000),
            second,
            20,
        )
        assert job_now().status == "done" and job.attempts == 2
        assert alerts.count() == 1
        assert len(_files(reports_root)) == 1
    finally:
        for worker in (second, first):
            if worker is not None:
                worker.stop()
