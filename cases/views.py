"""Pages of the family record for people: thin views over the same services and selectors as the
API (cases/api.py). Access is decided by cases/access.py: not visible → the 404 page, visible but
not allowed → the 403 page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from cases import access

HOME_ROUTES = {
    access.HOME_CASELOAD: "caseload",
    access.HOME_PARTNER: "partner-families",
    access.HOME_MANAGER: "manager-overview",
    access.HOME_STAFF: "staff-page",
}


def root(request):
    """`/`: signed out → sign in; signed in → the home page of the person's role."""
    if not request.user.is_authenticated:
        return redirect("sign-in")
    return redirect("home")


@login_required
def home(request):
    where = access.home_for(request.user)
    if where == access.HOME_ADMIN:
        return redirect("admin:index")
    if where not in HOME_ROUTES:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("You have no role in an agency here.")
    return redirect(HOME_ROUTES[where])


# --- home pages: caseload (key worker), families we work with (practitioner), manager overview ---


# --- the family page and its forms ----------------------------------------------------------------
