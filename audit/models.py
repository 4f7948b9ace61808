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
