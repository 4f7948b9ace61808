"""The reports' list and detail cost a constant number of SQL queries (2 reports, then 12), and
so does building each kind of report (2 families, then 12): no query per family."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases import services as case_services
from reports import services
from reports.models import ReportJob
from tests import factories as f

PERIOD = {"period_start": date(2025, 4, 1), "period_end": date(2026, 12, 31)}


def _family(borough, n: int):
    family = f.family_make(by=borough.key_worker, name=f"Household {n}")
    f.PersonFactory(family=family)
    need = case_services.need_create(
        family=family, by=borough.key_worker, outcome=f.outcome("health"), descriptor="Need"
    )
    case_services.plan_action_create(
        family=family,
        by=borough.key_worker,
        description="Plan",
        owner_agency=borough.early_help,
        due_on=date(2026, 12, 1),
        needs=[need],
    )
    case_services.assessment_create(
        family=family, by=borough.key_worker, completed_on=date(2026, 1, 5), summary="Done"
    )


def _jobs(borough, n: int) -> list[ReportJob]:
    return [
        services.report_request(by=borough.manager, kind="caseload", format="csv", **PERIOD)
        for _ in range(n)
    ]


def _count(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def test_list_and_detail(borough, client_for):
    from django.test import Client

    client = client_for(borough.manager.user)
    page = Client()
    counts = []
    for n in (2, 10):
        jobs = _jobs(borough, n)
        for job in jobs:
            services.report_build(job_id=job.id)
        listed = _count(lambda: client.get("/api/v1/reports/?page_size=50"))
        path = f"/api/v1/reports/{jobs[0].id}/"
        detail = _count(lambda path=path: client.get(path))
        page.force_login(borough.manager.user)
        pages = _count(lambda: page.get("/reports/"))
        counts.append((listed, detail, pages))
    assert counts[0] == counts[1], counts
    listed, detail, pages = counts[0]
    assert listed <= 6 and detail <= 6 and pages <= 8, counts


@pytest.mark.parametrize("kind", ["caseload", "outcomes", "claims"])
@pytest.mark.parametrize("fmt", ["csv", "pdf"])
def test_building_does_not_grow_with_the_families(borough, kind, fmt):
    # A first build, unmeasured: per-process caches (the access rule's plan hint) are warm.
    services.report_build(
        job_id=services.report_request(by=borough.manager, kind=kind, format=fmt, **PERIOD).id
    )
    counts = []
    made = 0
    for n in (2, 12):
        while made < n:
            made += 1
            _family(borough, made)
        job = services.report_request(by=borough.manager, kind=kind, format=fmt, **PERIOD)
        counts.append(_count(lambda job=job: services.report_build(job_id=job.id)))
        assert ReportJob.objects.get(id=job.id).status == "done"
    assert counts[0] == counts[1], counts
