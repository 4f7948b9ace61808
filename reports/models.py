"""Reports built in the background (caseload, outcomes, results claims, a family's summary), and
the results-claim rule of each outcomes framework, kept as data."""

from django.conf import settings
from django.db import models

from agencies.models import Agency
from cases.models import Family, Person


class ReportKind(models.TextChoices):
    CASELOAD = "caseload", "Caseload"
    OUTCOMES = "outcomes", "Outcomes"
    CLAIMS = "claims", "Results claims"
    FAMILY_SUMMARY = "family_summary", "Family summary"
    # Everything held on one member of a family, every access to the family's record and every
    # disclosure (lead-agency managers: `access.may_request_subject_access`); PDF only.
    SUBJECT_ACCESS = "subject_access", "Subject access export"


# The kinds that cover every family of the requester's agency (`access.may_request_report`).
COUNCIL_WIDE = frozenset({ReportKind.CASELOAD, ReportKind.OUTCOMES, ReportKind.CLAIMS})


class ReportFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    CSV = "csv", "CSV (spreadsheet)"


CONTENT_TYPES = {ReportFormat.PDF: "application/pdf", ReportFormat.CSV: "text/csv"}


class ReportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Being built"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ClaimFramework(models.Model):
    """The results-claim rule of one outcomes framework, in force from a date: a new framework
    is a new row (and its headline outcomes new `cases.HeadlineOutcome` rows of that version),
    never new code. Loaded by a data migration."""

    version = models.CharField(max_length=20, unique=True)  # HeadlineOutcome.framework_version
    label = models.CharField(max_length=200)
    in_force_from = models.DateField()
    in_force_to = models.DateField(null=True, blank=True)
    # (a) a dependent child is a member under this age on the date (or an expectant parent);
    # an expectant parent is one whose baby is due within `pregnancy_days` after the date.
    dependent_child_under_years = models.PositiveSmallIntegerField(default=18)
    pregnancy_days = models.PositiveSmallIntegerField(default=280)
    # (b) needs under at least this many different headline outcomes.
    min_outcomes = models.PositiveSmallIntegerField(default=3)
    # (f) each need achieved at least this many weeks before the date.
    sustained_weeks = models.PositiveSmallIntegerField(default=26)

    class Meta:
        ordering = ["in_force_from"]

    def __str__(self) -> str:
        return self.label


class ReportJob(models.Model):
    kind = models.CharField(max_length=20, choices=ReportKind.choices)
    format = models.CharField(max_length=5, choices=ReportFormat.choices)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    family = models.ForeignKey(
        Family, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The member a subject access export is about (its `family` is theirs).
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The requester's agency when they asked: a council-wide report covers the families it leads.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    framework_version = models.CharField(max_length=20, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=ReportStatus.choices, default=ReportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    # The built file's name in the "reports" storage (settings.STORAGES), once done.
    file_name = models.CharField(max_length=300, blank=True, default="")
    file_size = models.PositiveBigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Builds started: a build that finds its number changed was overtaken by a later one (a
    # redelivered task) and keeps nothing.
    attempts = models.PositiveSmallIntegerField(default=0)
    worker = models.CharField(max_length=200, blank=True, default="")  # host:pid of the build
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["requested_by", "-id"]),
            models.Index(
                fields=["status", "heartbeat_at"],
                name="report_unfinished",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.format}) #{self.id}"

    @property
    def council_wide(self) -> bool:
        return self.kind in COUNCIL_WIDE

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]
