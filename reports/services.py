"""Writes for reports: asking for one (checked, queued after commit), building it (claimed,
with progress, idempotent: a redelivered build takes over and the overtaken one keeps nothing),
finishing it with its `report.ready` alert, and sweeping builds whose worker died."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import StaffMember
from alerts import services as alert_services
from alerts.models import AlertKind
from cases import access, validators
from cases.models import Involvement
from reports import selectors
from reports.models import COUNCIL_WIDE, ReportFormat, ReportJob, ReportKind, ReportStatus

logger = logging.getLogger(__name__)

# How often a build writes its progress (and so shows it is alive), at most.
PROGRESS_EVERY_S = 0.5
LONGEST_PERIOD_DAYS = 5 * 366


def storage():
    return storages["reports"]


@transaction.atomic
def report_request(
    *,
    by: StaffMember,
    kind: str,
    format: str,
    period_start: date | None = None,
    period_end: date | None = None,
    family_id: int | None = None,
    person_id: int | None = None,
) -> ReportJob:
    """Queue a report for `by`. A council-wide kind is for managers of an early help agency
    (`access.may_request_report`, else access.Forbidden) and needs a period; a family summary
    needs a family `by` can see (else access.NoAccess); a subject access export (PDF) needs a
    member (`person_id`) of a family `by` can see (else access.NoAccess) and
    `access.may_request_subject_access` (else access.Forbidden). Built after commit by
    `reports.tasks.report_build`."""
    if kind not in ReportKind.values:
        raise ValidationError({"kind": [f"Unknown kind of report: choose {_choices(ReportKind)}."]})
    if format not in ReportFormat.values:
        raise ValidationError({"format": [f"Unknown format: choose {_choices(ReportFormat)}."]})
    council_wide = kind in COUNCIL_WIDE
    _period_check(period_start, period_end, required=council_wide)
    if not access.may_request_report(by, council_wide=council_wide):
        raise access.Forbidden(
            "Caseload, outcomes and claims reports are for managers of the lead agency."
        )
    framework_version = ""
    if kind == ReportKind.FAMILY_SUMMARY:
        if family_id is None:
            raise ValidationError({"family": ["Choose the family to summarise."]})
        family, perms = access.family_with_permissions(by.user, family_id)
        if access.VIEW not in perms:
            raise access.NoAccess
    elif kind == ReportKind.SUBJECT_ACCESS:
        _subject_access_check(by, format=format, family_id=family_id, person_id=person_id)
    elif family_id is not None:
        raise ValidationError({"family": ["Only a family summary is about one family."]})
    if person_id is not None and kind != ReportKind.SUBJECT_ACCESS:
        raise ValidationError({"person": ["Only a subject access export is about one person."]})
    if kind in (ReportKind.OUTCOMES, ReportKind.CLAIMS):
        framework = selectors.framework_for(period_end)
        if framework is None:
            raise ValidationError(
                {"period_end": [f"No outcomes framework was in force on {period_end:%-d %B %Y}."]}
            )
        framework_version = framework.version
    job = ReportJob.objects.create(
        kind=kind,
        format=format,
        period_start=period_start,
        period_end=period_end,
        family_id=family_id if kind in FAMILY_KINDS else None,
        person_id=person_id if kind == ReportKind.SUBJECT_ACCESS else None,
        requested_by_id=by.user_id,
        agency_id=by.agency_id,
        framework_version=framework_version,
    )
    _queue_on_commit(job.id)
    return job


FAMILY_KINDS = frozenset({ReportKind.FAMILY_SUMMARY, ReportKind.SUBJECT_ACCESS})


def _subject_access_check(by: StaffMember, *, format: str, family_id, person_id) -> None:
    """A subject access export: a PDF about a member of a family `by` sees (else NoAccess: no
    such family or member, a member of another family, a family not visible), asked for by a
    lead-agency manager (else Forbidden)."""
    errors = {}
    if family_id is None:
        errors["family"] = ["Choose the family of the person."]
    if person_id is None:
        errors["person"] = ["Choose the person the export is about."]
    if format != ReportFormat.PDF:
        errors["format"] = ["A subject access export is a PDF."]
    if errors:
        raise ValidationError(errors)
    family, perms = access.family_with_permissions(by.user, family_id)
    if access.VIEW not in perms:
        raise access.NoAccess
    if not access.may_request_subject_access(staff=by, family=family, perms=perms):
        raise access.Forbidden("A subject access export is for managers of the lead agency.")
    if not selectors.person_of_family_exists(person_id=person_id, family_id=family.id):
        raise access.NoAccess


def _choices(choices) -> str:
    return ", ".join(choices.values)


def _period_check(start: date | None, end: date | None, *, required: bool) -> None:
    errors: dict[str, list[str]] = {}
    if required:
        if start is None:
            errors["period_start"] = ["Enter the first day of the period."]
        if end is None:
            errors["period_end"] = ["Enter the last day of the period."]
    for field, value, what in (
        ("period_start", start, "The start of the period"),
        ("period_end", end, "The end of the period"),
    ):
        try:
            validators.date_within(value, what=what, ahead_days=366)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)
    if not errors and start and end:
        if end < start:
            errors["period_end"] = ["The end of the period cannot be before its start."]
        elif (end - start).days > LONGEST_PERIOD_DAYS:
            errors["period_end"] = ["A period can be at most five years long."]
    if errors:
        raise ValidationError(errors)


def _queue_on_commit(job_id: int) -> None:
    from reports.tasks import report_build

    report_build.delay_on_commit(job_id)


# --- building -----------------------------------------------------------------------------------


class Overtaken(Exception):
    """Another build of the same report started since this one did."""


class _Progress:
    """Writes a build's progress (and heartbeat) at most every PROGRESS_EVERY_S; raises
    Overtaken when a later build of the job has taken over."""

    def __init__(self, job: ReportJob, attempt: int):
        self.job_id, self.attempt = job.id, attempt
        self.written_at = 0.0
        self.pause = float(getattr(settings, "REPORTS_STEP_PAUSE_S", 0) or 0)

    def __call__(self, fraction: float, *, force: bool = False) -> None:
        if self.pause:  # tests that need a build to last (a worker killed mid-build)
            time.sleep(self.pause)
        now = time.monotonic()
        if not force and now - self.written_at < PROGRESS_EVERY_S and not self.pause:
            return
        self.written_at = now
        percent = max(1, min(99, int(fraction * 100)))
        updated = ReportJob.objects.filter(
            id=self.job_id, attempts=self.attempt, status=ReportStatus.RUNNING
        ).update(progress=percent, heartbeat_at=timezone.now())
        if not updated:
            raise Overtaken


def _job_claim(job_id: int | None) -> ReportJob | None:
    """Start a build of the job (None: the oldest waiting one): running, one more attempt.
    None when there is nothing to build (finished, or no such job); a job past its attempts is
    marked failed instead."""
    with transaction.atomic():
        jobs = ReportJob.objects.select_for_update()
        if job_id is None:
            job = (
                jobs.filter(status=ReportStatus.QUEUED).order_by("id").first()
                if ReportJob.objects.filter(status=ReportStatus.QUEUED).exists()
                else None
            )
        else:
            job = jobs.filter(id=job_id).first()
        if job is None or job.status in (ReportStatus.DONE, ReportStatus.FAILED):
            return None
        if job.attempts >= settings.REPORT_MAX_ATTEMPTS:
            _fail(job, "The report could not be built: its builds kept stopping. Ask again.")
            return None
        now = timezone.now()
        job.status = ReportStatus.RUNNING
        job.attempts += 1
        job.started_at = job.heartbeat_at = now
        job.progress = 0
        job.worker = f"{socket.gethostname()}:{os.getpid()}"[:200]
        job.error = ""
        job.save(
            update_fields=[
                "status",
                "attempts",
                "started_at",
                "heartbeat_at",
                "progress",
                "worker",
                "error",
            ]
        )
        return job


def _fail(job: ReportJob, message: str, *, attempt: int | None = None) -> bool:
    rows = ReportJob.objects.filter(id=job.id).exclude(status=ReportStatus.DONE)
    if attempt is not None:
        rows = rows.filter(attempts=attempt)
    return bool(
        rows.update(
            status=ReportStatus.FAILED,
            error=message[:2000],
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
    )


def _may_still(job: ReportJob) -> tuple[object | None, str]:
    """(the requester, "") when they may still have this report built, else (None, why): the
    rule is asked again when the build starts, not only when it was asked for."""
    staff = access.case_staff(job.requested_by)
    if not access.may_request_report(staff, council_wide=job.council_wide):
        return None, "The person who asked for this report may no longer have it."
    if job.council_wide and staff.agency_id != job.agency_id:
        return None, "The person who asked for this report has moved to another agency."
    if job.family_id is not None:
        family, perms = access.family_with_permissions(job.requested_by, job.family_id)
        if access.VIEW not in perms:
            return None, "The person who asked for this report can no longer see the family."
        if job.kind == ReportKind.SUBJECT_ACCESS and not (
            access.may_request_subject_access(staff=staff, family=family, perms=perms)
            and selectors.person_of_family_exists(person_id=job.person_id, family_id=job.family_id)
        ):
            return None, "The person who asked for this export may no longer have it."
    return job.requested_by, ""


def report_build(*, job_id: int | None = None) -> str:
    """Build the report (None: the oldest waiting one): idempotent, so a task delivered again
    (its worker died) builds it again and finishes it once. Ends `done` with the file and a
    `report.ready` alert to the requester, or `failed` with a message; never left running by
    an error."""
    from reports.builders import BUILDERS

    job = _job_claim(job_id)
    if job is None:
        return "nothing to build"
    attempt = job.attempts
    job = ReportJob.objects.select_related("requested_by", "agency", "family").get(id=job.id)
    progress = _Progress(job, attempt)
    saved = ""
    try:
        user, why = _may_still(job)
        if user is None:
            _fail(job, why, attempt=attempt)
            return "refused"
        with tempfile.TemporaryFile() as out:
            BUILDERS[job.kind](job, user, out, progress)
            progress(0.95, force=True)
            size = out.tell()
            out.seek(0)
            saved = storage().save(_file_name(job), File(out))
        if _finish(job, attempt=attempt, file_name=saved, size=size):
            return "done"
        storage().delete(saved)
        return "overtaken"
    except Overtaken:
        if saved:
            storage().delete(saved)
        return "overtaken"
    except Exception:
        logger.exception("report %s: the build failed", job.id)
        if saved:
            storage().delete(saved)
        _fail(
            job,
            "The report could not be built because of an error on our side. Ask for it again;"
            " if it fails again, tell your system administrator.",
            attempt=attempt,
        )
        return "failed"


def _file_name(job: ReportJob) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    return f"{job.id}/{job.kind}-{stamp}.{job.format}"


@transaction.atomic
def _finish(job: ReportJob, *, attempt: int, file_name: str, size: int) -> bool:
    """Mark the build done with its file, and alert the requester, in one transaction (the push
    leaves after commit). False when a later build took over."""
    now = timezone.now()
    updated = ReportJob.objects.filter(
        id=job.id, attempts=attempt, status=ReportStatus.RUNNING
    ).update(
        status=ReportStatus.DONE,
        progress=100,
        file_name=file_name,
        file_size=size,
        finished_at=now,
        heartbeat_at=now,
    )
    if not updated:
        return False
    alert_services.alerts_to_users(
        user_ids=[job.requested_by_id],
        kind=AlertKind.REPORT_READY,
        summary=report_ready_summary(job),
        family=job.family if job.family_id else None,
        source_type="report",
        source_id=job.id,
    )
    return True


def report_ready_summary(job: ReportJob) -> str:
    """The alert's words: what is ready, no case content (a family by its reference only)."""
    what = f"{job.get_kind_display()} ({job.format.upper()})"
    if job.kind in FAMILY_KINDS:
        return f"{job.family.reference}: your {what.lower()} is ready to download."
    return (
        f"Your {what.lower()} report for {job.period_start:%-d %b %Y} to"
        f" {job.period_end:%-d %b %Y} is ready to download."
    )


def reports_sweep(*, now=None) -> dict:
    """Builds that stopped showing progress (their worker died) are queued again; builds past
    their attempts are marked failed (`_job_claim`). Idempotent: run every minute by beat."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.REPORT_STALE_AFTER_S)
    stuck = list(
        ReportJob.objects.filter(
            Q(status=ReportStatus.RUNNING, heartbeat_at__lt=stale)
            | Q(status=ReportStatus.QUEUED, created_at__lt=stale)
        )
        .order_by("id")
        .values_list("id", flat=True)[:100]
    )
    from reports.tasks import report_build

    for job_id in stuck:
        report_build.delay(job_id)
    return {"requeued": len(stuck)}


# --- retention -----------------------------------------------------------------------------------

RETENTION_REMOVED = (
    "This report named a family whose personal details were since removed under the retention"
    " rule, so its file is no longer kept. Ask for the report again."
)


def family_reports_pseudonymise(*, family) -> int:
    """A family pseudonymised under the retention rule (decision 0022): the reports that name it
    lose their files: its own (family summaries, subject access exports) and the results-claims
    reports of every agency that led it or was on its team (a claims report lists its agency's
    families by name, whatever its period). The jobs stay, failed with the reason (the page
    offers to ask again); the files are deleted once this commits. A build in flight is stopped
    the same way: it finds its job no longer running and keeps nothing (`_finish`)."""
    agencies = {family.lead_agency_id} | set(
        Involvement.objects.filter(family_id=family.id).values_list("agency_id", flat=True)
    )
    jobs = ReportJob.objects.filter(
        Q(family_id=family.id) | Q(kind=ReportKind.CLAIMS, agency_id__in=agencies),
        status__in=[ReportStatus.QUEUED, ReportStatus.RUNNING, ReportStatus.DONE],
    )
    files = [name for name in jobs.values_list("file_name", flat=True) if name]
    now = timezone.now()
    count = jobs.update(
        status=ReportStatus.FAILED,
        error=RETENTION_REMOVED,
        file_name="",
        file_size=0,
        finished_at=now,
        heartbeat_at=now,
    )

    def delete_files() -> None:
        for name in files:
            storage().delete(name)

    transaction.on_commit(delete_files)
    return count
