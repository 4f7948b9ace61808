"""Matching runs and the retention of raw uploads, on Celery."""

from celery import shared_task

from identification import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def match_run(run_id: int | None = None) -> str:  # None: the oldest waiting run
    return services.match_run_execute(run_id=run_id)


@shared_task
def datasets_retention() -> dict:  # idempotent: run every hour by beat
    return services.datasets_retention()
