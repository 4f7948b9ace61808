"""The expiry sweep: past an expiry the partner gets 404; the sweep is
idempotent; consents expiring within 14 days warn the key worker once; emergency access ends
after 4 hours; and on the real-services leg the sweep runs as a real Celery beat task.

Time is moved by passing `now=` to `consent.services.sharing_sweep` and by moving `expires_on`
into the past with a queryset update (no clock-freezing dependency).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert
from cases import access
from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
from consent import services
from consent.models import AccessPeriod, EmergencyAccess, SharingBasis
from tests import factories as f

API = "/api/v1/"
ROOT = Path(__file__).resolve().parents[2]
NO_CHANGE = {
    "bases_expired": 0,
    "bases_lapsed": 0,
    "emergency_expired": 0,
    "expiry_warnings": 0,
    "review_warnings": 0,
}


def _detail(family) -> str:
    return f"{API}families/{family.id}/"


def _state(family) -> tuple:
    """Everything the sweep may change for this family."""
    return (
        tuple(
            FamilyGroupObjectPermission.objects.filter(content_object=family)
            .order_by("id")
            .values_list("id", "group_id", "permission_id")
        ),
        tuple(
            FamilyUserObjectPermission.objects.filter(content_object=family)
            .order_by("id")
            .values_list("id", "user_id", "permission_id")
        ),
        tuple(
            AccessPeriod.objects.filter(family=family)
            .order_by("id")
            .values_list("id", "agency_id", "user_id", "started_at", "ended_at")
        ),
        tuple(
            SharingBasis.objects.filter(family=family)
            .order_by("id")
            .values_list("id", "expiry_swept_at", "expiring_alerted_at", "withdrawn_at")
        ),
        tuple(
            EmergencyAccess.objects.filter(family=family)
            .order_by("id")
            .values_list("id", "expires_at", "expiry_swept_at")
        ),
        tuple(Alert.objects.order_by("id").values_list("id", "recipient_id", "kind")),
    )


def _expire(basis, days_ago: int = 1) -> None:
    SharingBasis.objects.filter(id=basis.id).update(
        expires_on=timezone.localdate() - timedelta(days=days_ago)
    )


def test_past_its_expiry_the_sweep_ends_the_partners_access(borough, client_for):
    partner = client_for(borough.partner.user)
    basis = SharingBasis.objects.get(family=borough.family)
    _expire(basis)
    # Expired but not yet swept: the grant is still there (the sweep runs every 30 s).
    assert partner.get(_detail(borough.family)).status_code == 200

    counts = services.sharing_sweep()

    assert counts == dict(NO_CHANGE, bases_expired=1)
    assert partner.get(_detail(borough.family)).status_code == 404
    assert partner.get(_detail(borough.family) + "contacts/").status_code == 404
    assert partner.get(API + "families/").json()["results"] == []
    assert client_for(borough.key_worker.user).get(_detail(borough.family)).status_code == 200
    lost = Alert.objects.filter(recipient=borough.partner.user, kind="access.lost")
    assert [a.summary for a in lost] == [
        f"Your access to family {borough.family.reference} has ended: the sharing basis expired."
    ]
    period = AccessPeriod.objects.get(family=borough.family, agency=borough.school)
    assert period.ended_at is not None
    detail = client_for(borough.key_worker.user).get(_detail(borough.family)).json()
    assert detail["sharing"]["status"] == "expired"


def test_sweep_at_a_later_instant_ends_access_on_the_day_after_expiry(borough, client_for):
    """`now=` past the expiry: the sweep acts as of that instant (the last day still counts)."""
    basis = SharingBasis.objects.get(family=borough.family)
    partner = client_for(borough.partner.user)
    last_day = basis.expires_on
    noon = timezone.make_aware(datetime.combine(last_day, datetime.min.time())) + timedelta(
        hours=12
    )
    assert services.sharing_sweep(now=noon)["bases_expired"] == 0
    assert partner.get(_detail(borough.family)).status_code == 200

    assert services.sharing_sweep(now=noon + timedelta(days=1))["bases_expired"] == 1

    assert partner.get(_detail(borough.family)).status_code == 404


def test_the_sweep_is_idempotent(borough, client_for):
    basis = SharingBasis.objects.get(family=borough.family)
    _expire(basis)
    assert services.sharing_sweep()["bases_expired"] == 1
    after_first = _state(borough.family)

    assert services.sharing_sweep() == NO_CHANGE
    assert services.sharing_sweep(now=timezone.now() + timedelta(minutes=1)) == NO_CHANGE

    assert _state(borough.family) == after_first
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 404


def test_consent_expiring_within_14_days_warns_the_key_worker_once(borough, client_for):
    basis = SharingBasis.objects.get(family=borough.family)
    SharingBasis.objects.filter(id=basis.id).update(
        expires_on=timezone.localdate() + timedelta(days=10)
    )
    # Another family's consent, expiring in 30 days: no warning yet.
    other = f.family_make(by=borough.key_worker, name="Jones household")
    f.involvement_make(family=other, by=borough.key_worker, agency=borough.school)
    later = f.consent_make(family=other, by=borough.key_worker, agencies=[borough.school])
    SharingBasis.objects.filter(id=later.id).update(
        expires_on=timezone.localdate() + timedelta(days=30)
    )

    assert services.sharing_sweep() == dict(NO_CHANGE, expiry_warnings=1)
    assert services.sharing_sweep() == NO_CHANGE

    warnings = Alert.objects.filter(kind="sharing.expiring")
    assert [(a.recipient_id, a.family_id) for a in warnings] == [
        (borough.key_worker.user.id, borough.family.id)
    ]
    kinds = [
        a["kind"]
        for a in client_for(borough.key_worker.user).get(API + "alerts/").json()["results"]
    ]
    assert kinds.count("sharing.expiring") == 1
    # Still current: the warning takes nobody's access away.
    assert client_for(borough.partner.user).get(_detail(borough.family)).status_code == 200


def test_emergency_access_ends_after_four_hours(borough, client_for):
    outsider = client_for(borough.outsider.user)
    response = outsider.post(
        _detail(borough.family) + "emergency-access/",
        {"reason": "Police call-out overnight; need the plan."},
        format="json",
    )
    assert response.status_code == 201
    grant = EmergencyAccess.objects.get(id=response.json()["id"])
    assert grant.expires_at - grant.granted_at == timedelta(hours=4)
    assert outsider.get(_detail(borough.family)).status_code == 200

    early = services.sharing_sweep(now=grant.granted_at + timedelta(hours=3, minutes=59))
    assert early["emergency_expired"] == 0
    assert outsider.get(_detail(borough.family)).status_code == 200

    late = services.sharing_sweep(now=grant.granted_at + timedelta(hours=4, minutes=1))

    assert late["emergency_expired"] == 1
    assert outsider.get(_detail(borough.family)).status_code == 404
    assert services.sharing_sweep(now=grant.granted_at + timedelta(hours=4, minutes=2)) == (
        NO_CHANGE
    )
    period = AccessPeriod.objects.get(family=borough.family, user=borough.outsider.user)
    assert (period.footing, period.ended_at is not None) == ("emergency", True)


# --- the real periodic task (PostgreSQL + Redis leg) -------------------------------------------

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
REAL_SERVICES = DATABASE_URL.startswith("postgres") and bool(REDIS_URL)
BEAT_EVERY_S = 2.0
WITHIN_S = 60

WORKER_SETTINGS = """\
import os

from config.settings import *  # noqa: F403

# Only this run's queue, and only the sweep, every {every} s.
CELERY_TASK_DEFAULT_QUEUE = os.environ["SWEEP_TEST_QUEUE"]
CELERY_BEAT_SCHEDULE = {{
    "sharing-sweep": {{
        "task": "consent.tasks.sharing_sweep",
        "schedule": {every},
        "options": {{"queue": CELERY_TASK_DEFAULT_QUEUE}},
    }},
}}
"""


def _test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db.get("USER") or "postgres")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(5)


def _sessions_gone(dbname: str, app_name: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = %s",
                [dbname, app_name],
            )
            if cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)


@pytest.mark.services
@pytest.mark.skipif(not REAL_SERVICES, reason="needs DATABASE_URL=postgres://… and REDIS_URL")
@pytest.mark.django_db(transaction=True)
def test_the_sweep_runs_as_a_real_periodic_task(borough, tmp_path):
    queue = f"sweep-{uuid.uuid4().hex[:12]}"
    app_name = f"teamaround-{queue}"
    (tmp_path / "sweep_worker_settings.py").write_text(WORKER_SETTINGS.format(every=BEAT_EVERY_S))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="sweep_worker_settings",
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=_test_database_url(),
        REDIS_URL=REDIS_URL,
        SWEEP_TEST_QUEUE=queue,
        PGAPPNAME=app_name,
        LOG_LEVEL="WARNING",
    )
    dbname = connection.settings_dict["NAME"]
    partner = borough.partner.user
    family = borough.family
    basis = SharingBasis.objects.get(family=family)
    assert access.family_permissions(partner, family)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=INFO",
                "-Q",
                queue,
                "-n",
                f"{queue}@%h",
                "-s",
                str(tmp_path / "beat-schedule"),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            _expire(basis)  # committed: this test runs outside a wrapping transaction
            started = time.monotonic()
            while access.family_permissions(partner, family):
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() - started < WITHIN_S, (
                    "the beat sweep did not end access in time:\n"
                    + log_path.read_text(errors="replace")[-3000:]
                )
                time.sleep(0.25)
        finally:
            _stop(proc)
            _sessions_gone(dbname, app_name)
    basis.refresh_from_db()
    assert basis.expiry_swept_at is not None
    assert "consent.tasks.sharing_sweep" in log_path.read_text(errors="replace")
    assert Alert.objects.filter(recipient=partner, kind="access.lost").count() == 1
