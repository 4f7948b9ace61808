"""The alerts page: the signed-in person's alerts (the API's rule: alerts.selectors)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from alerts import selectors


@login_required
def alert_page(request):
    alerts = selectors.alert_list(user=request.user)[:50]
    return render(request, "alerts/alerts.html", {"alerts": alerts})
