"""Alert work that may wait: the unread digest (e-mail, or GOV.UK Notify when configured)."""

from celery import shared_task

from alerts import digest


@shared_task(acks_late=True)  # idempotent: each alert is digested once (digested_at)
def alerts_digest_send() -> int:
    return digest.digest_send()
