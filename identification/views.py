"""Pages for identification: upload a dataset (with the row-by-row error report), start a
matching run and watch its progress, the candidate queue and each candidate's explanation and
decision. Thin views over the services and selectors the API uses; the rule is cases.access's:
a thing the person may not know of is the 404 page, an action they may not take the 403."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from cases import access
from identification import forms, linkage, selectors, services
from identification.audit import candidates_shown_log
from identification.models import RunStatus

SHOWN = 100
STATUS_TAGS = {
    RunStatus.QUEUED: "govuk-tag--grey",
    RunStatus.RUNNING: "govuk-tag--blue",
    RunStatus.DONE: "govuk-tag--green",
    RunStatus.FAILED: "govuk-tag--red",
}


def _staff(request):
    return access.identification_staff(request.user)


def _errors_put(form, exc: DjangoValidationError) -> None:
    for field, messages in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)


@login_required
@require_safe
def identification_home(request):
    """Datasets you may know of; an upload link for uploaders, runs and the queue for the
    lead agency's managers."""
    staff = _staff(request)
    may_upload, may_run = access.may_upload_dataset(staff), access.may_run_matching(staff)
    if not (may_upload or may_run):
        raise Http404
    return _home(request, staff, may_upload=may_upload, may_run=may_run)


def _home(request, staff, *, may_upload: bool, may_run: bool, problems=(), status: int = 200):
    return render(
        request,
        "identification/home.html",
        {
            "datasets": list(selectors.dataset_list(staff)[:SHOWN]),
            "runs": list(selectors.run_list(staff)[:10]) if may_run else [],
            "may_upload": may_upload,
            "may_run": may_run,
            "problems": problems,
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def dataset_upload_page(request):
    staff = _staff(request)
    if not access.may_upload_dataset(staff):
        raise PermissionDenied("Datasets are uploaded by an agency's admins and analysts.")
    form = forms.UploadForm(
        request.POST if request.method == "POST" else None,
        request.FILES if request.method == "POST" else None,
    )
    row_errors, status = [], 200
    if request.method == "POST":
        if form.is_valid():
            values = form.cleaned_data
            try:
                services.dataset_upload(by=staff, **values)
            except services.UploadRejected as exc:
                row_errors = exc.errors
                form.add_error("file", "The file has errors: nothing was loaded. See below.")
            except DjangoValidationError as exc:
                _errors_put(form, exc)
            else:
                return redirect("identification-home")
        status = 400
    return render(
        request,
        "identification/upload.html",
        {"form": form, "row_errors": row_errors[:500], "row_errors_count": len(row_errors)},
        status=status,
    )


@login_required
@require_POST
def run_start_page(request):
    staff = _staff(request)
    if not access.may_run_matching(staff):
        raise PermissionDenied("Matching runs are started by managers of the lead agency.")
    try:
        run = services.run_request(by=staff)
    except DjangoValidationError as exc:  # nothing to run with yet (no indicator framework): 409
        return _home(
            request,
            staff,
            may_upload=access.may_upload_dataset(staff),
            may_run=True,
            problems=exc.messages,
            status=409,
        )
    return redirect("identification-run", run_id=run.id)


@login_required
@require_safe
def run_page(request, run_id: int):
    """Where a run stands, refreshed in place while it runs (static/js/live.js polls a page
    whose #report-status is queued or running, as a report's page does)."""
    run = selectors.run_get(_staff(request), run_id)
    if run is None:
        raise Http404
    return render(
        request,
        "identification/run.html",
        {"run": run, "tag_class": STATUS_TAGS.get(run.status, "govuk-tag--grey")},
    )


@login_required
@require_safe
def candidate_list_page(request):
    staff = _staff(request)
    if not access.may_see_candidates(staff):
        raise Http404
    candidates = list(selectors.candidate_list(staff)[:SHOWN])
    candidates_shown_log(request, [c.id for c in candidates], action_list=True)
    return render(request, "identification/candidates.html", {"candidates": candidates})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def candidate_page(request, candidate_id: int):
    staff = _staff(request)
    candidate = selectors.candidate_get(staff, candidate_id)
    candidates_shown_log(request, [candidate_id], allowed=candidate is not None)
    if candidate is None:
        raise Http404
    form = forms.DecisionForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.candidate_decide(
                    by=staff,
                    candidate_id=candidate.id,
                    decision=form.cleaned_data["decision"],
                    reason=form.cleaned_data["reason"],
                    version=candidate.version,
                )
            except access.NoAccess as exc:
                raise Http404 from exc
            except access.StateConflict as exc:
                form.add_error(None, str(exc))
            except DjangoValidationError as exc:
                _errors_put(form, exc)
            else:
                return redirect("identification-candidate", candidate_id=candidate.id)
        status = 400
    return render(
        request,
        "identification/candidate.html",
        {"candidate": candidate, "form": form, "fields": list(linkage.FIELD_LABELS.values())},
        status=status,
    )
