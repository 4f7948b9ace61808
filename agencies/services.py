"""Writes for agencies and staff: agencies, staff accounts, roles and deactivation, API tokens
and the second factor."""

import hashlib
import math

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from agencies import selectors, signals
from agencies.models import Agency, ApiToken, StaffMember
from audit import services as audit_services
from audit.models import StaffAction
from cases import access
from core.exceptions import Forbidden, NoAccess

User = get_user_model()


def _group_name(agency_name: str) -> str:
    """Unique like the agency name: a name too long for auth_group.name (150) ends in its hash."""
    name = f"agency:{agency_name}"
    if len(name) <= 150:
        return name
    digest = hashlib.sha256(agency_name.encode()).hexdigest()[:32]
    return f"{name[:117]}:{digest}"


@transaction.atomic
def agency_create(*, name: str, kind: str) -> Agency:
    taken = ValidationError({"name": ["An agency with this name already exists."]})
    if Agency.objects.filter(name__iexact=name).exists():
        raise taken
    try:
        with transaction.atomic():  # two creations racing: the database's unique indexes decide
            group = Group.objects.create(name=_group_name(name))
            return Agency.objects.create(name=name, kind=kind, group=group)
    except IntegrityError as exc:
        raise taken from exc


@transaction.atomic
def staff_create(
    *,
    agency: Agency,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    validate: bool = True,
    by_user=None,
) -> StaffMember:
    """Create the user and their membership of `agency`, audited; the agency's admins and
    managers are alerted unless `by_user` is None (the system: demo data, management commands)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["This username is taken."]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():  # two creations racing: the unique username decides
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": ["This username is taken."]}) from exc
    user.groups.add(agency.group)
    staff = StaffMember.objects.create(user=user, agency=agency, role=role)
    audit_services.staff_event_record(
        actor=by_user,
        agency_id=agency.id,
        subject_id=user.id,
        action=StaffAction.CREATED,
        new_role=role,
    )
    if by_user is not None:
        _staff_change_alert(
            staff=staff,
            by_user=by_user,
            summary=f"Staff account created: {user.username} ({role}) by {by_user.username}",
        )
    return staff


@transaction.atomic
def staff_role_change(*, staff: StaffMember, role: str, by_user) -> StaffMember:
    """Give `staff` another role, audited and alerted to the agency's admins and managers.

    The same role again changes nothing and records nothing.
    """
    if role not in dict(StaffMember._meta.get_field("role").choices):
        raise ValidationError({"role": [f"Unknown role: {role}."]})
    current = StaffMember.objects.select_for_update().select_related("user").get(pk=staff.pk)
    old_role = current.role
    staff.role = role
    if role == old_role:
        return staff
    current.role = role
    current.save(update_fields=["role"])
    audit_services.staff_event_record(
        actor=by_user,
        agency_id=current.agency_id,
        subject_id=current.user_id,
        action=StaffAction.ROLE_CHANGED,
        old_role=old_role,
        new_role=role,
    )
    _staff_change_alert(
        staff=current,
        by_user=by_user,
        summary=(
            f"Staff role changed: {current.user.username} from {old_role} to {role}"
            f" by {by_user.username}"
        ),
    )
    return staff


def _staff_change_alert(*, staff: StaffMember, by_user, summary: str) -> None:
    """Tell every active admin and manager of the staff member's agency, except the actor
    (`signals.staff_changed`: the alerts app writes the alerts, in this transaction)."""
    signals.staff_changed.send(sender=StaffMember, staff=staff, by_user=by_user, summary=summary)


@transaction.atomic
def staff_deactivate(*, staff: StaffMember, by_user) -> StaffMember:
    """Deactivate `staff`'s user: audited, alerted to the agency's other admins and managers,
    and every way in ended in the same transaction: the user's API tokens, their sessions, and
    (once committed) their open alert sockets.

    Only someone who may manage the agency's staff (`access.may_manage_staff`); nobody
    deactivates their own account (another admin, or a platform admin, does). An account already
    inactive is left as it is and nothing is recorded, but its tokens and sessions are still
    ended.
    """
    if not access.may_manage_staff(user=by_user, agency=staff.agency):
        raise Forbidden("Only platform administrators and this agency's admins.")
    current = StaffMember.objects.select_related("user").get(pk=staff.pk)
    user = User.objects.select_for_update().get(pk=current.user_id)
    if user.pk == by_user.pk:
        raise ValidationError({NON_FIELD_ERRORS: ["You cannot deactivate your own account."]})
    was_active = user.is_active
    if was_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
    ApiToken.objects.filter(user_id=user.pk).delete()
    signals.staff_ways_in_ended.send(sender=StaffMember, user_id=user.pk)  # alert socket tickets
    _sessions_end(user_id=user.pk)
    staff.user.is_active = False
    if not was_active:
        return staff
    audit_services.staff_event_record(
        actor=by_user,
        agency_id=current.agency_id,
        subject_id=user.pk,
        action=StaffAction.DEACTIVATED,
        old_role=current.role,
        new_role=current.role,
    )
    _staff_change_alert(
        staff=current,
        by_user=by_user,
        summary=f"Staff account deactivated: {user.username} by {by_user.username}",
    )
    signals.staff_deactivated.send(sender=StaffMember, user_id=user.pk)  # sockets, after commit
    return staff


def _sessions_end(*, user_id: int) -> None:
    """Delete the user's sessions from the database session store (the one configured).

    Session data is signed and encoded, so the rows are read and decoded to find the user's:
    one pass over the unexpired sessions, for a rare action.
    """
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    mine = [
        session.pk
        for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator()
        if session.get_decoded().get(SESSION_KEY) == str(user_id)
    ]
    Session.objects.filter(pk__in=mine).delete()


# --- API tokens (django-rest-knox's store, agencies.models.ApiToken; decision 0021) -------------


def token_issue(*, user) -> tuple[ApiToken, str]:
    """A new API token for `user`, expiring after the configured time (REST_KNOX TOKEN_TTL):
    the row and the secret, which exists only here (the row keeps its digest). Its
    `last_used_at` starts at the time of issue (issuing is a sign-in; so the first requests
    write nothing either). The user's expired tokens are deleted meanwhile."""
    now = timezone.now()
    with transaction.atomic():
        ApiToken.objects.filter(user_id=user.pk, expiry__lte=now).delete()
        return ApiToken.objects.create(user=user, last_used_at=now)


@transaction.atomic
def token_revoke(*, token_id: int, by_user) -> ApiToken:
    """Revoke (delete) a token: its owner, a platform admin, or an admin of the owner's agency
    (`access.may_manage_tokens_of`, asked under the token's row lock). Anyone else, an expired
    token or no such token: NoAccess (404: they may not know it exists). Returns the token as it
    was."""
    if not 0 < token_id < 2**63:
        raise NoAccess()
    token = (
        ApiToken.objects.select_for_update()
        .filter(pk=token_id, expiry__gt=timezone.now())
        .only("id", "token_key", "user_id", "created", "expiry", "last_used_at")
        .first()
    )
    if token is None or not access.may_manage_tokens_of(
        user=by_user,
        owner_id=token.user_id,
        owner_agency_id=selectors.staff_agency_id(user_id=token.user_id),
    ):
        raise NoAccess()
    ApiToken.objects.filter(pk=token.pk).delete()
    signals.api_token_revoked.send(sender=ApiToken, user_id=token.user_id, token_id=token.pk)
    return token


# --- the second factor: a person's authenticator app (decision 0020) -----------------------------

AUTHENTICATOR_NAME = "Authenticator app"


def authenticator_start(*, user) -> TOTPDevice:
    """A new authenticator app for `user` to add (its secret key made here), to confirm with its
    first code (`authenticator_confirm`); it replaces any other app they started and did not
    confirm. An app already confirmed keeps working until the new one is."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)


def authenticator_confirm(*, user, code: str) -> TOTPDevice:
    """Confirm the app `user` started to set up with a code it shows now: from then on it is
    their second factor, in place of any app they had before. A wrong code raises
    ValidationError on `code` (and slows down the next tries: django-otp's throttling, kept
    however the request ends)."""
    with transaction.atomic():
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user_id=user.pk, confirmed=False)
            .order_by("-id")
            .first()
        )
        verified = device is not None and device.verify_token(code)
        if verified:
            TOTPDevice.objects.filter(user_id=user.pk).exclude(pk=device.pk).delete()
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            _authenticator_event(user=user, by_user=user, action=StaffAction.AUTHENTICATOR_SET_UP)
    if device is None:
        raise ValidationError({"code": "Start setting up the app again: it was not found."})
    if not verified:
        raise ValidationError({"code": WRONG_CODE})
    return device


@transaction.atomic
def authenticator_reset(*, staff: StaffMember, by_user) -> StaffMember:
    """A staff member's lost authenticator app, removed by someone who may manage their agency's
    staff (`access.may_manage_staff`; not their own: they set up a new app themselves): every
    app of theirs is deleted, so the sessions verified with it must give a code again, and their
    API tokens (issued with its codes) end. At their next sign-in they set up a new app.
    Audited and alerted to the agency's other admins and managers. Someone with no app: nothing
    is changed or recorded (ValidationError)."""
    if not access.may_manage_staff(user=by_user, agency=staff.agency):
        raise Forbidden("Only platform administrators and this agency's admins.")
    current = StaffMember.objects.select_related("user").get(pk=staff.pk)
    user = User.objects.select_for_update().get(pk=current.user_id)
    if user.pk == by_user.pk:
        raise ValidationError(
            {NON_FIELD_ERRORS: ["Set up a new app for your own account on its own page."]}
        )
    deleted, _ = TOTPDevice.objects.filter(user_id=user.pk).delete()
    if not deleted:
        raise ValidationError({NON_FIELD_ERRORS: ["They have no authenticator app to reset."]})
    ApiToken.objects.filter(user_id=user.pk).delete()
    _sessions_end(user_id=user.pk)
    _authenticator_event(user=user, by_user=by_user, action=StaffAction.AUTHENTICATOR_RESET)
    _staff_change_alert(
        staff=current,
        by_user=by_user,
        summary=f"Authenticator app reset: {user.username} by {by_user.username}",
    )
    return staff


def authenticator_verify(*, user, code: str) -> TOTPDevice:
    """`user`'s authenticator app, if `code` is the code it shows now; else ValidationError on
    `code`: no app set up, a wrong code, or too many wrong codes just now. Each code is taken
    once (the device keeps the last time step, under its row lock), and each wrong code doubles
    the wait before the next try (django-otp's throttling: 1, 2, 4, … seconds)."""
    current = selectors.authenticator_for(user)
    if current is None:
        raise ValidationError(
            {"code": "Set up an authenticator app first: sign in on the web pages to do it"}
        )
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=current.pk)
        allowed, refusal = device.verify_is_allowed()
        verified = allowed and device.verify_token(code)
    if verified:
        return device
    if not allowed:
        wait = max(math.ceil((refusal["locked_until"] - timezone.now()).total_seconds()), 1)
        raise ValidationError(
            {"code": f"Too many wrong codes: wait {wait} seconds, then enter the code shown then"}
        )
    raise ValidationError({"code": WRONG_CODE})


def _authenticator_event(*, user, by_user, action: str) -> None:
    """A staff event about `user`'s authenticator app (a platform admin of no agency has no
    staff record to add it to)."""
    staff = StaffMember.objects.filter(user_id=user.pk).first()
    if staff is not None:
        audit_services.staff_event_record(
            actor=by_user,
            agency_id=staff.agency_id,
            subject_id=user.pk,
            action=action,
            old_role=staff.role,
            new_role=staff.role,
        )


WRONG_CODE = "The code is not right: enter the 6-digit code your authenticator app shows now"
