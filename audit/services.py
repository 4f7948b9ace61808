"""Writes of the append-only audit log."""

from audit.models import AccessEvent


def access_event_record(
    *, user, agency_id, family_id, method: str, path: str, emergency: bool, status_code=None
) -> AccessEvent:
    return AccessEvent.objects.create(
        user=user,
        agency_id=agency_id,
        family_id=family_id,
        action="read" if method in {"GET", "HEAD", "OPTIONS"} else "write",
        method=method,
        path=path[:300],
        status_code=status_code,
        emergency=emergency,
    )
