"""Lockout after repeated failed sign-ins (django-axes; settings `AXES_*`, decision 0020).

Axes counts failed sign-ins per username and client address, wherever Django's `authenticate`
is called with the request: the sign-in page, the API's token endpoint (agencies/api.py
`TokenView`) and the Django admin's login. At `AXES_FAILURE_LIMIT` (5) the pair is locked for
`AXES_COOLOFF_TIME`; while locked, its backend (first in AUTHENTICATION_BACKENDS) refuses the
sign-in before any password is checked, so a correct password is refused too. A successful
sign-in clears the pair's count.

It complements the sign-in throttle (agencies/throttling.py), which stays: the throttle limits
how fast one address may try, over every username (a password tried against many accounts);
the lockout stops one account being guessed at from one address, however slowly.

Here: who the client is (the throttle's rule, so both count the same address) and the answer
to a locked sign-in: the page "Your account is locked" or, from the API, 429 `locked_out`.
"""

from __future__ import annotations

import ipaddress
import math

from axes.helpers import get_cool_off
from django.http import JsonResponse
from django.shortcuts import render

from agencies.throttling import SignInRateThrottle

API_PREFIX = "/api/"


def client_ip(request) -> str | None:
    """`AXES_CLIENT_IP_CALLABLE`: the address the sign-in throttle counts by (REMOTE_ADDR, or the
    trusted proxy's X-Forwarded-For entry), or None when that is not an IP address."""
    ident = str(SignInRateThrottle().get_ident(request) or "").strip()
    try:
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return None


def lockout_minutes(request=None) -> int:
    return max(math.ceil(get_cool_off(request).total_seconds() / 60), 1)


def lockout_message(request=None) -> str:
    return (
        "Too many failed sign-ins for this account from your network. Sign-in is locked for"
        f" {lockout_minutes(request)} minutes."
    )


def lockout_response(request, original_response=None, credentials=None):
    """`AXES_LOCKOUT_CALLABLE`: the API's 429 `{"detail", "code": "locked_out"}`, or the
    locked page (429), for a sign-in refused because its username and address are locked."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": lockout_message(request), "code": "locked_out"}, status=429)
    return render(
        request,
        "registration/locked_out.html",
        {"minutes": lockout_minutes(request)},
        status=429,
    )
