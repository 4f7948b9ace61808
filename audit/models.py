from django.conf import settings
from django.db import models


class AccessEvent(models.Model):
    """Append-only record of who read or changed which family's record, and on what footing."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency_id = models.BigIntegerField(null=True)
    family_id = models.BigIntegerField(null=True, db_index=True)
    action = models.CharField(max_length=10)  # read | write
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True)
    emergency = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]


class StaffAction(models.TextChoices):
    CREATED = "created", "Staff account created"
    ROLE_CHANGED = "role_changed", "Role changed"
    DEACTIVATED = "deactivated", "Account deactivated"


class StaffEvent(models.Model):
    """Append-only record of staff accounts created, roles changed and accounts deactivated, and
    by whom (a deactivation keeps the role in both role columns).

    `actor` is empty when the system did it (demo data, management commands); the API and the
    Django admin always name the signed-in user.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=20, choices=StaffAction.choices)
    old_role = models.CharField(max_length=20, blank=True, default="")
    new_role = models.CharField(max_length=20)

    class Meta:
        ordering = ["-at", "-id"]
