"""What the front door is shown and does while screening a referral, told to the access log;
shared by the API and the pages (decision 0026)."""

from __future__ import annotations

from audit.models import AccessAction
from cases import access, access_log
from referrals import selectors


def matches_shown(request, *, staff, referral) -> list[selectors.Match] | None:
    """The referral's possible matches when `staff` may see them (the front door), each family
    shown an access event ("list", footing "front_door"); None for anyone else."""
    if not access.sees_referral_matches(staff):
        return None
    matches = selectors.referral_matches(referral=referral)
    access_log.front_door_families_log(
        request,
        family_ids=[m.family for m in matches],
        action=AccessAction.LIST,
        object_type="referral_match",
        object_id=referral.id,
    )
    return matches


def decision_logged(request, *, referral) -> None:
    """A decision that opened, reopened or joined a family: a write of it by the front door."""
    if referral.family_id:
        access_log.front_door_families_log(
            request,
            family_ids=[referral.family_id],
            action=AccessAction.WRITE,
            object_type="referral",
            object_id=referral.id,
        )
