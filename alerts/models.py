from django.conf import settings
from django.db import models

from agencies.models import Agency
from cases.models import Family


class AlertKind(models.TextChoices):
    INTERVENTION_RECORDED = "intervention.recorded", "Intervention recorded"
    CONTACT_RECORDED = "contact.recorded", "Contact recorded"
    TEAM_JOINED = "team.joined", "Joined the team"
    SHARING_WITHDRAWN = "sharing.withdrawn", "Sharing withdrawn"
    SHARING_EXPIRING = "sharing.expiring", "Sharing expiring"
    ACCESS_GRANTED = "access.granted", "Access granted"
    ACCESS_LOST = "access.lost", "Access ended"
    EMERGENCY_ACCESS_GRANTED = "emergency_access.granted", "Emergency access granted"
    EMERGENCY_ACCESS_REQUESTED = "emergency_access.requested", "Emergency access awaiting approval"
    KEY_WORKER_CHANGED = "key_worker.changed", "Key worker changed"
    SHARING_CONFIRMATION_NEEDED = "sharing.confirmation_needed", "Sharing decision to confirm"
    SHARING_CONFIRMED = "sharing.confirmed", "Sharing decision confirmed"
    SHARING_REVIEW_DUE = "sharing.review_due", "Sharing decision due for review"
    SHARING_LAPSED = "sharing.lapsed", "Sharing decision lapsed"
    STAFF_CHANGED = "staff.changed", "Staff account created or changed"
    REPORT_READY = "report.ready", "Report ready"
    FAMILY_CLOSED = "family.closed", "Family closed"
    FAMILY_REOPENED = "family.reopened", "Family reopened"
    FAMILY_STEPPED_UP = "family.stepped_up", "Stepped up to children's social care"
    FAMILY_STEPPED_DOWN = "family.stepped_down", "Stepped down to early help"
    REVIEW_RECORDED = "review.recorded", "Review recorded"
    REVIEW_DUE = "review.due", "Review due"
    REVIEW_OVERDUE = "review.overdue", "Review overdue"
    REFERRAL_RECEIVED = "referral.received", "Referral received"
    REFERRAL_DECIDED = "referral.decided", "Referral decided"


class Alert(models.Model):
    """One alert for one user, written in the transaction of the event that caused it."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    family = models.ForeignKey(Family, null=True, on_delete=models.CASCADE, related_name="+")
    agency = models.ForeignKey(Agency, null=True, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40, choices=AlertKind.choices)
    summary = models.CharField(max_length=300)
    source_type = models.CharField(max_length=40, blank=True, default="")
    source_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["recipient", "id"]),
            models.Index(
                fields=["created_at"],
                name="alert_undigested",
                condition=models.Q(read_at__isnull=True, digested_at__isnull=True),
            ),
        ]


class AlertTicket(models.Model):
    """Single-use, short-lived credential for opening the alerts WebSocket.

    It remembers the sign-in it was asked with, and the socket it opens lasts only as long as
    that sign-in: the API token (`token`; revoking the token deletes its tickets and closes
    their sockets) or the session (`session_key`, asked with the session cookie; signing out
    closes the socket)."""

    key = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    token = models.ForeignKey(
        "agencies.ApiToken", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    session_key = models.CharField(max_length=40, blank=True, default="")
