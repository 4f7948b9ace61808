"""Reads for agencies and staff."""

from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies.models import Agency, ApiToken, StaffMember


def agency_list() -> QuerySet[Agency]:
    return Agency.objects.all()


def staff_list(*, agency: Agency) -> QuerySet[StaffMember]:
    return StaffMember.objects.filter(agency=agency).select_related("user", "agency")


def staff_for_user(user) -> StaffMember | None:
    """The user's staff membership with its agency, loaded once per user object."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_staff_cache"):
        staff_remember(
            user, StaffMember.objects.select_related("agency").filter(user_id=user.id).first()
        )
    return user._staff_cache


def staff_remember(user, staff: StaffMember | None) -> None:
    """Keep `staff` (with its agency loaded, or None) as `user`'s membership for this request:
    what `staff_for_user` answers from then on. Used by the one-query token authentication."""
    if staff is not None:
        staff.user = user  # the request's user object: no second read of the same row
    user._staff_cache = staff


def staff_agency_id(*, user_id: int) -> int | None:
    """The agency a user works for; None for someone of no agency (a platform admin)."""
    return StaffMember.objects.filter(user_id=user_id).values_list("agency_id", flat=True).first()


# --- API tokens ----------------------------------------------------------------------------------


def token_list(*, user_id: int) -> QuerySet[ApiToken]:
    """A person's API tokens that still work (unexpired), newest first; never their secret (the
    store keeps only its digest)."""
    return ApiToken.objects.filter(user_id=user_id, expiry__gt=timezone.now()).only(
        "id", "token_key", "user_id", "created", "expiry", "last_used_at"
    )


# --- the second factor: a person's authenticator app (a django-otp TOTP device) -----------------


def authenticator_for(user) -> TOTPDevice | None:
    """The person's authenticator app, set up and confirmed with a code; None if they have none."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).order_by("-id").first()


def authenticator_pending_for(user) -> TOTPDevice | None:
    """An app the person started to set up and has not confirmed with a code yet."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).order_by("-id").first()
