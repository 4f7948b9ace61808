from celery import shared_task

from cases import retention, services


@shared_task(acks_late=True)  # idempotent: a family is pseudonymised once, under its row lock
def families_pseudonymise_due() -> int:
    return retention.families_pseudonymise_due()


@shared_task(acks_late=True)  # idempotent: each review date is reminded once per leg
def review_sweep() -> dict:
    return services.review_sweep()
