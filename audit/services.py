"""Writes of the append-only audit log."""

from django.db import connection
from django.utils import timezone

from audit.models import AccessEvent, StaffEvent

_COLUMNS = ("at", "user_id", "agency_id", "family_id", "action", "method", "path")
_COLUMNS += ("status_code", "emergency")


def access_event_record(
    *, user, agency_id, family_id, method: str, path: str, emergency: bool, status_code=None
) -> None:
    """One row per request that reached a family's record (cases/api.py `FamilyScopedView`; the
    pages' `cases.views.family_page`).

    A plain INSERT: it runs on every family request, and `Model.save()`'s machinery (signals,
    field pre-save, RETURNING the id nobody reads) cost a measurable share of it (decision 0008).
    """
    values = (
        connection.ops.adapt_datetimefield_value(timezone.now()),
        user.id,
        agency_id,
        family_id,
        "read" if method in {"GET", "HEAD", "OPTIONS"} else "write",
        method,
        path[:300],
        status_code,
        emergency,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AccessEvent._meta.db_table} ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
            values,
        )


def staff_event_record(
    *, actor, agency_id: int, subject_id: int, action: str, new_role: str, old_role: str = ""
) -> StaffEvent:
    """One row per staff account created or role changed (agencies/services.py); `actor` None:
    the system did it."""
    return StaffEvent.objects.create(
        actor=actor,
        agency_id=agency_id,
        subject_id=subject_id,
        action=action,
        old_role=old_role,
        new_role=new_role,
    )
