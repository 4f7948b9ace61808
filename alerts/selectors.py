"""Reads of alerts: only the user's own, only for families they can still see."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework import serializers

from agencies.models import Agency
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


_datetime = serializers.DateTimeField()


def _alert_data(alert: Alert) -> dict:
    """One alert exactly as AlertSerializer renders it, built directly (delivery's hot path)."""
    return {
        "id": alert.id,
        "kind": alert.kind,
        "family": alert.family_id,
        "agency": alert.agency_id,
        "agency_name": alert.agency_name,
        "summary": alert.summary,
        "created_at": _datetime.to_representation(alert.created_at),
        "read_at": None if alert.read_at is None else _datetime.to_representation(alert.read_at),
    }


def alerts_deliverable(*, user_id: int, ids) -> list[dict] | None:
    """The pushed alerts `ids` of this user that they may still see, serialized, in id order.

    None when the user may no longer see case data at all (deactivated, no case role). Two
    plain queries: the user's alert rows among `ids`, then one access check of the user and
    their families read fresh through `access.visible_family_ids_among` (the rule of
    `alert_list`: no family, a family they still see, or a kind always delivered).
    """
    ids = sorted({int(i) for i in ids})
    if not ids:
        return []
    alert, agency = Alert._meta.db_table, Agency._meta.db_table
    rows = list(
        Alert.objects.raw(
            f"SELECT al.id, al.kind, al.family_id, al.agency_id, al.summary, al.created_at,"
            f" al.read_at, ag.name AS agency_name FROM {alert} al"
            f" LEFT JOIN {agency} ag ON ag.id = al.agency_id"
            f" WHERE al.recipient_id = %s AND al.id IN ({', '.join(['%s'] * len(ids))})"
            f" ORDER BY al.id",
            [user_id, *ids],
        )
    )
    visible = access.visible_family_ids_among(
        user_id=user_id,
        family_ids={a.family_id for a in rows if a.kind not in ALWAYS_DELIVERED},
    )
    if visible is None:
        return None
    return [
        _alert_data(a)
        for a in rows
        if a.family_id is None or a.family_id in visible or a.kind in ALWAYS_DELIVERED
    ]
