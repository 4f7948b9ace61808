"""The alerts page: the signed-in person's alerts (the API's rule: alerts.selectors), newest
first, with forms to mark one or all of them read (alerts.services, as the API's
`POST /api/v1/alerts/<id>/read/` and `/read-all/`). Works without JavaScript; static/js/live.js
keeps the header's count current."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from alerts import selectors, services
from alerts.models import AlertKind
from cases import access

ALERTS_PAGE_SIZE = 25


@login_required
@require_safe
def alert_page(request):
    paginator = Paginator(selectors.alert_list(user=request.user).order_by("-id"), ALERTS_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    alerts = list(page.object_list)
    # A report's alert links to the report's page (only its requester is alerted, and the page
    # asks the report's rule again); another alert links to its family's page only while the
    # person sees the family (an "access ended" alert stays listed after the family is hidden).
    visible = access.visible_family_ids_among(
        user_id=request.user.id, family_ids=[a.family_id for a in alerts if a.family_id]
    )
    for alert in alerts:
        if alert.kind == AlertKind.REPORT_READY and alert.source_id:
            alert.link = reverse("report-page", args=[alert.source_id])
        elif alert.family_id in (visible or ()):
            alert.link = reverse("family-page", args=[alert.family_id])
        else:
            alert.link = None
    numbers = (
        list(paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1))
        if paginator.num_pages > 1
        else []
    )
    return render(
        request,
        "alerts/alerts.html",
        {
            "alerts": alerts,
            "page_obj": page,
            "page_numbers": numbers,
            "ellipsis": Paginator.ELLIPSIS,
            "back": request.get_full_path(),
        },
    )


def _back(request) -> str:
    """Where the form came from (`next`, a path of this site), else the alerts page."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("alert-page")


@login_required
@require_POST
def alert_read(request, alert_id: int):
    alert = get_object_or_404(selectors.alert_list(user=request.user), id=alert_id)
    services.alert_mark_read(alert=alert)
    return redirect(_back(request))


@login_required
@require_POST
def alert_read_all(request):
    services.alert_read_all(user=request.user)
    return redirect(_back(request))
