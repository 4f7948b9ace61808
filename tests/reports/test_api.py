"""The reports API through HTTP with real token auth: who may ask for what, bad input as clear
4xx, progress and the ready alert, download, a failing build, a build taken over."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from alerts.models import Alert
from reports import services
from reports.models import ReportJob
from tests import factories as f
from tests.reports.conftest import pdf_text

PERIOD = {"period_start": "2025-04-01", "period_end": "2026-03-31"}


def test_a_manager_gets_a_claims_pdf_with_progress_and_an_alert(borough, reports_as):
    reports = reports_as(borough.manager.user)
    report = reports.build(kind="claims", format="pdf", **PERIOD)
    assert report["progress"] == 100
    assert report["kind"] == "claims"
    assert report["download"] == f"/api/v1/reports/{report['id']}/download/"
    response = reports.client.get(report["download"])
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = pdf_text(b"".join(response.streaming_content))
    assert borough.family.reference in text
    alert = Alert.objects.get(recipient=borough.manager.user, kind="report.ready")
    assert alert.source_type == "report" and alert.source_id == report["id"]
    assert "ready to download" in alert.summary
    listed = reports.client.get("/api/v1/reports/").json()["results"]
    assert [r["id"] for r in listed] == [report["id"]]
    # The alert reaches the manager through the alerts API too.
    alerts = reports.client.get("/api/v1/alerts/").json()["results"]
    assert any(a["kind"] == "report.ready" for a in alerts)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "nope", "format": "pdf", **PERIOD}, "kind"),
        ({"kind": "claims", "format": "docx", **PERIOD}, "format"),
        ({"kind": "claims", "format": "pdf"}, "period_start"),
        (
            {
                "kind": "claims",
                "format": "pdf",
                "period_start": "2026-03-31",
                "period_end": "2025-04-01",
            },
            "period_end",
        ),
        (
            {"kind": "claims", "format": "pdf", "period_start": "x", "period_end": "y"},
            "period_start",
        ),
        (
            {
                "kind": "claims",
                "format": "pdf",
                "period_start": "1999-01-01",
                "period_end": "2000-03-01",
            },
            "period_start",
        ),
        ({"kind": "family_summary", "format": "pdf"}, "family"),
        ({"kind": "claims", "format": "pdf", "family": 1, **PERIOD}, "family"),
        ({"kind": "family_summary", "format": "pdf", "family": "abc"}, "family"),
        ({"kind": "family_summary", "format": "pdf", "family": 2**70}, "family"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(borough, reports_as, body, field):
    response = reports_as(borough.manager.user).ask(**body)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert not ReportJob.objects.exists()


@pytest.mark.parametrize("who", ["key_worker", "partner", "lead_practitioner"])
@pytest.mark.parametrize("kind", ["caseload", "outcomes", "claims"])
def test_council_wide_reports_are_refused_to_others(borough, reports_as, who, kind):
    response = reports_as(getattr(borough, who).user).ask(kind=kind, format="csv", **PERIOD)
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"


def test_a_partner_manager_may_not_ask_for_the_council_reports(borough, reports_as):
    school_manager = f.staff_make(agency=borough.school, role=Role.MANAGER)
    response = reports_as(school_manager.user).ask(kind="claims", format="pdf", **PERIOD)
    assert response.status_code == 403


def test_a_family_summary_of_a_family_not_seen_is_a_404(borough, reports_as):
    for who in ("outsider", "ended_partner"):
        response = reports_as(getattr(borough, who).user).ask(
            kind="family_summary", format="pdf", family=borough.family.id
        )
        assert response.status_code == 404, (who, response.content)
    missing = reports_as(borough.partner.user).ask(
        kind="family_summary", format="pdf", family=borough.family.id + 1000
    )
    assert missing.status_code == 404
    assert not ReportJob.objects.exists()


def test_an_agency_admin_gets_403(borough, reports_as):
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    response = reports_as(admin.user).ask(kind="family_summary", format="pdf", family=1)
    assert response.status_code == 403


def test_anonymous_gets_401(client_for):
    client = client_for(None)
    assert client.post("/api/v1/reports/", {}, format="json").status_code == 401
    assert client.get("/api/v1/reports/1/").status_code == 401
    assert client.get("/api/v1/reports/1/download/").status_code == 401


def test_a_report_is_its_requesters_alone(borough, reports_as):
    report = reports_as(borough.partner.user).build(
        kind="family_summary", format="csv", family=borough.family.id
    )
    for who in ("key_worker", "manager", "outsider"):
        client = reports_as(getattr(borough, who).user).client
        assert client.get(f"/api/v1/reports/{report['id']}/").status_code == 404
        assert client.get(f"/api/v1/reports/{report['id']}/download/").status_code == 404
        assert client.get("/api/v1/reports/").json()["results"] == []
    own = reports_as(borough.partner.user).client
    assert own.get(f"/api/v1/reports/{report['id']}/").status_code == 200
    for bad in ("0", "99999999", "9" * 30):
        assert own.get(f"/api/v1/reports/{bad}/").status_code == 404


def test_a_family_summary_holds_only_what_its_requester_sees(borough, reports_as):
    from cases import services as case_services

    case_services.contact_create(
        family=borough.family,
        by=borough.key_worker,
        occurred_at=timezone.now() - timedelta(hours=1),
        method="phone",
        summary="Restricted note about the father",
        visibility="restricted",
    )
    case_services.contact_create(
        family=borough.family,
        by=borough.key_worker,
        occurred_at=timezone.now() - timedelta(hours=2),
        method="phone",
        summary="Team note about school mornings",
    )
    for who, sees in (("partner", False), ("key_worker", True)):
        reports = reports_as(getattr(borough, who).user)
        text = reports.pdf_text(kind="family_summary", family=borough.family.id)
        rows = reports.csv(kind="family_summary", family=borough.family.id)
        chronology = " ".join(r["detail"] for r in rows if r["section"] == "contact")
        assert "Team note about school mornings" in text
        assert "Team note about school mornings" in chronology
        assert ("Restricted note about the father" in text) == sees, who
        assert ("Restricted note about the father" in chronology) == sees, who
        assert "OFFICIAL-SENSITIVE" in text and borough.family.reference in text


def test_a_build_that_fails_ends_failed_with_a_message(borough, reports_as, monkeypatch):
    from reports import builders

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(builders.BUILDERS, "claims", broken)
    reports = reports_as(borough.manager.user)
    response = reports.ask(kind="claims", format="pdf", **PERIOD)
    assert response.status_code == 202
    report = reports.client.get(f"/api/v1/reports/{response.json()['id']}/").json()
    assert report["status"] == "failed"
    assert "could not be built" in report["error"]
    assert "disk on fire" not in report["error"]
    download = reports.client.get(f"/api/v1/reports/{report['id']}/download/")
    assert download.status_code == 409
    assert not Alert.objects.filter(kind="report.ready").exists()


def test_a_build_taken_over_keeps_nothing_and_the_redelivery_finishes(borough, reports_as):
    """A worker killed mid-build: the job is left running; the task delivered again takes it
    over (one more attempt) and finishes it once; the overtaken build, if it ever goes on,
    cannot finish it again."""
    from reports.services import Overtaken, _job_claim, _Progress

    manager = borough.manager
    job = ReportJob.objects.create(
        kind="claims",
        format="csv",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
        requested_by=manager.user,
        agency=manager.agency,
    )
    first = _job_claim(job.id)  # the build whose worker dies
    assert first.status == "running" and first.attempts == 1
    assert services.report_build(job_id=job.id) == "done"  # the redelivered task
    job.refresh_from_db()
    assert job.status == "done" and job.attempts == 2 and job.progress == 100
    with pytest.raises(Overtaken):
        _Progress(first, 1)(0.5, force=True)
    assert services.report_build(job_id=job.id) == "nothing to build"  # delivered once more
    assert Alert.objects.filter(kind="report.ready", source_id=job.id).count() == 1


def test_the_sweep_restarts_a_build_that_stopped_and_fails_one_that_keeps_stopping(
    borough, settings
):
    manager = borough.manager
    job = ReportJob.objects.create(
        kind="caseload",
        format="csv",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
        requested_by=manager.user,
        agency=manager.agency,
    )
    from reports.services import _job_claim

    _job_claim(job.id)
    long_ago = timezone.now() - timedelta(seconds=settings.REPORT_STALE_AFTER_S + 5)
    ReportJob.objects.filter(id=job.id).update(heartbeat_at=long_ago)
    assert services.reports_sweep() == {"requeued": 1}  # in process: built at once
    job.refresh_from_db()
    assert job.status == "done"

    stuck = ReportJob.objects.create(
        kind="caseload",
        format="csv",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
        requested_by=manager.user,
        agency=manager.agency,
        status="running",
        attempts=settings.REPORT_MAX_ATTEMPTS,
        heartbeat_at=long_ago,
    )
    services.reports_sweep()
    stuck.refresh_from_db()
    assert stuck.status == "failed" and "kept stopping" in stuck.error
    assert services.reports_sweep() == {"requeued": 0}


def test_a_requester_who_lost_the_role_no_longer_sees_or_gets_the_report(borough, reports_as):
    from agencies.models import StaffMember

    reports = reports_as(borough.manager.user)
    report = reports.build(kind="caseload", format="csv", **PERIOD)
    StaffMember.objects.filter(id=borough.manager.id).update(role=Role.KEY_WORKER)
    assert reports.client.get(f"/api/v1/reports/{report['id']}/").status_code == 404
    assert reports.client.get("/api/v1/reports/").json()["results"] == []


def test_a_claims_period_before_any_framework_is_a_400(borough, reports_as):
    response = reports_as(borough.manager.user).ask(
        kind="claims", format="csv", period_start="2020-01-01", period_end="2021-03-31"
    )
    assert response.status_code == 400
    assert "period_end" in response.json()


def test_early_help_agency_kind_matters(db, reports_as):
    police = f.agency_make(kind=AgencyKind.POLICE)
    manager = f.staff_make(agency=police, role=Role.MANAGER)
    response = reports_as(manager.user).ask(kind="outcomes", format="csv", **PERIOD)
    assert response.status_code == 403
