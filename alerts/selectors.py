"""Reads of alerts: only the user's own, only for families they can still see."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from alerts.models import Alert
from cases import access

# Alerts that tell a user they lost access must reach them although the family is now hidden;
# their summaries carry nothing of the record.
ALWAYS_DELIVERED = ("sharing.withdrawn", "access.lost")


def alert_list(*, user, unread: bool = False) -> QuerySet[Alert]:
    """The user's alerts whose family they may still see (or that concern no family)."""
    qs = Alert.objects.filter(recipient_id=user.id).filter(
        Q(family__isnull=True)
        | Q(family_id__in=access.families_visible_to(user).values("id"))
        | Q(kind__in=ALWAYS_DELIVERED)
    )
    if unread:
        qs = qs.filter(read_at__isnull=True)
    return qs.select_related("agency")


def alerts_after(*, user, after_id: int, limit: int = 1000) -> list[Alert]:
    return list(alert_list(user=user).filter(id__gt=after_id).order_by("id")[:limit])


def alerts_by_ids(*, user, ids) -> list[Alert]:
    return list(alert_list(user=user).filter(id__in=ids).order_by("id"))
