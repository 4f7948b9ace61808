"""Token authentication in one query: the token, its user, and the user's staff membership.

DRF's `TokenAuthentication` reads the token with its user (one query); every case endpoint then
needs the user's staff row and agency (`agencies.selectors.staff_for_user`, a second query).
Here both come from the same statement (token → user → staff → agency, LEFT JOINs) and the
membership is remembered on the user for the request. The answers are DRF's: 401 for an unknown
token or an inactive user.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from agencies.selectors import staff_remember


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        token = (
            self.get_model().objects.select_related("user__staff__agency").filter(key=key).first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        try:
            staff = user.staff
        except ObjectDoesNotExist:
            staff = None
        staff_remember(user, staff)
        return (user, token)
