"""Reads of alerts: only the user's own, only for families they can still see."""

from __future__ import annotations

from django.db import connection
from django.db.models import Q, QuerySet

from agencies.models import Agency
from alerts.models import Alert, AlertKind
from alerts.serializers import alerts_json
from cases import access

# Alerts that tell a user they lost access must reach them although the family is now hidden;
# their summaries carry nothing of the record.
ALWAYS_DELIVERED = (AlertKind.SHARING_WITHDRAWN, AlertKind.ACCESS_LOST)


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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        unread, newest = cursor.fetchone()
    return unread, newest


def alerts_after(*, user, after_id: int, limit: int = 1000) -> list[Alert]:
    return list(alert_list(user=user).filter(id__gt=after_id).order_by("id")[:limit])


def alerts_by_ids(*, user, ids) -> list[Alert]:
    return list(alert_list(user=user).filter(id__in=ids).order_by("id"))


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
    rows = list(Alert.objects.raw(sql, params))
    status = [r for r in rows if r.id is None]
    if not status or not access.case_user_allowed(status[0].is_active, status[0].role):
        return None
    alerts = sorted((r for r in rows if r.id is not None), key=_id)
    for alert in alerts:  # the agency the row read, where `alerts_json` reads it
        alert.agency = (
            None
            if alert.agency_id is None
            else Agency.from_db(
                alert._state.db, ["id", "name"], [alert.agency_id, alert.agency_name]
            )
        )
    return alerts_json(alerts)


def _id(alert: Alert) -> int:
    return alert.id
