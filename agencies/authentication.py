"""Token authentication in one statement: the token, its user, and the user's staff membership.

The tokens are django-rest-knox's (agencies.models.ApiToken, decision 0021): the client sends
the secret, the database holds its SHA-512 digest. knox's own `TokenAuthentication` reads the
tokens sharing the secret's first characters with their user, then all the user's tokens (to
delete expired ones), and every case endpoint then needs the user's staff row and agency
(`agencies.selectors.staff_for_user`): three statements. Here the digest is computed first and
one raw statement finds the unexpired token by it, with its user, staff membership and agency
(token → user → staff → agency, LEFT JOINs; a raw queryset, so the user gets the database's
converters); the membership is remembered on the user for the request. Staff and agency carry
the fields requests use (role; name, kind, group); any other field loads on first use. Why not
knox's read, measured: decisions 0013 and 0021. When the token was last used is written at most
once a minute (`TOKEN_TOUCH_INTERVAL_S`), not on every request. The answers are DRF's: 401 for an
unknown, expired or revoked token and for an inactive user.
`SessionUserBackend` reads the signed-in user of a session the same way (decision 0010).
`SessionAuthentication` is DRF's, refusing a session whose second factor is still to give.
"""

from __future__ import annotations

import binascii
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular import authentication as spectacular_authentication
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox import auth as knox_auth
from knox.crypto import hash_token
from rest_framework import authentication, exceptions

from agencies.models import Agency, ApiToken, StaffMember
from agencies.second_factor import second_factor_pending
from agencies.selectors import staff_remember

STAFF_FIELDS = ("id", "agency_id", "role")
AGENCY_FIELDS = ("id", "name", "kind", "group_id")


TOKEN_TOUCH_INTERVAL_S = 60  # a token's last_used_at is written at most this often


def _user_with_staff(source: str, where: str, params: list, columns: str = ""):
    """The user of `source` (a FROM clause joining the user as `u`) matching `where`, with their
    staff membership and its agency remembered on it (`staff_remember`), in one statement; or
    None. `columns`: more columns to select (", …"), read as attributes of the user."""
    User = get_user_model()
    staff_columns = ", ".join(f"s.{f} AS staff__{f}" for f in STAFF_FIELDS)
    agency_columns = ", ".join(f"a.{f} AS agency__{f}" for f in AGENCY_FIELDS)
    rows = list(
        User.objects.raw(
            f"SELECT u.*, {staff_columns}, {agency_columns}{columns} FROM {source}"
            f" LEFT JOIN {StaffMember._meta.db_table} s ON s.user_id = u.id"
            f" LEFT JOIN {Agency._meta.db_table} a ON a.id = s.agency_id"
            f" WHERE {where}",
            params,
        )
    )
    if not rows:
        return None
    user = rows[0]
    db = user._state.db
    staff = None
    if user.staff__id is not None:
        # Model.from_db takes the values in the model's field order, whatever the names say.
        staff = StaffMember.from_db(
            db,
            ["id", "user_id", "agency_id", "role"],
            [user.staff__id, user.id, user.staff__agency_id, user.staff__role],
        )
        staff.agency = Agency.from_db(
            db, list(AGENCY_FIELDS), [getattr(user, f"agency__{f}") for f in AGENCY_FIELDS]
        )
    staff_remember(user, staff)
    return user


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's `Authorization: Token <secret>` scheme, the token read with its user and staff
    membership in one statement: a token unknown, expired or revoked → 401 "Invalid token.", its
    user inactive → 401 "User inactive or deleted." (DRF's and knox's answers)."""

    def authenticate_credentials(self, token: bytes):
        invalid = exceptions.AuthenticationFailed(_("Invalid token."))
        try:
            digest = hash_token(token.decode("utf-8"))
        except (UnicodeDecodeError, TypeError, binascii.Error):
            raise invalid from None
        now = timezone.now()
        stale_before = now - timedelta(seconds=TOKEN_TOUCH_INTERVAL_S)
        adapt = connection.ops.adapt_datetimefield_value
        User = get_user_model()
        user = _user_with_staff(
            f"{ApiToken._meta.db_table} t INNER JOIN {User._meta.db_table} u ON u.id = t.user_id",
            "t.digest = %s AND t.expiry > %s",
            [adapt(stale_before), digest, adapt(now)],
            columns=(
                ", t.id AS token__id, CASE WHEN t.last_used_at IS NULL OR t.last_used_at <= %s"
                " THEN 1 ELSE 0 END AS token__stale"
            ),
        )
        if user is None:
            raise invalid
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        if user.token__stale:
            ApiToken.objects.filter(pk=user.token__id).update(last_used_at=now)
        # Model.from_db takes the values in the model's field order (user_id before id here).
        token = ApiToken.from_db(user._state.db, ["user_id", "id"], [user.id, user.token__id])
        return (user, token)


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, not taking a session whose second factor is still to give
    (agencies/second_factor.py) as signed in: the API answers it 401."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and second_factor_pending(request._request):
            return None
        return result


class TokenScheme(spectacular_authentication.TokenScheme):
    """The schema's `tokenAuth` (`Authorization: Token <secret>`) for it."""

    target_class = TokenAuthentication
    match_subclasses = False
    priority = 0

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


class SessionScheme(spectacular_authentication.SessionScheme):
    """The schema's `cookieAuth` for it, as for DRF's own."""

    target_class = SessionAuthentication


class SessionUserBackend(ModelBackend):
    """Django's ModelBackend, whose `get_user` (the signed-in user of every page, from the
    session) reads the user with their staff membership and agency in one statement, as
    `TokenAuthentication` does; the same answer: None for no such user or an inactive one."""

    def get_user(self, user_id):
        User = get_user_model()
        try:
            user_id = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        user = _user_with_staff(f"{User._meta.db_table} u", "u.id = %s", [user_id])
        return user if user is not None and self.user_can_authenticate(user) else None
