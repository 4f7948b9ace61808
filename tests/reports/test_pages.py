"""The report pages without JavaScript: ask, watch (a plain "check again" link, never a
refresh), download; the family summary button and form."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from reports.models import ReportJob
from tests.reports.conftest import pdf_text


@pytest.fixture
def page_for():
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def _date(name, y, m, d):
    return {f"{name}-day": d, f"{name}-month": m, f"{name}-year": y}


def test_a_manager_asks_for_the_claims_pdf_and_downloads_it(
    borough, page_for, django_capture_on_commit_callbacks
):
    client = page_for(borough.manager.user)
    assert b"Ask for a report" in client.get("/reports/").content
    form = client.get("/reports/new/")
    assert form.status_code == 200 and b"Results claims" in form.content
    body = {
        "kind": "claims",
        "format": "pdf",
        **_date("period_start", 2025, 4, 1),
        **_date("period_end", 2026, 3, 31),
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reports/new/", body)
    job = ReportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reports/{job.id}/"
    page = client.get(response["Location"]).content.decode()
    assert "Your report is ready" in page
    download = f"/api/v1/reports/{job.id}/download/"
    assert f'href="{download}"' in page
    file = client.get(download)
    assert file.status_code == 200 and file["Content-Type"] == "application/pdf"
    assert "Results claims" in pdf_text(b"".join(file.streaming_content))
    assert b"Results claims (PDF)" in client.get("/reports/").content
    # The ready alert, on the alerts page, leads to the report's page.
    alerts = client.get("/alerts/").content.decode()
    assert f'<a class="govuk-link" href="/reports/{job.id}/">Your results claims (pdf) report' in (
        alerts
    )


def test_progress_is_shown_with_a_link_to_check_again_and_no_refresh(borough, page_for):
    from reports.services import _job_claim, report_request

    job = report_request(
        by=borough.manager,
        kind="outcomes",
        format="csv",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
    )
    client = page_for(borough.manager.user)
    waiting = client.get(f"/reports/{job.id}/").content.decode()
    assert "Waiting to start" in waiting and "check again</a>" in waiting
    _job_claim(job.id)
    ReportJob.objects.filter(id=job.id).update(progress=40)
    running = client.get(f"/reports/{job.id}/").content.decode()
    assert "40% built." in running
    assert f'href="/reports/{job.id}/">check again</a>' in running
    assert "http-equiv" not in running.lower()
    assert "Download" not in running


def test_the_form_shows_its_errors(borough, page_for):
    client = page_for(borough.manager.user)
    body = {
        "kind": "claims",
        "format": "pdf",
        **_date("period_start", 2026, 3, 31),
        **_date("period_end", 2025, 4, 1),
    }
    response = client.post("/reports/new/", body)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="govuk-error-summary"' in html
    assert "The end of the period cannot be before its start." in html
    empty = client.post("/reports/new/", {})
    assert empty.status_code == 400 and b"Select the report you want" in empty.content
    assert not ReportJob.objects.exists()


def test_others_may_not_ask_for_council_reports(borough, page_for):
    for who in ("key_worker", "partner", "lead_practitioner"):
        client = page_for(getattr(borough, who).user)
        assert client.get("/reports/new/").status_code == 403
        assert b"Ask for a report" not in client.get("/reports/").content


def test_the_family_summary_button_and_form(borough, page_for, django_capture_on_commit_callbacks):
    client = page_for(borough.partner.user)
    family_page = client.get(f"/families/{borough.family.id}/").content.decode()
    assert f'href="/families/{borough.family.id}/summary/"' in family_page
    assert client.get(f"/families/{borough.family.id}/summary/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/families/{borough.family.id}/summary/", {"format": "csv"})
    job = ReportJob.objects.get()
    assert job.kind == "family_summary" and job.family_id == borough.family.id
    assert response["Location"] == f"/reports/{job.id}/"
    assert b"Your report is ready" in client.get(response["Location"]).content
    outsider = page_for(borough.outsider.user)
    assert outsider.get(f"/families/{borough.family.id}/summary/").status_code == 404
    assert outsider.get(f"/reports/{job.id}/").status_code == 404


def test_an_expectant_parent_is_recorded_and_shown(borough, page_for):
    client = page_for(borough.key_worker.user)
    due = timezone.localdate() + timedelta(days=90)
    response = client.post(
        f"/families/{borough.family.id}/members/new/",
        {
            "given_name": "Jo",
            "family_name": "Smith",
            **_date("date_of_birth", 1999, 5, 1),
            **_date("expected_birth_on", due.year, due.month, due.day),
            "relationship": "parent",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    page = client.get(f"/families/{borough.family.id}/").content.decode()
    assert f"expecting a baby on {due.day} {due:%B %Y}" in page
    api = APIClient()
    api.force_authenticate(borough.key_worker.user)
    members = api.get(f"/api/v1/families/{borough.family.id}/members/").json()["results"]
    assert [m["expected_birth_on"] for m in members if m["given_name"] == "Jo"] == [due.isoformat()]
