"""How alerts hears of the events of the apps below it (cases/signals.py, agencies/signals.py).

Each receiver runs inside the sender's transaction (Django signals are synchronous): the alerts
are written with the record that caused them and roll back with it, and their pushes leave after
commit. Connected once, by AlertsConfig.ready() importing this module.
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver

from agencies import signals as agency_signals
from alerts import push, services
from alerts.models import AlertKind, AlertTicket
from cases import access
from cases import signals as case_signals


@receiver(case_signals.family_event_recorded, dispatch_uid="alerts.family_event")
def family_event_alert(
    sender,
    *,
    family,
    by,
    kind,
    agency_id,
    summary,
    source_type,
    source_id,
    visibility,
    **kwargs,
) -> None:
    """Alert the team members who may see the event, not its author; the summary leads with the
    family reference (it is read outside the family's page)."""
    services.alerts_for_event(
        family=family,
        kind=kind,
        agency_id=agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: {summary}",
        source_type=source_type,
        source_id=source_id,
        visibility=visibility,
    )


@receiver(case_signals.key_worker_changed, dispatch_uid="alerts.key_worker_changed")
def key_worker_change_alert(sender, *, family, by, previous_id, summary, **kwargs) -> None:
    """Alert the previous and the new key worker, but the person who changed it."""
    services.alerts_to_users(
        user_ids={previous_id, family.key_worker_id} - {None, by.user_id},
        kind=AlertKind.KEY_WORKER_CHANGED,
        family=family,
        agency_id=by.agency_id,
        summary=f"{family.reference}: {summary}",
        source_type="family",
        source_id=family.id,
    )


@receiver(case_signals.team_left, dispatch_uid="alerts.team_left")
def team_left_alert(sender, *, family, involvement, change, **kwargs) -> None:
    """Tell those who lost sight of the family when an agency left its team."""
    services.alerts_access_lost(
        family=family, change=change, reason=f"{involvement.agency.name} left the team"
    )


@receiver(case_signals.family_transitioned, dispatch_uid="alerts.family_transitioned")
def family_transition_alert(sender, *, family, by, kind, summary, transition, change, **kwargs):
    """A lifecycle transition: alert the team as it now is (the key worker, the named
    practitioners) and the lead agency's managers, each who may see the family, not the
    person who made it; and tell whoever lost sight that their access ended."""
    services.alerts_for_event(
        family=family,
        kind=kind,
        agency_id=by.agency_id,
        author_id=by.user_id,
        summary=f"{family.reference}: {summary}",
        source_type="transition",
        source_id=transition.id,
        recipients=access.family_team_ids(family=family) | access.lead_manager_ids(family=family),
    )
    services.alerts_access_lost(family=family, change=change, reason=summary)


@receiver(case_signals.review_reminder, dispatch_uid="alerts.review_reminder")
def review_reminder_alert(sender, *, family, leg, review_on, **kwargs) -> None:
    """Remind the key worker, while they see the family, that its review is due or overdue."""
    overdue = leg == "overdue"
    services.alerts_for_event(
        family=family,
        kind=AlertKind.REVIEW_OVERDUE if overdue else AlertKind.REVIEW_DUE,
        agency_id=None,
        author_id=None,
        summary=(
            f"{family.reference}: the Team Around the Family review"
            f" {'was due' if overdue else 'is due'} on {review_on:%d %b %Y}"
        ),
        source_type="family",
        source_id=family.id,
        recipients={family.key_worker_id},
    )


@receiver(agency_signals.staff_changed, dispatch_uid="alerts.staff_changed")
def staff_change_alert(sender, *, staff, by_user, summary, **kwargs) -> None:
    """Alert every active admin and manager of the staff member's agency, except the actor."""
    watchers = access.staff_change_watcher_ids(agency_id=staff.agency_id)
    services.alerts_to_users(
        user_ids=watchers - {by_user.id},
        kind=AlertKind.STAFF_CHANGED,
        summary=summary,
        agency_id=staff.agency_id,
    )


@receiver(agency_signals.staff_ways_in_ended, dispatch_uid="alerts.staff_ways_in_ended")
def staff_tickets_delete(sender, *, user_id: int, **kwargs) -> None:
    """The user's unused alert socket tickets go with their other ways in."""
    AlertTicket.objects.filter(user_id=user_id).delete()


@receiver(agency_signals.staff_deactivated, dispatch_uid="alerts.staff_deactivated")
def staff_sockets_revoke(sender, *, user_id: int, **kwargs) -> None:
    """Once the deactivation is committed, tell the user's open alert sockets to re-check and
    close."""
    transaction.on_commit(lambda: push.user_revoke(user_id), robust=True)


@receiver(agency_signals.api_token_revoked, dispatch_uid="alerts.api_token_revoked")
def token_sockets_close(sender, *, user_id: int, token_id: int, **kwargs) -> None:
    """Once the revoke is committed, the alert sockets opened with a ticket asked with that
    token close (its unused tickets went with the token's row)."""
    transaction.on_commit(lambda: push.token_revoke(user_id, token_id), robust=True)


@receiver(case_signals.family_pseudonymised, dispatch_uid="alerts.family_pseudonymised")
def family_pseudonymised_alerts(sender, *, family, **kwargs) -> None:
    """The family's alert texts lose what they quoted of the record (decision 0022)."""
    services.family_alerts_pseudonymise(family=family)
