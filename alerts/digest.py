"""Digest of alerts still unread after an hour, through Django e-mail or GOV.UK Notify."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert

logger = logging.getLogger(__name__)
DIGEST_AFTER = timedelta(hours=1)


def _notify_client():
    from notifications_python_client.notifications import NotificationsAPIClient

    return NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL)


def _body(alerts: list[Alert]) -> str:
    lines = [f"- {a.created_at:%d %b %H:%M} {a.summary}" for a in alerts]
    return (
        f"You have {len(alerts)} unread alert(s) in Team Around:\n\n"
        + "\n".join(lines)
        + "\n\nSign in to Team Around to read them."
    )


def digest_send(*, now=None) -> int:
    """Send each user one digest of their alerts unread for over an hour; return users sent.

    Each alert is digested once: rows are claimed under a row lock and marked in the same
    transaction, so a retried or concurrent run sends nothing twice.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                read_at__isnull=True, digested_at__isnull=True, created_at__lte=now - DIGEST_AFTER
            )
            .select_related("recipient")
            .order_by("recipient_id", "id")[:5000]
        )
        by_user: dict[int, list[Alert]] = defaultdict(list)
        for alert in due:
            by_user[alert.recipient_id].append(alert)
        notify = _notify_client() if settings.NOTIFY_API_KEY else None
        for alerts in by_user.values():
            user = alerts[0].recipient
            if not user.email or not user.is_active:
                continue
            body = _body(alerts)
            if notify is not None:
                notify.send_email_notification(
                    email_address=user.email,
                    template_id=settings.NOTIFY_DIGEST_TEMPLATE_ID,
                    personalisation={"count": str(len(alerts)), "body": body},
                )
            else:
                send_mail("Team Around: unread alerts", body, None, [user.email])
            sent += 1
        Alert.objects.filter(id__in=[a.id for a in due]).update(digested_at=now)
    return sent
