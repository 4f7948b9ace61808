"""Token authentication in one statement: the token, its user, and the user's staff membership.

DRF's `TokenAuthentication` reads the token with its user (one query); every case endpoint then
needs the user's staff row and agency (`agencies.selectors.staff_for_user`, a second query).
Here both come from one raw statement (token → user → staff → agency, LEFT JOINs; a raw
queryset, so the user gets the database's converters) and the membership is remembered on the
user for the request. Staff and agency carry the fields requests use (role; name, kind, group);
any other field loads on first use. Written as SQL because the ORM's `select_related` version
cost more Python time than any other part of a chronology request (decision 0008 has the
figure). The answers are DRF's: 401 for an unknown token or an inactive user.
`SessionUserBackend` reads the signed-in user of a session the same way (decision 0010).
`SessionAuthentication` is DRF's, refusing a session whose second factor is still to give.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular import authentication as spectacular_authentication
from rest_framework import authentication, exceptions

from agencies.models import Agency, StaffMember
from agencies.second_factor import second_factor_pending
from agencies.selectors import staff_remember

STAFF_FIELDS = ("id", "agency_id", "role")
AGENCY_FIELDS = ("id", "name", "kind", "group_id")


def _user_with_staff(source: str, where: str, params: list):
    """The user of `source` (a FROM clause joining the user as `u`) matching `where`, with their
    staff membership and its agency remembered on it (`staff_remember`), in one statement; or
    None."""
    User = get_user_model()
    staff_columns = ", ".join(f"s.{f} AS staff__{f}" for f in STAFF_FIELDS)
    agency_columns = ", ".join(f"a.{f} AS agency__{f}" for f in AGENCY_FIELDS)
    rows = list(
        User.objects.raw(
            f"SELECT u.*, {staff_columns}, {agency_columns} FROM {source}"
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


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        Token = self.get_model()
        User = get_user_model()
        user = _user_with_staff(
            f"{Token._meta.db_table} t INNER JOIN {User._meta.db_table} u ON u.id = t.user_id",
            "t.key = %s",
            [key],
        )
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, Token.from_db(user._state.db, ["key", "user_id"], [key, user.id]))


class SessionAuthentication(authentication.SessionAuthentication):
    """DRF's session authentication, not taking a session whose second factor is still to give
    (agencies/second_factor.py) as signed in: the API answers it 401."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and second_factor_pending(request._request):
            return None
        return result


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
