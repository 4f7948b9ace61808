"""Every view of a candidate, told to the access log (audit): who, which candidate, allowed or
refused. A candidate is not a family: its events carry object type "candidate" and the
family already on the record, when there is one."""

from __future__ import annotations

from agencies.selectors import staff_for_user
from audit import services as audit_services
from audit.models import AccessAction, Footing, Outcome
from identification.models import Candidate


def candidates_shown_log(
    request, candidate_ids, *, allowed: bool = True, action_list: bool = False
) -> None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not audit_services.access_log_enabled():
        return
    staff = staff_for_user(user)
    known = dict(
        Candidate.objects.filter(id__in=list(candidate_ids)).values_list("id", "known_family_id")
    ) if allowed else {}  # fmt: skip
    for candidate_id in candidate_ids:
        audit_services.access_event_add(
            request,
            user_id=user.id,
            agency_id=staff.agency_id if staff else None,
            family_id=known.get(candidate_id),
            action=AccessAction.LIST if action_list else None,
            object_type="candidate",
            object_id=candidate_id,
            footing=Footing.LEAD_AGENCY if allowed else "",
            outcome=Outcome.ALLOWED if allowed else Outcome.DENIED,
        )
