"""Pages for reports: ask for one, watch it being built, download it; a family's summary from
its page. Thin views over reports.services and reports.selectors (the API's), access from
cases/access.py: not yours → the 404 page, not allowed → the 403 page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_safe

from cases import access, access_log
from cases.views import family_for_page, family_page
from reports import forms, selectors, services
from reports.api import report_get_logged
from reports.models import ReportKind, ReportStatus

REPORTS_SHOWN = 50
STATUS_TAGS = {
    ReportStatus.QUEUED: "govuk-tag--grey",
    ReportStatus.RUNNING: "govuk-tag--blue",
    ReportStatus.DONE: "govuk-tag--green",
    ReportStatus.FAILED: "govuk-tag--red",
}


def _may_ask_council(request) -> bool:
    return access.may_request_report(access.case_staff(request.user), council_wide=True)


@login_required
@require_safe
def report_list_page(request):
    """Your reports, newest first, and (for managers of the lead agency) a link to ask for one."""
    reports = list(selectors.report_list(user=request.user)[:REPORTS_SHOWN])
    for report in reports:
        report.tag_class = STATUS_TAGS.get(report.status, "govuk-tag--grey")
    return render(
        request,
        "reports/report_list.html",
        {"reports": reports, "may_ask": _may_ask_council(request)},
    )


def _errors_put(form, exc: DjangoValidationError) -> None:
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for field, messages in exc.message_dict.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def report_new(request):
    """Ask for a caseload, outcomes or claims report (managers of the lead agency)."""
    if not _may_ask_council(request):
        raise PermissionDenied("Caseload, outcomes and claims reports are for managers.")
    form = forms.ReportRequestForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = services.report_request(
                    by=access.case_staff(request.user),
                    kind=form.cleaned_data["kind"],
                    format=form.cleaned_data["format"],
                    period_start=form.cleaned_data["period_start"],
                    period_end=form.cleaned_data["period_end"],
                )
            except access.Forbidden as exc:
                raise PermissionDenied(str(exc)) from exc
            except DjangoValidationError as exc:
                _errors_put(form, exc)
            else:
                return redirect("report-page", report_id=job.id)
        status = 400
    return render(request, "reports/report_new.html", {"form": form}, status=status)


@login_required
@require_safe
def report_page(request, report_id: int):
    """Where a report stands: waiting, being built (with its progress and a link to check
    again), ready (a link to download it) or failed (why, and a link to ask again)."""
    job = report_get_logged(request, report_id)
    return render(
        request,
        "reports/report.html",
        {
            "report": job,
            "tag_class": STATUS_TAGS.get(job.status, "govuk-tag--grey"),
            "download_url": reverse("report-download", args=[job.id]),
            "ask_again_url": _ask_again_url(job),
            "finished": job.status in (ReportStatus.DONE, ReportStatus.FAILED),
        },
    )


def _ask_again_url(job) -> str:
    if job.kind == ReportKind.SUBJECT_ACCESS:
        return reverse("subject-access-page", args=[job.family_id, job.person_id])
    if job.family_id:
        return reverse("family-summary-new", args=[job.family_id])
    return reverse("report-new")


@require_http_methods(["GET", "HEAD", "POST"])
@family_page
def family_summary_new(request, family_id: int):
    """A summary of the family's record and chronology, as the person sees it (PDF or CSV)."""
    family, _ = family_for_page(request, family_id, access.VIEW, object_type="report")
    form = forms.FamilySummaryForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                job = services.report_request(
                    by=access.case_staff(request.user),
                    kind="family_summary",
                    format=form.cleaned_data["format"],
                    family_id=family.id,
                )
            except access.NoAccess as exc:
                access_log.family_access_denied_later(request)
                raise Http404 from exc
            except access.Forbidden as exc:
                raise PermissionDenied(str(exc)) from exc
            except DjangoValidationError as exc:
                _errors_put(form, exc)
            else:
                return redirect("report-page", report_id=job.id)
        status = 400
    return render(
        request,
        "reports/family_summary_new.html",
        {
            "family": family,
            "form": form,
            "title": "Family summary",
            "submit": "Create the summary",
            "back_url": reverse("family-page", args=[family.id]),
        },
        status=status,
    )
