"""Digest of alerts still unread after an hour, through Django e-mail or GOV.UK Notify.

An e-mail leaves the access rule's reach, so a digest carries no case content: no alert summary,
no name. It says how many unread alerts the recipient has, the references of the families they
are about, and where to sign in. Only alerts the recipient may still read are counted: an alert
about a family they can no longer see (`access.visible_family_ids_among`) is not mentioned, and a
user who may see no case data at all gets no digest. Such alerts are marked digested all the
same, so no later run sends them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert
from cases import access
from cases.models import Family

logger = logging.getLogger(__name__)
DIGEST_AFTER = timedelta(hours=1)
SUBJECT = "Team Around: unread alerts"
REFERENCES_LISTED = 20  # beyond this many families, the digest says "and N more"


@dataclass
class _Digest:
    email: str
    count: int
    references: list[str]


def _notify_client():
    from notifications_python_client.notifications import NotificationsAPIClient

    return NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL)


def _sign_in_link() -> str:
    return f"{settings.SITE_URL}/"


def _references_text(references: list[str]) -> str:
    shown = ", ".join(references[:REFERENCES_LISTED])
    more = len(references) - REFERENCES_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def _body(digest: _Digest) -> str:
    lines = [f"You have {digest.count} unread alert(s) in Team Around."]
    if digest.references:
        lines.append(f"Families: {_references_text(digest.references)}")
    lines.append(f"Sign in to Team Around to read them: {_sign_in_link()}")
    return "\n\n".join(lines) + "\n"


def _digests_build(alerts: list[Alert]) -> list[_Digest]:
    """One digest per recipient who may still read some of `alerts` and has an address."""
    by_user: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_user[alert.recipient_id].append(alert)
    readable: dict[int, list[Alert]] = {}
    for user_id, own in by_user.items():
        user = own[0].recipient
        if not user.email or not user.is_active:
            continue
        visible = access.visible_family_ids_among(
            user_id=user_id, family_ids={a.family_id for a in own}
        )
        if visible is None:  # may see no case data: no digest at all
            continue
        kept = [a for a in own if a.family_id is None or a.family_id in visible]
        if kept:
            readable[user_id] = kept
    family_ids = {a.family_id for own in readable.values() for a in own if a.family_id}
    references = dict(Family.objects.filter(id__in=family_ids).values_list("id", "reference"))
    return [
        _Digest(
            email=own[0].recipient.email,
            count=len(own),
            references=sorted({references[a.family_id] for a in own if a.family_id}),
        )
        for own in readable.values()
    ]


def digest_send(*, now=None) -> int:
    """Send each user one digest of their alerts unread for over an hour; return users sent.

    Each alert is digested once: rows are claimed under a row lock and marked in the same
    transaction, so a retried or concurrent run sends nothing twice. Alerts the recipient may
    no longer read are marked without being mentioned.
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
        notify = _notify_client() if settings.NOTIFY_API_KEY else None
        for digest in _digests_build(due):
            if notify is not None:
                notify.send_email_notification(
                    email_address=digest.email,
                    template_id=settings.NOTIFY_DIGEST_TEMPLATE_ID,
                    personalisation={
                        "count": str(digest.count),
                        "references": _references_text(digest.references),
                        "link": _sign_in_link(),
                    },
                )
            else:
                send_mail(SUBJECT, _body(digest), None, [digest.email])
            sent += 1
        Alert.objects.filter(id__in=[a.id for a in due]).update(digested_at=now)
    return sent
