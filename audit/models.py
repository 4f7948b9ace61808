"""The append-only logs: who read or changed which family's record (`AccessEvent`, sealed into a
hash chain by `AccessEventSeal`), and staff accounts created and changed (`StaffEvent`).

Append-only is held in two places (decision 0017): these models refuse to change or delete a
row they have saved (`AppendOnly`: `save()` of an existing row, `delete()`, and a queryset's
`update()` / `delete()` raise `AppendOnlyError`), and on PostgreSQL a trigger refuses UPDATE and
DELETE on the access log's two tables whatever the client (migration 0005).
"""

from django.conf import settings
from django.db import models


class AppendOnlyError(Exception):
    """A change or deletion of a row of an append-only log was asked for."""


class AppendOnlyQuerySet(models.QuerySet):
    """Reads as usual; `update()`, `bulk_update()` and `delete()` raise (so does
    `update_or_create` of an existing row, through `save()`)."""

    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: no update")

    def delete(self):
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: no delete")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: no update")

    def _update(self, values):
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: no update")

    def _raw_delete(self, using):
        raise AppendOnlyError(f"{self.model._meta.label} is append-only: no delete")


class AppendOnly(models.Model):
    """A row is written once: `save()` inserts a new row and nothing else."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{self._meta.label} is append-only: a saved row is final")
        kwargs["force_insert"] = True
        return super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{self._meta.label} is append-only: no delete")


class AccessAction(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Write"
    LIST = "list", "Shown in a list"  # one row per family a list or home page showed


class Footing(models.TextChoices):
    """What allowed the access (cases.access `FamilyPerms.footing`); "" for a refusal."""

    LEAD_AGENCY = "lead_agency", "Lead agency"
    KEY_WORKER = "key_worker", "Key worker"
    TEAM = "team", "On the team under a lawful basis"
    EMERGENCY = "emergency", "Emergency access"
    # The early help front door, screening a referral: shown the families it may match, or
    # joining it to one (cases.access `is_front_door`, decision 0026).
    FRONT_DOOR = "front_door", "Front door (referral screening)"


class Outcome(models.TextChoices):
    ALLOWED = "allowed", "Allowed"
    # The access rule answered 404 (not visible, or no such family) or 403 (visible, without
    # the permission the action needs).
    DENIED = "denied", "Denied"


class AccessEvent(AppendOnly):
    """Who read, changed or was shown which family's record, on what footing, and every attempt
    the access rule refused. Written by audit.services (one INSERT per request); never changed."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # No foreign-key constraint in the database: its check on every row (a lock on the user's
    # row, per event) was most of the cost of writing a list's events; users are deactivated,
    # never deleted, and PROTECT still refuses deleting one through Django (decision 0017).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    agency_id = models.BigIntegerField(null=True)
    family_id = models.BigIntegerField(null=True, db_index=True)
    action = models.CharField(max_length=10, choices=AccessAction.choices)
    # What was read or written ("family", "need", "plan_action", …; "" when not known) and its
    # id when the request's address names one.
    object_type = models.CharField(max_length=40, blank=True, default="")
    object_id = models.BigIntegerField(null=True)
    footing = models.CharField(max_length=20, blank=True, default="", choices=Footing.choices)
    # For footing "team": the consent.SharingBasis that covered the agency.
    basis_id = models.BigIntegerField(null=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.ALLOWED)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status_code = models.PositiveSmallIntegerField(null=True)
    emergency = models.BooleanField(default=False)  # footing == "emergency"
    # One id per HTTP request (core.middleware.RequestIdMiddleware, the X-Request-ID header).
    request_id = models.CharField(max_length=64, blank=True, default="")
    client_ip = models.GenericIPAddressField(null=True)

    class Meta:
        ordering = ["-at", "-id"]


class AccessEventSeal(AppendOnly):
    """The hash chain over the access log: `hash` = SHA-256 of the previous event's hash and this
    event's content (audit/chain.py), written in id order by the seal task
    (audit.services.access_events_seal); `manage.py verify_audit` recomputes it. A table of its
    own, so the events are never updated to hold their hash (decision 0017)."""

    event = models.OneToOneField(
        AccessEvent, primary_key=True, on_delete=models.PROTECT, related_name="seal"
    )
    hash = models.CharField(max_length=64)
    sealed_at = models.DateTimeField()

    class Meta:
        ordering = ["event_id"]


class StaffAction(models.TextChoices):
    CREATED = "created", "Staff account created"
    ROLE_CHANGED = "role_changed", "Role changed"
    DEACTIVATED = "deactivated", "Account deactivated"
    AUTHENTICATOR_SET_UP = "authenticator_set_up", "Authenticator app set up"
    AUTHENTICATOR_RESET = "authenticator_reset", "Authenticator app reset"


class StaffEvent(models.Model):
    """Append-only record of staff accounts created, roles changed and accounts deactivated,
    authenticator apps set up and reset, and by whom (an event that changes no role keeps the
    role in both role columns).

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
