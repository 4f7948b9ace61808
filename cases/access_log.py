"""What the access rule answered, told to the access log (audit.services), for the views of the
family record and those built on them (consent's, reports').

A view that asks cases/access.py about a family tells the log the answer as soon as it has it:
`family_access_log` (allowed on the footing `FamilyPerms` gives, or denied: the 404 of a family
not visible or not there, the 403 of one visible without the permission), `family_access_refused`
(an attempt refused before any family could be asked about: the grant or report it named is
not the person's), `family_access_denied_later` (a service re-checking under the family's lock
refused what the view had allowed), `families_shown_log` (a list or home page: one event per
family it showed), `family_opened_log` (a family created). The events are written once the
response is ready, with its status (audit.middleware.AccessLogMiddleware). Decisions stay in
cases/access.py; this module only reports them.
"""

from __future__ import annotations

from agencies.selectors import staff_for_user
from audit import services as audit_services
from audit.models import AccessAction, Outcome
from audit.models import Footing as AccessFooting
from cases import access


def _agency_id(user) -> int | None:
    staff = staff_for_user(user)
    return staff.agency_id if staff is not None else None


def _signed_in(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not audit_services.access_log_enabled():
        return None
    return user


def family_access_log(
    request, *, family_id, perms, permission: str, object_type: str, object_id=None
) -> None:
    """The rule's answer on family `family_id` for this request: allowed, on `perms`' footing,
    when `permission` is among `perms`; else denied."""
    user = _signed_in(request)
    if user is None:
        return
    allowed = permission in perms
    audit_services.access_event_add(
        request,
        user_id=user.id,
        agency_id=_agency_id(user),
        family_id=family_id,
        object_type=object_type,
        object_id=object_id,
        footing=perms.footing if allowed else "",
        basis_id=perms.basis_id if allowed else None,
        outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
    )


def family_access_refused(request, *, object_type: str, object_id=None, family_id=None) -> None:
    """An attempt refused before a family could be asked about (the emergency grant or the
    report the address names does not exist, or is not the person's): a denial, with the
    family when one is known."""
    user = _signed_in(request)
    if user is None:
        return
    audit_services.access_event_add(
        request,
        user_id=user.id,
        agency_id=_agency_id(user),
        family_id=family_id,
        object_type=object_type,
        object_id=object_id,
        outcome=Outcome.DENIED,
    )


def family_access_denied_later(request) -> None:
    """A service refused (access.NoAccess, access.Forbidden) what the view had been allowed:
    the request's events are denials."""
    audit_services.access_events_deny(request)


def families_shown_log(request, families) -> None:
    """A list or home page showed `families` (each visible to the person): one "list" event per
    family, on its footing (`access.family_footings`)."""
    _families_log(request, families, action=AccessAction.LIST)


def family_opened_log(request, family) -> None:
    """The person opened `family` (a new record, visible to them as its opener): a write of the
    family, on the footing it gives them."""
    _families_log(request, [family], action=AccessAction.WRITE)


def _families_log(request, families, *, action: str) -> None:
    user = _signed_in(request)
    if user is None:
        return
    shown = {family.id: family for family in families}
    footings = access.family_footings(user, shown.values())
    audit_services.access_events_add_many(
        request,
        user_id=user.id,
        agency_id=_agency_id(user),
        families=[(i, *footings.get(i, ("", None))) for i in sorted(shown)],
        action=action,
        object_type="family",
    )


def front_door_families_log(request, *, family_ids, action: str, object_type: str, object_id):
    """The front door, screening a referral (`access.is_front_door`), was shown the families it
    may match (`action` "list"), or joined it to one ("write"): one event per family, on the
    footing "front_door"."""
    user = _signed_in(request)
    if user is None:
        return
    audit_services.access_events_add_many(
        request,
        user_id=user.id,
        agency_id=_agency_id(user),
        families=[(family_id, AccessFooting.FRONT_DOOR, None) for family_id in family_ids],
        action=action,
        object_type=object_type,
        object_id=object_id,
    )
