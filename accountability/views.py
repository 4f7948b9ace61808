"""Pages of the access log's readers (the API's are in accountability/api.py): a family's log,
the agency-wide log with its filters, the unusual access, and the subject access export's
button. Thin views over accountability.selectors and reports.services; access from
cases/access.py: not visible → the 404 page, not allowed → the 403 page."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from accountability import forms, selectors
from cases import access
from cases.views import family_for_page, family_page, page_of
from reports import selectors as report_selectors
from reports import services as report_services
from reports.models import ReportFormat, ReportKind

PAGE_SIZE = 50


def _labelled(events) -> list:
    """The events with the words a row shows (the API's: reports.selectors)."""
    events = list(events)
    for event in events:
        event.user_name = report_selectors.access_event_user_name(event)
        event.footing_text = report_selectors.footing_label(event.footing, event.outcome)
        event.basis_text = report_selectors.basis_label(event.basis_kind, event.basis_given_on)
        event.action_text = forms.ACTION_LABELS.get(event.action, event.action)
    return events


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@require_safe
@family_page
def family_access_log_page(request, family_id: int):
    """`/families/<id>/access-log/`: who saw or changed the family's record, newest first: for
    its key worker and the lead agency's managers."""
    family, perms = family_for_page(request, family_id, object_type="access_log")
    staff = access.case_staff(request.user)
    if not access.may_read_access_log(staff=staff, family=family, perms=perms):
        raise PermissionDenied("The access log is for the key worker and lead managers.")
    page = page_of(request, selectors.family_access_log(family=family), size=PAGE_SIZE)
    page["page_obj"].object_list = _labelled(page["page_obj"].object_list)
    return render(
        request,
        "accountability/family_access_log.html",
        {**page, "family": family, "events": page["page_obj"].object_list},
    )


def _audit_staff(request):
    staff = access.audit_staff(request.user)
    if staff is None:
        raise PermissionDenied("The access log is for managers and data protection officers.")
    return staff


@login_required
@require_safe
def audit_log_page(request):
    """`/audit/`: every access to the families the agency leads, filtered by person, agency,
    family, action, outcome, footing and dates; for managers and data protection officers."""
    staff = _audit_staff(request)
    filters = {k: v for k, v in request.GET.items() if k != "page"}
    form = forms.AuditFilterForm(
        filters or None, agencies=selectors.agency_choices(), auto_id="id_%s"
    )
    status = 200
    page = {"page_obj": None, "page_numbers": []}
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        data = form.cleaned_data if form.is_bound else {}
        end = data.get("end")
        found = selectors.agency_access_log(
            staff=staff,
            filters=selectors.AuditFilters(
                username=data.get("username") or None,
                agency_id=data.get("agency"),
                family_reference=data.get("family") or None,
                action=data.get("action") or None,
                outcome=data.get("outcome") or None,
                footing=data.get("footing") or None,
                unusual=bool(data.get("unusual")),
                start=_day_start(data["start"]) if data.get("start") else None,
                end=_day_start(end + timedelta(days=1)) if end else None,
            ),
        )
        page = page_of(request, found, size=PAGE_SIZE)
        page["page_obj"].object_list = _labelled(page["page_obj"].object_list)
    return render(
        request,
        "accountability/audit_log.html",
        {
            **page,
            "form": form,
            "filtered": bool(filters),
            "agency_name": staff.agency.name,
            "events": page["page_obj"].object_list if page["page_obj"] else [],
        },
        status=status,
    )


@login_required
@require_safe
def unusual_access_page(request):
    """`/audit/unusual/`: emergency access by person, reads outside the reader's caseload or
    team and bursts of reads, over a period (the last 30 days unless asked); for managers and
    data protection officers."""
    staff = _audit_staff(request)
    today = timezone.localdate()
    form = forms.UnusualPeriodForm(request.GET or None, today=today, auto_id="id_%s")
    found, status = None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        if not form.is_bound:
            form = forms.UnusualPeriodForm({}, today=today, auto_id="id_%s")
            form.is_valid()
        start, end = form.period()
        found = selectors.unusual_access(
            staff=staff, start=_day_start(start), end=_day_start(end + timedelta(days=1))
        )
        found["outside"] = _labelled(found["outside"])
        found["first_day"], found["last_day"] = start, end
    return render(
        request,
        "accountability/unusual_access.html",
        {
            "form": form,
            "found": found,
            "agency_name": staff.agency.name,
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@family_page
def subject_access_page(request, family_id: int, member_id: int):
    """`/families/<id>/members/<member id>/subject-access/`: a lead-agency manager asks for a
    subject access export of one member (built in the background: the report's page follows
    it)."""
    family, perms = family_for_page(
        request, family_id, object_type="subject_access", object_id=member_id
    )
    staff = access.case_staff(request.user)
    if not access.may_request_subject_access(staff=staff, family=family, perms=perms):
        raise PermissionDenied("A subject access export is for managers of the lead agency.")
    person = selectors.person_of_family(person_id=member_id, family=family)
    if person is None:
        raise Http404
    form = forms.SubjectAccessForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            job = report_services.report_request(
                by=staff,
                kind=ReportKind.SUBJECT_ACCESS,
                format=ReportFormat.PDF,
                family_id=family.id,
                person_id=person.id,
            )
        except access.NoAccess as exc:
            raise Http404 from exc
        except access.Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except DjangoValidationError as exc:
            form.add_error(None, exc.messages[0])
        else:
            return redirect("report-page", report_id=job.id)
    return render(
        request,
        "accountability/subject_access_new.html",
        {
            "family": family,
            "person": person,
            "form": form,
            "title": "Subject access export",
            "submit": "Create the export",
            "back_url": reverse("family-page", args=[family.id]),
        },
        status=400 if form.errors else 200,
    )
