"""The second factor: the code of an authenticator app (TOTP, django-otp) after the password
(decision 0020).

Who must give it: everyone who signs in under production settings (`SECOND_FACTOR_REQUIRED`,
set by TEAMAROUND_ENV=production); under development settings, whoever has set up an app (it is
offered to everyone, required of no one, so the demo accounts sign in with a password). Decided
once per sign-in (`second_factor_on_sign_in`) and kept in the session.

Until it is given, a session signed in with its password is "pending" (`second_factor_pending`):
it reaches only the code page, the page to set up an app (when it has none yet) and signing
out (`agencies.middleware.SecondFactorMiddleware`; other pages send it to the code page, the API
answers 401); DRF does not take it as signed in (`agencies.authentication.SessionAuthentication`)
and neither does the alerts WebSocket (`SecondFactorWebSocket`). The API's token endpoint asks
for the code in the same request (`otp`). Once it is given, django-otp's OTPMiddleware marks the
session's user verified on every request, for as long as the device exists.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import SESSION_KEY as AUTH_SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.models import Device

from agencies import selectors

DUE = "second_factor_due"  # the session key: this sign-in must give the code


def second_factor_due(user) -> bool:
    """Must `user` give an authenticator app's code after their password?"""
    return settings.SECOND_FACTOR_REQUIRED or selectors.authenticator_for(user) is not None


def second_factor_on_sign_in(sender, request, user, **kwargs) -> None:
    """`user_logged_in` receiver: whether the session just signed in must still give the code.
    (A sign-in without a session, the API's token, asks for the code itself.)"""
    session = getattr(request, "session", None)
    if session is not None and session.get(AUTH_SESSION_KEY):
        session[DUE] = second_factor_due(user)


def second_factor_verified(request) -> bool:
    """The request's session has given an authenticator app's code (django-otp's OTPMiddleware:
    the session's device, still the user's)."""
    is_verified = getattr(getattr(request, "user", None), "is_verified", None)
    return is_verified is not None and is_verified()


def second_factor_pending(request) -> bool:
    """The request's session is signed in with a password and the code is still to give."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    if not (settings.SECOND_FACTOR_REQUIRED or request.session.get(DUE)):
        return False
    return not second_factor_verified(request)


def _session_pending(session, user) -> bool:
    if not (settings.SECOND_FACTOR_REQUIRED or session.get(DUE)):
        return False
    persistent_id = session.get(DEVICE_ID_SESSION_KEY)
    device = Device.from_persistent_id(persistent_id) if persistent_id else None
    return not (device is not None and device.confirmed and device.user_id == user.pk)


class SecondFactorWebSocket:
    """Channels middleware, after AuthMiddleware (config/asgi.py): a socket whose session still
    has the code to give is anonymous (the alerts consumer closes it, 4401)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        user, session = scope.get("user"), scope.get("session")
        if (
            user is not None
            and user.is_authenticated
            and session is not None
            and await database_sync_to_async(_session_pending)(session, user)
        ):
            scope = {**scope, "user": AnonymousUser()}
        return await self.inner(scope, receive, send)
