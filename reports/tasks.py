"""Report builds. Acknowledged late and requeued when their worker is lost: a build is
idempotent (reports.services.report_build), so running it again is safe."""

from celery import shared_task

from reports import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def report_build(job_id: int | None = None) -> str:
    return services.report_build(job_id=job_id)


@shared_task(acks_late=True)  # idempotent: requeues what has stopped, fails what kept stopping
def reports_sweep() -> dict:
    return services.reports_sweep()
