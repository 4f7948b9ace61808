"""Sessions that end when idle, and the second factor's gate (decision 0020).

`SessionIdleMiddleware`: a session ends `SESSION_COOKIE_AGE` (30 minutes) after the request that
last saved it. Saving on every request (`SESSION_SAVE_EVERY_REQUEST`) would write the session row
on every page and every API call made with the session (an UPDATE and a commit; what that cost is
in decision 0020); instead the expiry is pushed back when the session was last saved
`SESSION_TOUCH_INTERVAL_S` (a minute) or more ago. So a session ends between 29 and
30 minutes after its last request, never later. Signing in saves the session with the time
(`session_touched_on_sign_in`).

`SecondFactorMiddleware` (after django-otp's OTPMiddleware): a session signed in with its password
whose code is still to give (agencies/second_factor.py) reaches only the code page, the page to
set up an authenticator app and signing out. Any other page sends it to the code page (which
sends a person with no app yet to set one up); the API answers 401 `second_factor_required`,
except to a request that brings its own credentials (`Authorization`: the token), which DRF
judges without the session.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.contrib.auth.views import redirect_to_login
from django.http import JsonResponse
from django.urls import reverse
from django.utils import timezone

from agencies.second_factor import second_factor_pending

TOUCHED = "touched_at"  # the session key: when the session was last saved, in epoch seconds


def session_touched_on_sign_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: signing in to a session saves it; it starts with the time.
    (A sign-in without a session, the API's token, leaves the request's session alone.)"""
    session = getattr(request, "session", None)
    if session is not None and session.get(AUTH_SESSION_KEY):
        session[TOUCHED] = _now()


def _now() -> int:
    # The sessions' own clock (their expiry is `timezone.now()` + SESSION_COOKIE_AGE).
    return int(timezone.now().timestamp())


class SessionIdleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        # A request without a session cookie (an API call with a token) has no key: nothing to
        # load or save. Only a signed-in session is kept alive: not one ended by signing out,
        # nor an expired one (which loads empty).
        if session is not None and session.session_key and session.get(AUTH_SESSION_KEY):
            now = _now()
            if now - session.get(TOUCHED, 0) >= settings.SESSION_TOUCH_INTERVAL_S:
                session[TOUCHED] = now  # modified: SessionMiddleware saves it, expiry moved on
        return response


SECOND_FACTOR_OPEN = ("sign-in-code", "authenticator-setup", "sign-out")


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._open: frozenset[str] | None = None

    def __call__(self, request):
        if second_factor_pending(request) and not self._is_open(request):
            if _is_api(request):
                if "HTTP_AUTHORIZATION" not in request.META:
                    return JsonResponse(
                        {
                            "detail": "Enter the code from your authenticator app first.",
                            "code": "second_factor_required",
                        },
                        status=401,
                        headers={"WWW-Authenticate": "Token"},
                    )
            else:
                return redirect_to_login(request.get_full_path(), reverse("sign-in-code"))
        return self.get_response(request)

    def _is_open(self, request) -> bool:
        if self._open is None:
            self._open = frozenset(reverse(name) for name in SECOND_FACTOR_OPEN)
        return request.path_info in self._open


def _is_api(request) -> bool:
    """The API (`/api/`), not its docs page, which is a page for people."""
    path = request.path_info
    return path.startswith("/api/") and not path.startswith(reverse("docs"))
