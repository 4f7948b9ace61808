from celery import shared_task

from consent import services


@shared_task(acks_late=True)  # idempotent: each expiry and warning is processed once
def sharing_sweep() -> dict:
    return services.sharing_sweep()
