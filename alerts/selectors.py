"""Reads of alerts: only the user's own, only for families they can still see."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from rest_framework import serializers

from agencies.models import Agency
from alerts.models import Alert
from cases import access
from core.db import hot_cursor, instances

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


def alert_header(*, user) -> tuple[int, int]:
    """(unread alerts, newest alert id or 0) of `alert_list(user=user)`, in one statement written
    as SQL: what every page's header shows (alerts.context_processors). The visibility rule is
    `access.family_visible_sql`, applied only to a user `access.case_staff` admits (as
    `families_visible_to` sees no family for anyone else)."""
    kinds = ", ".join(["%s"] * len(ALWAYS_DELIVERED))
    params: list = [user.id, *ALWAYS_DELIVERED]
    if access.case_staff(user) is not None:
        visible = access.family_visible_sql("a.family_id", per_row=True)
        params += [user.id, user.id]
    else:
        visible = "1 = 0"
    sql = (
        f"SELECT COUNT(CASE WHEN a.read_at IS NULL THEN 1 END), COALESCE(MAX(a.id), 0)"
        f" FROM {Alert._meta.db_table} a WHERE a.recipient_id = %s"
        f" AND (a.family_id IS NULL OR a.kind IN ({kinds}) OR {visible})"
    )
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        unread, newest = cursor.fetchone()
    return unread, newest


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

    None when the user may no longer see case data at all (deactivated, no case role). ONE
    statement: the user's status row (`access.case_user_status_sql`) and their alert rows among
    `ids` that pass the rule of `alert_list` (no family, a family they still see by
    `access.family_visible_sql`, or a kind always delivered), read fresh.
    """
    ids = sorted({int(i) for i in ids})
    alert, agency = Alert._meta.db_table, Agency._meta.db_table
    status_from, status_columns = access.case_user_status_sql()
    sql = (
        f"SELECT NULL AS id, NULL AS kind, NULL AS family_id, NULL AS agency_id, NULL AS summary,"
        f" NULL AS created_at, NULL AS read_at, NULL AS agency_name, {status_columns}"
        f" {status_from}"
    )
    params: list = [user_id]
    if ids:
        kinds = ", ".join(["%s"] * len(ALWAYS_DELIVERED))
        sql += (
            f" UNION ALL SELECT al.id, al.kind, al.family_id, al.agency_id, al.summary,"
            f" al.created_at, al.read_at, ag.name, NULL, NULL FROM {alert} al"
            f" LEFT JOIN {agency} ag ON ag.id = al.agency_id"
            f" WHERE al.recipient_id = %s AND al.id IN ({', '.join(['%s'] * len(ids))})"
            f" AND (al.family_id IS NULL OR al.kind IN ({kinds})"
            f" OR {access.family_visible_sql('al.family_id')})"
        )
        params += [user_id, *ids, *ALWAYS_DELIVERED, user_id, user_id]
    rows = instances(Alert, sql, params)
    status = [r for r in rows if r.id is None]
    if not status or not access.case_user_allowed(status[0].is_active, status[0].role):
        return None
    return [_alert_data(a) for a in sorted((r for r in rows if r.id is not None), key=_id)]


def _id(alert: Alert) -> int:
    return alert.id
