"""Pages for signing in and out (Django's session views in the Design System's look), and the
agency admin's staff pages.

Staff pages are for whoever may manage their OWN agency's staff (`access.may_manage_staff`):
anyone else gets the 403 page (platform admins, who belong to no agency, use the Django admin);
a staff member of another agency, or no such staff member, is the 404 page. Writes go through
agencies/services.py (audited and alerted, like the API's and the Django admin's).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from agencies import forms, selectors, services
from agencies.models import Agency, StaffMember
from cases import access
from core.exceptions import Forbidden


class SignIn(auth_views.LoginView):
    """Sign in with a username and password; attempts are throttled per client address with the
    API's token endpoint and the Django admin's login (`forms.ThrottledSignInForm`): beyond the
    limit, 429 with the reason on the form."""

    template_name = "registration/sign_in.html"
    redirect_authenticated_user = True
    form_class = forms.ThrottledSignInForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttle_wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(max(int(form.throttle_wait), 1))
        return response


class SignOut(auth_views.LogoutView):
    pass


# --- staff pages --------------------------------------------------------------------------------


def _managed_agency(request) -> Agency:
    """The signed-in person's own agency, if they may manage its staff; else the 403 page."""
    staff = selectors.staff_for_user(request.user)
    if staff is None or not access.may_manage_staff(user=request.user, agency=staff.agency):
        raise PermissionDenied(
            "Only your agency's admins manage its staff here. Platform administrators use the"
            " Django admin."
        )
    return staff.agency


def _member(agency: Agency, staff_id: int) -> StaffMember:
    """A staff member of `agency`; another agency's, or none: the 404 page."""
    member = selectors.staff_list(agency=agency).filter(pk=staff_id).first()
    if member is None:
        raise Http404
    return member


@login_required
@require_http_methods(["GET", "HEAD"])
def staff_page(request):
    agency = _managed_agency(request)
    members = selectors.staff_list(agency=agency).order_by(
        "-user__is_active", "user__last_name", "user__first_name", "user__username"
    )
    return render(request, "agencies/staff_list.html", {"agency": agency, "members": list(members)})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_add(request):
    agency = _managed_agency(request)
    form = forms.StaffAddForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member = services.staff_create(
                agency=agency,
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                by_user=request.user,
            )
        except ValidationError as exc:
            forms.errors_from_service(form, exc)
        else:
            messages.success(request, f"Staff account created for {_name(member)}.")
            return redirect("staff-page")
    return _form_page(request, "agencies/staff_add.html", form, {"agency": agency})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_change(request, staff_id: int):
    agency = _managed_agency(request)
    member = _member(agency, staff_id)
    if request.method == "POST":
        form = forms.StaffRoleForm(request.POST)
        if form.is_valid():
            try:
                services.staff_role_change(
                    staff=member, role=form.cleaned_data["role"], by_user=request.user
                )
            except ValidationError as exc:
                forms.errors_from_service(form, exc)
            else:
                messages.success(request, f"Role saved for {_name(member)}.")
                return redirect("staff-page")
    else:
        form = forms.StaffRoleForm(initial={"role": member.role})
    context = {"agency": agency, "member": member, "is_self": member.user_id == request.user.id}
    return _form_page(request, "agencies/staff_change.html", form, context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_deactivate(request, staff_id: int):
    agency = _managed_agency(request)
    member = _member(agency, staff_id)
    form = forms.StaffDeactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_deactivate(staff=member, by_user=request.user)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except ValidationError as exc:
            forms.errors_from_service(form, exc)
        else:
            messages.success(request, f"{_name(member)}'s account is deactivated.")
            return redirect("staff-page")
    context = {"agency": agency, "member": member, "is_self": member.user_id == request.user.id}
    return _form_page(request, "agencies/staff_deactivate.html", form, context)


def _form_page(request, template: str, form, context: dict):
    """The form's page: 400 when a submission was refused (the error summary at the top)."""
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, template, {**context, "form": form}, status=status)


def _name(member: StaffMember) -> str:
    return member.user.get_full_name() or member.user.username
