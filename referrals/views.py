"""Referral pages: the form, the list (the front door's queue; a referrer's own), and a
referral's page with the front door's possible matches and decision. Over the same selectors,
services and rules (cases.access) as referrals/api.py: a page never opens what the API would
not."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from cases import access
from cases.selectors import key_workers_in
from cases.views import page_of
from referrals import forms, screening, selectors, services
from referrals.models import ReferralStatus

# The service's field → the form's field its message goes under (None: the summary).
REFERRAL_FIELDS = {
    "household": "household_name",
    "people": None,
    "concerns": "outcome_1",
    "consent": "consent",
    "urgency": "urgency",
}


def _errors_put(form, exc: DjangoValidationError, fields: dict) -> None:
    for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
        name = fields.get(field, field if field in form.fields else None)
        for message in errors:
            form.add_error(name, message)


@login_required
@require_safe
def referral_list_page(request):
    """The referrals the person sees: for the front door the queue (urgent first, then the
    oldest) and the decided ones; for anyone else their agency's, with their decisions."""
    staff = access.case_staff(request.user)
    if staff is None:
        raise PermissionDenied("Referrals are for people who work with families.")
    status = request.GET.get("status", "")
    status = status if status in ReferralStatus.values else ""
    referrals = selectors.referral_list(user=request.user, status=status or None)
    page = page_of(request, referrals)
    return render(
        request,
        "referrals/referral_list.html",
        {
            **page,
            "front_door": access.is_front_door(staff),
            "status": status,
            "status_choices": [("", "All"), *ReferralStatus.choices],
        },
    )


@login_required
def referral_new(request):
    staff = access.case_staff(request.user)
    if not access.may_refer(staff):
        raise PermissionDenied("Only practitioners who work with families make referrals.")
    form = forms.ReferralForm(request.POST if request.method == "POST" else None)
    context = {"form": form, "title": "Refer a family to early help"}
    if request.method != "POST":
        return render(request, "referrals/referral_new.html", context)
    if not form.is_valid():
        return render(request, "referrals/referral_new.html", context, status=400)
    try:
        referral = services.referral_create(by=staff, **form.service_args())
    except DjangoValidationError as exc:
        _errors_put(form, exc, REFERRAL_FIELDS)
        return render(request, "referrals/referral_new.html", context, status=400)
    messages.success(request, f"Referral {referral.reference} sent to the early help front door")
    return redirect(reverse("referral-page", args=[referral.id]))


@login_required
def referral_page(request, referral_id: int):
    """A referral: what was referred and its decision; for the front door, its possible matches
    (each family shown is an access event) and, while undecided, the decision form (POST)."""
    staff = access.case_staff(request.user)
    referral = selectors.referral_get(user=request.user, referral_id=referral_id)
    if referral is None:
        raise Http404
    if request.method == "POST" and not access.may_decide_referral(staff):
        raise PermissionDenied("The early help front door decides referrals.")
    matches = screening.matches_shown(request, staff=staff, referral=referral)
    front_door = matches is not None
    matches = matches or []
    form = None
    if access.may_decide_referral(staff):
        form = forms.DecisionForm(
            request.POST if request.method == "POST" else None,
            matches=matches,
            key_workers=key_workers_in(agency_ids=[staff.agency_id]),
        )
    visible = selectors.referral_family_ids_visible(user=request.user, referrals=[referral])
    context = {
        "referral": referral,
        "front_door": front_door,
        "matches": matches,
        "form": form,
        "family_shown": referral.family_id if referral.family_id in visible else None,
        "conflict": None,
    }
    if request.method != "POST":
        return render(request, "referrals/referral.html", context)
    if not form.is_valid():
        return render(request, "referrals/referral.html", context, status=400)
    data = form.cleaned_data
    try:
        decided = services.referral_decide(
            referral_id=referral.id,
            by=staff,
            decision=data["decision"],
            reason=data["reason"],
            family_id=data["family"],
            key_worker_id=data["key_worker"],
        )
    except DjangoValidationError as exc:
        _errors_put(form, exc, {})
        return render(request, "referrals/referral.html", context, status=400)
    except access.StateConflict as exc:
        context["conflict"] = str(exc)
        return render(request, "referrals/referral.html", context, status=409)
    screening.decision_logged(request, referral=decided)
    messages.success(request, f"Referral {decided.reference}: {decided.get_status_display()}")
    return redirect(reverse("referral-list-page"))  # on to the rest of the queue
