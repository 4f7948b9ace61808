from celery import shared_task

from audit import services


@shared_task(acks_late=True)  # idempotent: an event already sealed is not sealed again
def access_events_seal() -> int:
    return services.access_events_seal()
