"""Pages for sharing bases and emergency access: thin views over consent/services.py.

The same rules as consent/api.py for the same person: the family's pages resolve it with
`cases.views.family_for_page` (not visible → 404, without the permission → 403; the access event
written by `cases.views.family_page`), the action predicates of cases/access.py decide the rest.
Asking for emergency access is the exception: it is by family id, for a family the person may not
see, and tells no more than the API does (404 when there is no such family; the same form for
every id).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from cases import access, access_log, selectors
from cases.models import Family, FamilyStatus
from cases.views import (
    FamilyFormPage,
    emergency_grant_stage,
    emergency_grant_status,
    family_for_page,
    family_page,
    forms_confirm,
)
from consent import forms as consent_forms
from consent import selectors as consent_selectors
from consent import services


class SharingNew(FamilyFormPage):
    permission = access.SHARING
    audit_object_type = "sharing_basis"
    template_name = "consent/sharing_new.html"
    title = "Record a basis for sharing"
    submit = "Save basis"
    success = "Basis for sharing recorded"
    anchor = "sharing"

    def load(self, **kwargs):
        team = selectors.team_list(family=self.family).filter(ended_on__isnull=True)
        self.agencies = selectors.agency_choices().filter(
            id__in=[i.agency_id for i in team if i.agency_id != self.family.lead_agency_id]
        )
        self.managers = selectors.lead_managers(family=self.family)

    def make_form(self, data=None):
        return consent_forms.SharingBasisForm(
            data, family=self.family, agencies=self.agencies, managers=self.managers
        )

    def save(self, data):
        return services.sharing_basis_create(
            family=self.family,
            by=self.staff,
            basis=data["basis"],
            agencies=list(data["agencies"]),
            purposes=data["purposes"],
            given_by=list(data["given_by"]),
            method=data["method"],
            expires_on=data["expires_on"],
            review_on=data["review_on"],
            justification=data["justification"],
            decided_by_id=data["decided_by"],
            special_category_condition=data["special_category_condition"],
            agrees_to_early_help=data["agrees_to_early_help"],
        )


class BasisPage(FamilyFormPage):
    """A decision on one basis of the family (404 when it is not one of its bases)."""

    open_only = False
    audit_object_type = "sharing_basis"
    audit_object_kwarg = "basis_id"

    def load(self, basis_id, **kwargs):
        self.basis = (
            consent_selectors.sharing_basis_list(family=self.family)
            .select_related("decided_by")
            .filter(id=basis_id)
            .first()
        )
        if self.basis is None:
            raise Http404
        self.allowed()

    def allowed(self) -> None:
        pass

    def context(self, form):
        return {
            "basis": self.basis,
            "status": consent_selectors.sharing_basis_status(self.basis),
        }


class SharingWithdraw(BasisPage):
    permission = access.SHARING
    template_name = "consent/sharing_withdraw.html"
    title = "Withdraw a basis for sharing"
    submit = "Withdraw"
    success = "Sharing withdrawn: the agencies it covered no longer see the record"
    anchor = "sharing"

    def blocked(self):
        if self.basis.withdrawn_at is not None:
            return "This basis was already withdrawn."
        return None

    def make_form(self, data=None):
        return consent_forms.WithdrawForm(data)

    def save(self, data):
        return services.sharing_basis_withdraw(
            basis=self.basis, by=self.staff, reason=data["reason"]
        )


class SharingConfirm(BasisPage):
    permission = access.VIEW  # access.may_confirm_sharing_basis decides, as in the API
    template_name = "consent/sharing_confirm.html"
    title = "Confirm sharing without consent"
    submit = "Confirm the decision"
    success = "Decision confirmed: the agencies it covers now see the record"
    anchor = "sharing"

    def allowed(self):
        if not access.may_confirm_sharing_basis(
            staff=self.staff, family=self.family, basis=self.basis
        ):
            raise PermissionDenied("Only the lead-agency manager named in the decision.")

    def blocked(self):
        if self.basis.confirmed_at is not None:
            return "This decision is already confirmed."
        return None

    def make_form(self, data=None):
        return forms_confirm(data)

    def save(self, data):
        return services.sharing_basis_confirm(basis_id=self.basis.id, by=self.staff)


sharing_new = family_page(SharingNew.as_view())
sharing_withdraw = family_page(SharingWithdraw.as_view())
sharing_confirm = family_page(SharingConfirm.as_view())


# --- emergency access ---------------------------------------------------------------------------


@login_required
def emergency_access_page(request, family_id: int):
    """Ask for emergency access to a family by its id. The form is the same for every id (it
    shows nothing of the family); the answer is the API's: no such family → 404, granted → the
    family's page, waiting for a manager's approval → this page says so, already granted → the
    message (409)."""
    staff = access.case_staff(request.user)
    if request.method == "POST":  # the request, as the API's (the form reads nothing of it)
        access_log.family_access_log(
            request,
            family_id=family_id,
            perms=access.emergency_request_perms(staff),
            permission=access.EMERGENCY_REQUEST,
            object_type="emergency_access",
        )
    if staff is None:
        raise PermissionDenied("Only practitioners working with families may ask.")
    form = consent_forms.EmergencyAccessForm(request.POST if request.method == "POST" else None)
    context = {"family_id": family_id, "form": form}
    if request.method != "POST":  # the form, the same for every id
        return render(request, "consent/emergency_access.html", context)
    if not form.is_valid():  # before any lookup: a refusal that tells nothing
        return render(request, "consent/emergency_access.html", context, status=400)
    try:
        grant = services.emergency_access_grant(
            family_id=family_id, by=staff, reason=form.cleaned_data["reason"]
        )
    except Family.DoesNotExist as exc:
        access_log.family_access_denied_later(request)  # no such family: the rule's 404
        raise Http404 from exc
    except access.StateConflict as exc:
        context["conflict"] = str(exc)
        return render(request, "consent/emergency_access.html", context, status=409)
    if grant.expires_at is None:
        messages.info(
            request,
            "Your request was sent to the lead agency's managers. You will be alerted when one"
            " of them approves or refuses it.",
        )
        return redirect("emergency-access-page", family_id=family_id)
    until = timezone.localtime(grant.expires_at)
    messages.success(
        request,
        f"Emergency access granted until {until:%H:%M} on {until:%-d %B %Y}. What you open is"
        " logged and reviewed.",
    )
    return redirect("family-page", family_id=family_id)


class EmergencyReview(View):
    """A lead-agency manager's decision on an emergency grant: approve or refuse a request that
    waits for approval, then review a grant (upheld or not justified). The same rule as the
    API's decision views; the page shows the family, so it is audited as a page of the family."""

    template_name = "consent/emergency_review.html"

    def dispatch(self, request, grant_id: int):
        self.staff = access.case_staff(request.user)
        self.grant = (
            consent_selectors.emergency_access_get(grant_id=grant_id) if self.staff else None
        )
        if self.grant is None:
            access_log.family_access_refused(
                request, object_type="emergency_access", object_id=grant_id
            )
            raise Http404
        self.family, self.perms = family_for_page(
            request, self.grant.family_id, object_type="emergency_access", object_id=grant_id
        )
        if not access.may_review_emergency_access(staff=self.staff, family=self.family):
            raise PermissionDenied("Only a lead-agency manager decides on emergency access.")
        return super().dispatch(request, grant_id)

    def stage(self) -> str | None:
        return emergency_grant_stage(self.grant)

    def make_form(self, stage, data=None):
        if stage == "approval":
            return consent_forms.EmergencyApprovalForm(data)
        return consent_forms.EmergencyReviewForm(data)

    def get(self, request, grant_id: int):
        stage = self.stage()
        return self.render(stage, self.make_form(stage) if stage else None)

    def post(self, request, grant_id: int):
        stage = request.POST.get("stage")
        if stage not in ("approval", "review"):
            stage = self.stage() or "review"
        form = self.make_form(stage, request.POST)
        if not form.is_valid():
            return self.render(stage, form, status=400)
        data = form.cleaned_data
        try:
            if stage == "approval":
                services.emergency_access_approve(
                    grant_id=self.grant.id,
                    by=self.staff,
                    approve=data["decision"] == "approve",
                    notes=data["notes"],
                )
                done = "approved" if data["decision"] == "approve" else "refused"
                message = f"Emergency access {done}"
            else:
                services.emergency_access_review(
                    grant_id=self.grant.id,
                    by=self.staff,
                    decision=data["decision"],
                    notes=data["notes"],
                )
                message = "Review recorded"
        except DjangoValidationError as exc:
            for field, errors in getattr(exc, "message_dict", {None: exc.messages}).items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            return self.render(stage, form, status=400)
        except access.Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except access.StateConflict as exc:
            self.grant = consent_selectors.emergency_access_get(grant_id=self.grant.id)
            return self.render(stage, form, conflict=str(exc), status=409)
        messages.success(request, message)
        return redirect(reverse("family-page", args=[self.family.id]) + "#emergency-access")

    def render(self, stage, form, *, conflict=None, status=200):
        grant = self.grant
        return render(
            self.request,
            self.template_name,
            {
                "family": self.family,
                "grant": grant,
                "grant_status": emergency_grant_status(grant),
                "stage": stage,
                "form": form,
                "conflict": conflict,
                "is_open": self.family.status == FamilyStatus.OPEN,
            },
            status=status,
        )


emergency_review = family_page(EmergencyReview.as_view())
