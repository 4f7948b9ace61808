"""Identification: agencies' indicator datasets, matching runs and the candidate households
they find, kept apart from the case record (decision 0028)."""

from django.conf import settings
from django.db import models

from agencies.models import Agency
from cases.models import Family, HeadlineOutcome


class LegalGateway(models.TextChoices):
    PUBLIC_TASK = (
        "public_task",
        "Public task (UK GDPR Article 6(1)(e)) under a data-sharing agreement",
    )
    DEA_2017 = (
        "dea_2017_psd",
        "Digital Economy Act 2017, public service delivery power (multiple disadvantages)",
    )


class IndicatorFramework(models.Model):
    """An outcomes framework as identification uses it: its indicators and how many different
    headline outcomes make a household a candidate. A new framework is a new row."""

    version = models.CharField(max_length=20, unique=True)  # HeadlineOutcome.framework_version
    label = models.CharField(max_length=200)
    min_outcomes = models.PositiveSmallIntegerField(default=3)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.label


class Indicator(models.Model):
    framework = models.ForeignKey(
        IndicatorFramework, on_delete=models.CASCADE, related_name="indicators"
    )
    code = models.CharField(max_length=50)
    label = models.CharField(max_length=200)
    outcome = models.ForeignKey(HeadlineOutcome, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["framework", "code"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="indicator_code_per_version")
        ]

    def __str__(self) -> str:
        return self.label


# The purpose recorded for a dataset uploaded without one (the API contract makes it optional).
DEFAULT_PURPOSE = (
    "Identifying households who may need early help under the Supporting Families programme"
    " (data matching)"
)


class Dataset(models.Model):
    """One upload of an agency's indicator rows: who, under which legal gateway and for what
    purpose, and until when its raw rows are kept (`delete_after`; then `raw_deleted_at`)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    legal_gateway = models.CharField(max_length=20, choices=LegalGateway.choices)
    purpose = models.TextField()
    observed_from = models.DateField()
    observed_to = models.DateField()
    file_name = models.CharField(max_length=200, blank=True, default="")
    rows = models.PositiveIntegerField(default=0)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    delete_after = models.DateField()
    raw_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["agency", "-id"])]

    def __str__(self) -> str:
        return f"Dataset {self.id} ({self.agency})"


class SourceRow(models.Model):
    """One indicator row as uploaded (the raw data): deleted with its dataset's retention."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="source_rows")
    row = models.PositiveIntegerField()  # the line of the file (the header is line 1)
    source_record_id = models.CharField(max_length=100)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    postcode = models.CharField(max_length=10, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    nhs_number = models.CharField(max_length=10, blank=True, default="")
    upn = models.CharField(max_length=13, blank=True, default="")
    ni_number = models.CharField(max_length=9, blank=True, default="")
    indicator = models.CharField(max_length=50)
    observed_on = models.DateField()

    class Meta:
        ordering = ["id"]


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Matching"
    DONE = "done", "Finished"
    FAILED = "failed", "Failed"


class MatchRun(models.Model):
    """One matching run over the datasets held when it started, by a lead-agency manager:
    its threshold, the model splink estimated (settings and parameters), its counts."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    framework = models.ForeignKey(IndicatorFramework, on_delete=models.PROTECT, related_name="+")
    threshold = models.FloatField()
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    dataset_ids = models.JSONField(default=list)
    model = models.JSONField(default=dict)  # splink's model: settings and estimated m and u
    records = models.PositiveIntegerField(default=0)
    links = models.PositiveIntegerField(default=0)
    persons = models.PositiveIntegerField(default=0)
    households = models.PositiveIntegerField(default=0)
    candidates = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Matching run {self.id}"


class Decision(models.TextChoices):
    PENDING = "pending", "Waiting for a decision"
    REFER = "refer", "Refer"
    ALREADY_KNOWN = "already_known", "Already known"
    NOT_NOW = "not_now", "Not now"


class Candidate(models.Model):
    """A household a run found meeting the framework's number of headline outcomes, with
    what a decision needs and no more: the members' names, dates of birth and address, each
    indicator by source agency and date, each link's weights (`explanation`). No identifier
    and no raw row: those stay with the dataset, and go with its retention."""

    run = models.ForeignKey(MatchRun, on_delete=models.CASCADE, related_name="candidate_rows")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")  # the lead
    rank = models.PositiveIntegerField()
    score = models.FloatField()
    household = models.CharField(max_length=40)
    name = models.CharField(max_length=200)  # "Taylor household"
    postcode = models.CharField(max_length=10, blank=True, default="")
    address = models.CharField(max_length=300, blank=True, default="")
    outcomes = models.JSONField(default=list)
    explanation = models.JSONField(default=dict)
    known_family = models.ForeignKey(
        Family, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision = models.CharField(max_length=20, choices=Decision.choices, default=Decision.PENDING)
    reason = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # The referral to the front door a "refer" made (referrals.services.referral_create).
    referral = models.ForeignKey(
        "referrals.Referral", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["run", "rank"]
        indexes = [models.Index(fields=["agency", "decision", "run", "rank"])]

    def __str__(self) -> str:
        return f"Candidate {self.id} ({self.name})"
