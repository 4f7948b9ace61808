from celery import shared_task

from cases import services


@shared_task(acks_late=True)  # idempotent: each review date is reminded once per leg
def review_sweep() -> dict:
    return services.review_sweep()
