"""Writes for alerts: created with the event, pushed after commit, marked read."""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import Case, CharField, Value, When
from django.utils import timezone

from alerts import push
from alerts.models import Alert, AlertKind, AlertTicket
from cases import access
from cases.models import Family, Visibility

TICKET_LIFETIME = timedelta(seconds=60)


def alerts_for_event(
    *,
    family: Family,
    kind: str,
    agency_id: int | None,
    author_id: int | None,
    summary: str,
    source_type: str = "",
    source_id: int | None = None,
    visibility: str = Visibility.TEAM,
    recipients=None,
) -> list[Alert]:
    """Alert every team member who may see this event (not its author).

    Team members: the key worker and each active involvement's named practitioner, unless
    `recipients` names others. Runs inside the caller's transaction; the push leaves after commit.
    """
    allowed = access.family_viewers_among(
        family=family,
        user_ids=access.TEAM if recipients is None else recipients,
        visibility=visibility,
        recording_agency_id=agency_id,
    ) - {author_id}
    return alerts_to_users(
        user_ids=allowed,
        kind=kind,
        summary=summary,
        family=family,
        agency_id=agency_id,
        source_type=source_type,
        source_id=source_id,
    )


def alerts_to_users(
    *,
    user_ids,
    kind: str,
    summary: str,
    family: Family | None = None,
    agency_id: int | None = None,
    source_type: str = "",
    source_id: int | None = None,
) -> list[Alert]:
    """Alerts addressed to named users whatever their access (e.g. 'your access ended').

    The one place alert rows are made: one per user, in user id order, written in the caller's
    transaction; the push leaves after commit."""
    alerts = Alert.objects.bulk_create(
        [
            Alert(
                recipient_id=user_id,
                family=family,
                agency_id=agency_id,
                kind=kind,
                summary=summary[:300],
                source_type=source_type,
                source_id=source_id,
            )
            for user_id in sorted(set(user_ids))
        ]
    )
    push.alerts_push_on_commit(alerts)
    return alerts


def alerts_access_lost(*, family: Family, change, reason: str) -> list[Alert]:
    """Tell the named practitioners of agencies (and users) that lost sight of the family.

    `change` is the `access.GrantChange` of the sync that removed their grants. The summary
    carries nothing of the record beyond its reference.
    """
    if not change.lost_agency_ids and not change.lost_user_ids:
        return []
    named = set(
        family.involvements.filter(
            agency_id__in=change.lost_agency_ids, practitioner__isnull=False
        ).values_list("practitioner_id", flat=True)
    )
    return alerts_to_users(
        user_ids=named | set(change.lost_user_ids),
        kind=AlertKind.ACCESS_LOST,
        family=family,
        summary=f"Your access to family {family.reference} has ended: {reason}.",
    )


def alert_mark_read(*, alert: Alert) -> Alert:
    if alert.read_at is None:
        alert.read_at = timezone.now()
        alert.save(update_fields=["read_at"])
    return alert


def alert_read_all(*, user) -> int:
    """Mark read every alert the user can see in their list (`selectors.alert_list`)."""
    from alerts.selectors import alert_list

    return alert_list(user=user, unread=True).update(read_at=timezone.now())


def ticket_issue(*, user, token_id: int | None = None, session_key: str = "") -> AlertTicket:
    """A ticket for `user`'s alert socket, tied to the sign-in it was asked with: the API token
    `token_id`, or the session `session_key` (the socket it opens closes when that sign-in
    ends)."""
    return AlertTicket.objects.create(
        key=secrets.token_urlsafe(32),
        user=user,
        expires_at=timezone.now() + TICKET_LIFETIME,
        token_id=token_id,
        session_key=session_key or "",
    )


@transaction.atomic
def ticket_redeem(*, key: str):
    """The ticket, with its user and token, if it is valid and unused (and its token, if it was
    asked with one, not expired); marks it used. Else None.

    A key that `ticket_issue` could not have made (URL-safe base64 characters only) is refused
    unread: sent to the database, a NUL in it is an error on PostgreSQL."""
    if not isinstance(key, str) or not key or len(key) > 64:
        return None
    if not key.isascii() or not key.replace("-", "").replace("_", "").isalnum():
        return None
    now = timezone.now()
    used = AlertTicket.objects.filter(key=key, used_at__isnull=True, expires_at__gt=now).update(
        used_at=now
    )
    if not used:
        return None
    ticket = AlertTicket.objects.select_related("user", "token").get(key=key)
    if ticket.token is not None and ticket.token.expiry <= now:
        return None
    return ticket


def token_holds(*, token_id: int) -> bool:
    """The API token is still there (not revoked) and unexpired."""
    from agencies.models import ApiToken

    return ApiToken.objects.filter(pk=token_id, expiry__gt=timezone.now()).exists()


def family_alerts_pseudonymise(*, family: Family) -> int:
    """Every alert about a family pseudonymised under the retention rule says only the family's
    reference and the alert's kind: a summary may quote a member's name or a note (decision
    0022). One UPDATE; the rows (who was told, when, read) stay."""
    return Alert.objects.filter(family_id=family.id).update(
        summary=Case(
            *(
                When(kind=kind, then=Value(f"{family.reference}: {label}"))
                for kind, label in AlertKind.choices
            ),
            default=Value(f"{family.reference}: Alert"),
            output_field=CharField(),
        )
    )
