"""Reads of the family record. Visibility comes from cases/access.py, never from here."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q, QuerySet, prefetch_related_objects
from django.http import Http404

from cases import access, validators
from cases.models import (
    Assessment,
    ChronologyEntry,
    Contact,
    Family,
    HeadlineOutcome,
    Intervention,
    Involvement,
    Need,
    Person,
    PlanAction,
)

CURRENT_FRAMEWORK = "2022"


# What a list row shows (serializers.FamilyListSerializer), so a page of 50 does not parse every
# column of three tables (timestamps of the family and of its key worker's account: ~200 datetime
# conversions per page). A column missed here would be loaded row by row: the query-count tests
# would see it.
FAMILY_LIST_COLUMNS = (
    "id",
    "reference",
    "name",
    "postcode",
    "status",
    "level_of_need",
    "opened_on",
    "next_review_on",
    "version",
    "key_worker__username",
    "key_worker__first_name",
    "key_worker__last_name",
    "lead_agency__name",
)


def family_list(
    *, user, status: str | None = None, key_worker_me: bool = False, q: str | None = None
) -> QuerySet[Family]:
    qs = (
        access.families_visible_to(user)
        .select_related("key_worker", "lead_agency")
        .only(*FAMILY_LIST_COLUMNS)
    )
    if status:
        qs = qs.filter(status=status)
    if key_worker_me:
        qs = qs.filter(key_worker_id=user.id)
    if q:
        term = q.strip()[:100]
        match = (
            Q(reference__iexact=term)
            | Q(name__icontains=term)
            | Q(postcode__istartswith=term.upper())
        )
        try:
            match |= Q(postcode=validators.postcode_normalise(term))
        except ValidationError:
            pass
        qs = qs.filter(match)
    return qs


def family_by_id(*, family_id: int, names: bool = False) -> Family:
    """The family by id, visibility NOT applied: only for callers that then decide it with
    `access.family_permissions` (every family-scoped request, cases/api.py). 404 if there is no
    such family. `names`: with its key worker and lead agency (what the detail shows)."""
    family = (
        (Family.objects.select_related("key_worker", "lead_agency") if names else Family.objects)
        .filter(id=family_id)
        .first()
    )
    if family is None:
        raise Http404
    return family


def family_get(*, user, family_id: int) -> Family:
    """The family if `user` may see it, else 404 (existence is not disclosed)."""
    family = family_by_id(family_id=family_id, names=True)
    if access.VIEW not in access.family_permissions(user, family):
        raise Http404
    return family


def family_detail(*, user, family_id: int) -> Family:
    """The family with what its detail shows, if `user` may see it, else 404."""
    return family_detail_prefetch(family_get(user=user, family_id=family_id))


def family_detail_prefetch(family: Family) -> Family:
    """Load what the detail shows onto a family already checked, in a constant number of
    queries."""
    prefetch_related_objects(
        [family],
        "members",
        Prefetch(
            "involvements",
            queryset=team_list_qs().filter(ended_on__isnull=True),
            to_attr="active_team",
        ),
        Prefetch("needs", queryset=Need.objects.select_related("outcome")),
        "sharing_bases",
    )
    return family


def member_list(*, family: Family) -> QuerySet[Person]:
    return Person.objects.filter(family=family)


def team_list_qs() -> QuerySet[Involvement]:
    return Involvement.objects.select_related("agency", "practitioner")


def team_list(*, family: Family) -> QuerySet[Involvement]:
    return team_list_qs().filter(family=family)


def need_list(*, family: Family) -> QuerySet[Need]:
    return Need.objects.filter(family=family).select_related("outcome")


def assessment_list(*, family: Family) -> QuerySet[Assessment]:
    return Assessment.objects.filter(family=family).select_related("agency", "recorded_by")


def plan_action_list(*, family: Family) -> QuerySet[PlanAction]:
    return PlanAction.objects.filter(family=family).prefetch_related("needs")


def intervention_list(*, user, family: Family) -> QuerySet[Intervention]:
    return (
        Intervention.objects.filter(family=family)
        .filter(access.restricted_q(user, family))
        .select_related("agency", "recorded_by")
        .prefetch_related("needs", "persons")
    )


def contact_list(*, user, family: Family) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(family=family)
        .filter(access.restricted_q(user, family))
        .select_related("agency", "recorded_by")
        .prefetch_related("persons")
    )


def chronology_list(*, user, family: Family) -> QuerySet[ChronologyEntry]:
    return (
        ChronologyEntry.objects.filter(family=family)
        .filter(access.restricted_q(user, family))
        .select_related("agency")
    )


def outcome_list(*, framework_version: str | None = None) -> QuerySet[HeadlineOutcome]:
    return HeadlineOutcome.objects.filter(
        framework_version=framework_version or CURRENT_FRAMEWORK, active=True
    )
