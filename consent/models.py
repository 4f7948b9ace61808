"""Lawful bases for sharing a family's record, and emergency (break-glass) access.

Three things are kept apart (decision 0005): the lawful basis for sharing (`basis`), the
condition for special-category data (`special_category_condition`), and the family's agreement
to receive early help (`agrees_to_early_help`). A basis is immutable once recorded; withdrawal
is recorded on it, never a deletion.
"""

from django.conf import settings
from django.db import models

from agencies.models import Agency
from cases.models import Family, Person, field_history


class BasisKind(models.TextChoices):
    CONSENT = "consent", "Consent"
    PUBLIC_TASK = "public_task", "Public task"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    SAFEGUARDING = "safeguarding", "Safeguarding without consent"
    COURT_ORDER = "court_order", "Court order"


class Purpose(models.TextChoices):
    TEAM_SHARING = "team_sharing", "Sharing with the Team Around the Family"
    REFERRAL = "referral", "Referral"
    NATIONAL_EVALUATION = "national_evaluation", "National evaluation"


class ConsentMethod(models.TextChoices):
    WRITTEN = "written", "Written"
    VERBAL = "verbal", "Verbal"
    ELECTRONIC = "electronic", "Electronic"


class SharingBasis(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="sharing_bases")
    basis = models.CharField(max_length=20, choices=BasisKind.choices)
    agencies = models.ManyToManyField(Agency, related_name="+")
    purposes = models.JSONField(default=list)
    given_by = models.ManyToManyField(Person, blank=True, related_name="+")
    method = models.CharField(max_length=12, choices=ConsentMethod.choices, blank=True, default="")
    special_category_condition = models.CharField(max_length=200, blank=True, default="")
    agrees_to_early_help = models.BooleanField(null=True)
    justification = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    given_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    review_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    withdrawal_reason = models.TextField(blank=True, default="")
    # A basis without consent grants nothing until the manager named in `decided_by` confirms it.
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Bookkeeping for the sweep: expiry (or lapse at the review date) processed, warning sent.
    expiry_swept_at = models.DateTimeField(null=True, blank=True)
    expiring_alerted_at = models.DateTimeField(null=True, blank=True)

    # The field history (decision 0018), without the sweep's bookkeeping (when it processed the
    # expiry, when it warned: `expires_on` and `review_on` are the record's, and the access the
    # expiry ended is in the disclosure history, `AccessPeriod`) and without `recorded_at` (the
    # history row's own date). The agencies and givers are not tracked: they are set when the
    # basis is recorded and never change (a basis is immutable; a new decision is a new basis).
    history = field_history(
        excluded=["recorded_at", "expiry_swept_at", "expiring_alerted_at"],
        unindexed=[
            "decided_by",
            "recorded_by",
            "withdrawn_by",
            "confirmed_by",
            "reviewed_by",
        ],
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(
                fields=["expires_on"],
                name="basis_expiry_pending",
                condition=models.Q(withdrawn_at__isnull=True, expiry_swept_at__isnull=True),
            )
        ]


class EmergencyAccess(models.Model):
    class Decision(models.TextChoices):
        UPHELD = "upheld", "Upheld"
        NOT_JUSTIFIED = "not_justified", "Not justified"

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="emergency_accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    requested_at = models.DateTimeField(null=True)
    # Empty while a request waits for a manager's approval (after a "not justified" review of the
    # same person on the same family, or past the daily limit); set when the grant starts.
    granted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    approval_required = models.BooleanField(default=False, db_default=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    # The family had withdrawn a basis covering the requester's agency: this grant overrides it.
    overrides_withdrawal = models.BooleanField(default=False, db_default=False)
    expiry_swept_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=20, choices=Decision.choices, blank=True, default="")
    review_notes = models.TextField(blank=True, default="")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]


class AccessPeriod(models.Model):
    """Disclosure history: who had access to a family, from when to when, on what footing."""

    class Footing(models.TextChoices):
        LEAD_AGENCY = "lead_agency", "Lead agency"
        TEAM_BASIS = "team_basis", "On the team under a lawful basis"
        KEY_WORKER = "key_worker", "Key worker"
        EMERGENCY = "emergency", "Emergency access"

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="access_periods")
    agency = models.ForeignKey(Agency, null=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    footing = models.CharField(max_length=20, choices=Footing.choices)
    basis = models.ForeignKey(SharingBasis, null=True, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
