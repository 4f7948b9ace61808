"""Pages for signing in and out (Django's session views in the Design System's look), and the
agency admin's staff pages.

Staff pages are for whoever may manage their OWN agency's staff (`access.may_manage_staff`):
anyone else gets the 403 page (platform admins, who belong to no agency, use the Django admin);
a staff member of another agency, or no such staff member, is the 404 page. Writes go through
agencies/services.py (audited and alerted, like the API's and the Django admin's).
"""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import urlencode

import django_otp
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from agencies import forms, second_factor, selectors, services
from agencies.models import Agency, StaffMember
from agencies.second_factor import second_factor_pending, second_factor_verified
from cases import access
from core.exceptions import Forbidden


class SignIn(auth_views.LoginView):
    """Sign in with a username and password; attempts are throttled per client address with the
    API's token endpoint and the Django admin's login (`forms.ThrottledSignInForm`): beyond the
    limit, 429 with the reason on the form. Repeated failures lock the username for the address
    (django-axes, agencies/lockout.py: the locked page). When the second factor is due
    (agencies/second_factor.py), the password leads to the code page, then to `next`."""

    template_name = "registration/sign_in.html"
    redirect_authenticated_user = True
    form_class = forms.ThrottledSignInForm

    def form_valid(self, form):
        response = super().form_valid(form)
        if second_factor_pending(self.request):
            return _to(reverse("sign-in-code"), self.get_success_url())
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.throttle_wait is not None:
            response.status_code = 429
            response["Retry-After"] = str(max(int(form.throttle_wait), 1))
        return response


class SignOut(auth_views.LogoutView):
    pass


# --- the second factor: the code page and setting up an authenticator app -----------------------


def _next(request) -> str:
    """Where to go once the code is given: `next` when it is a path of this site, else home."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _to(path: str, next_url: str):
    return redirect(f"{path}?{urlencode({'next': next_url})}")


def _second_factor_given(request, device) -> None:
    """The session has given its code: django-otp marks it verified; a new session key."""
    django_otp.login(request, device)
    request.session[second_factor.DUE] = True
    request.session.cycle_key()


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_code(request):
    """After the password: the code the person's authenticator app shows. Without an app set up
    yet, to the page that sets one up if the code is due, else on to `next`; with the code given
    in this session, on to `next`."""
    next_url = _next(request)
    if selectors.authenticator_for(request.user) is None:
        if second_factor_pending(request):
            return _to(reverse("authenticator-setup"), next_url)
        return redirect(next_url)
    if second_factor_verified(request):
        return redirect(next_url)
    form = forms.SecondFactorCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            device = services.authenticator_verify(
                user=request.user, code=form.cleaned_data["code"]
            )
        except ValidationError as exc:
            forms.errors_from_service(form, exc)
        else:
            _second_factor_given(request, device)
            return redirect(next_url)
    return _form_page(request, "registration/sign_in_code.html", form, {"next": next_url})


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def authenticator_setup(request):
    """Set up an authenticator app (no JavaScript: its secret key and otpauth link as text),
    confirmed with its first code, which also gives this session's second factor. A person who
    has an app and has not given its code here is sent to the code page: a new app is added only
    by someone who has given the current one's."""
    current = selectors.authenticator_for(request.user)
    next_url = _next(request)
    if current is not None and not second_factor_verified(request):
        return _to(reverse("sign-in-code"), request.get_full_path())
    form = forms.SecondFactorCodeForm(None)
    if request.method == "POST" and request.POST.get("action") == "start":
        services.authenticator_start(user=request.user)
        return _to(reverse("authenticator-setup"), next_url)
    if request.method == "POST":
        form = forms.SecondFactorCodeForm(request.POST)
        if form.is_valid():
            try:
                device = services.authenticator_confirm(
                    user=request.user, code=form.cleaned_data["code"]
                )
            except ValidationError as exc:
                forms.errors_from_service(form, exc)
            else:
                _second_factor_given(request, device)
                messages.success(request, "Your authenticator app is set up.")
                return redirect(next_url)
    pending = selectors.authenticator_pending_for(request.user)
    context = {"current": current, "pending": pending, "next": next_url}
    if pending is not None:
        secret = b32encode(pending.bin_key).decode()
        context["secret"] = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        context["otpauth_uri"] = pending.config_url
    return _form_page(request, "agencies/authenticator_setup.html", form, context)


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
    context = _member_context(request, agency, member)
    return _form_page(request, "agencies/staff_change.html", form, context)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_deactivate(request, staff_id: int):
    return _staff_confirmed(
        request,
        staff_id,
        services.staff_deactivate,
        "agencies/staff_deactivate.html",
        done=lambda member: (f"{_name(member)}'s account is deactivated.", reverse("staff-page")),
    )


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def staff_authenticator_reset(request, staff_id: int):
    """Reset a staff member's lost authenticator app (they set up a new one at their next
    sign-in): `services.authenticator_reset`."""
    return _staff_confirmed(
        request,
        staff_id,
        services.authenticator_reset,
        "agencies/staff_authenticator_reset.html",
        done=lambda member: (
            f"{_name(member)}'s authenticator app is reset: they set up a new one when they next"
            " sign in.",
            reverse("staff-change", args=[member.id]),
        ),
    )


def _staff_confirmed(request, staff_id: int, service, template: str, done):
    """A confirmation page about one staff member (no fields): POST does `service(staff=…,
    by_user=…)`, then the message and the address `done(member)` gives."""
    agency = _managed_agency(request)
    member = _member(agency, staff_id)
    form = forms.StaffDeactivateForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            service(staff=member, by_user=request.user)
        except Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except ValidationError as exc:
            forms.errors_from_service(form, exc)
        else:
            message, to = done(member)
            messages.success(request, message)
            return redirect(to)
    context = _member_context(request, agency, member)
    return _form_page(request, template, form, context)


def _member_context(request, agency: Agency, member: StaffMember) -> dict:
    return {
        "agency": agency,
        "member": member,
        "is_self": member.user_id == request.user.id,
        "has_app": selectors.authenticator_for(member.user) is not None,
    }


def _form_page(request, template: str, form, context: dict):
    """The form's page: 400 when a submission was refused (the error summary at the top)."""
    status = 400 if request.method == "POST" and form.errors else 200
    return render(request, template, {**context, "form": form}, status=status)


def _name(member: StaffMember) -> str:
    return member.user.get_full_name() or member.user.username
