from celery import shared_task

from cases import retention


@shared_task(acks_late=True)  # idempotent: a family is pseudonymised once, under its row lock
def families_pseudonymise_due() -> int:
    return retention.families_pseudonymise_due()
