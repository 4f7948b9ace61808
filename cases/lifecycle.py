"""The family's lifecycle: its states, the actions that move it, and from which states each is
allowed. The one table of the state machine; who may take each action is a predicate in
`cases/access.py` (`LIFECYCLE_PREDICATES` below names it), and the services in
`cases/services.py` check both under the family's row lock (`lifecycle_begin`).

A family's state is read from the record, never stored apart from it:

- `early_help`: open, led by an agency that is not children's social care;
- `social_care`: open, led by children's social care (after a step-up);
- `closed`: closed (its record, team and access kept; off every caseload).

Actions and their allowed predecessors (`TRANSITIONS`); an action from any other state is a
409 (`access.StateConflict`):

| action | from | to |
| --- | --- | --- |
| close | early_help, social_care | closed |
| reopen | closed | early_help or social_care (by the lead agency) |
| step_up | early_help | social_care |
| step_down | social_care | early_help |
| review | early_help, social_care | (unchanged) |
| join (a referral joins the family) | early_help, social_care | (unchanged) |
"""

from __future__ import annotations

from django.db import models

from agencies.models import AgencyKind
from cases import access
from cases.models import Family, FamilyStatus


class State(models.TextChoices):
    EARLY_HELP = "early_help", "Open (early help)"
    SOCIAL_CARE = "social_care", "Open (children's social care)"
    CLOSED = "closed", "Closed"


class Action(models.TextChoices):
    CLOSE = "close", "Close"
    REOPEN = "reopen", "Reopen"
    STEP_UP = "step_up", "Step up to children's social care"
    STEP_DOWN = "step_down", "Step down to early help"
    REVIEW = "review", "Record a review"
    JOIN = "join", "Join a referral to the family"


OPEN_STATES = frozenset({State.EARLY_HELP, State.SOCIAL_CARE})
SAME = None  # the action leaves the state as it is
BY_LEAD = "by_lead"  # reopen: the state the lead agency's kind gives

# action → (allowed predecessors, resulting state)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    Action.CLOSE: (OPEN_STATES, State.CLOSED),
    Action.REOPEN: (frozenset({State.CLOSED}), BY_LEAD),
    Action.STEP_UP: (frozenset({State.EARLY_HELP}), State.SOCIAL_CARE),
    Action.STEP_DOWN: (frozenset({State.SOCIAL_CARE}), State.EARLY_HELP),
    Action.REVIEW: (OPEN_STATES, SAME),
    Action.JOIN: (OPEN_STATES, SAME),
}

# action → who may take it (`cases.access`), asked with (staff, family, perms). A referral's
# join and reopen are decided at the front door (`access.may_decide_referral`), asked by the
# referrals service with the referral.
LIFECYCLE_PREDICATES = {
    Action.CLOSE: access.may_close_family,
    Action.REOPEN: access.may_reopen_family,
    Action.STEP_UP: access.may_step_up,
    Action.STEP_DOWN: access.may_step_down,
    Action.REVIEW: access.may_record_review,
}


def state_of(family: Family, *, lead_kind: str) -> str:
    """The family's state, from its status and the kind of its lead agency."""
    if family.status == FamilyStatus.CLOSED:
        return State.CLOSED
    if lead_kind == AgencyKind.CHILDRENS_SOCIAL_CARE:
        return State.SOCIAL_CARE
    return State.EARLY_HELP


def transition_target(state: str, action: str, *, lead_kind: str) -> str:
    """The state `action` leads to from `state`; `access.StateConflict` (409) when the action
    is not allowed from it."""
    allowed, target = TRANSITIONS[action]
    if state not in allowed:
        raise access.StateConflict(
            f"A family that is {State(state).label.lower()} cannot be asked to"
            f" {Action(action).label.lower()}."
        )
    if target is SAME:
        return state
    if target == BY_LEAD:
        return (
            State.SOCIAL_CARE if lead_kind == AgencyKind.CHILDRENS_SOCIAL_CARE else State.EARLY_HELP
        )
    return target
