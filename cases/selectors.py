"""Reads of the family record. Visibility comes from cases/access.py, never from here."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.http import Http404

from agencies.models import Agency
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
from config.db import instances

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
    """The family if `user` may see it, else 404 (existence is not disclosed): one statement,
    `access.family_with_permissions`, as for every request about one family, so a hidden family
    and a missing one cost the same."""
    family, perms = access.family_with_permissions(user, family_id)
    if access.VIEW not in perms:
        raise Http404
    return family


def family_detail(*, user, family_id: int) -> Family:
    """The family with what its detail shows, if `user` may see it, else 404."""
    return family_detail_prefetch(family_get(user=user, family_id=family_id))


def family_detail_prefetch(family: Family) -> Family:
    """Load what the detail shows onto a family already checked: its key worker's and lead
    agency's names, its members, its active team with agency and practitioner names, its needs
    with their outcome, and its sharing bases (for the summary), as `key_worker`, `lead_agency`,
    `detail_members`, `active_team`, `detail_needs`, `detail_sharing_bases`.

    Five statements written as SQL (config.db.instances: model instances; prepared statements
    on PostgreSQL, raw querysets elsewhere):
    the same as ORM prefetches cost ~4 ms of Python a request to compile and load, the most
    of anything in the family detail (bench). tests/cases/test_detail_load.py compares the
    detail with one loaded by the ORM for every family of the demo borough.
    """
    from consent.models import SharingBasis

    user, agency = get_user_model()._meta.db_table, Agency._meta.db_table
    names = instances(
        Family,
        f"SELECT f.id, f.key_worker_id, f.lead_agency_id, u.username AS key_worker__username,"
        f" u.first_name AS key_worker__first_name, u.last_name AS key_worker__last_name,"
        f" a.name AS lead_agency__name FROM {Family._meta.db_table} f"
        f" INNER JOIN {agency} a ON a.id = f.lead_agency_id"
        f" LEFT JOIN {user} u ON u.id = f.key_worker_id WHERE f.id = %s",
        [family.id],
    )
    _related_attach(names, "key_worker", ("username", "first_name", "last_name"))
    _related_attach(names, "lead_agency", ("name",))
    family.key_worker = getattr(names[0], "key_worker", None) if names[0].key_worker_id else None
    family.lead_agency = names[0].lead_agency
    family.detail_members = instances(
        Person,
        f"SELECT * FROM {Person._meta.db_table} WHERE family_id = %s ORDER BY id",
        [family.id],
    )
    team = instances(
        Involvement,
        f"SELECT i.*, a.name AS agency__name, u.username AS practitioner__username,"
        f" u.first_name AS practitioner__first_name, u.last_name AS practitioner__last_name"
        f" FROM {Involvement._meta.db_table} i INNER JOIN {agency} a ON a.id = i.agency_id"
        f" LEFT JOIN {user} u ON u.id = i.practitioner_id"
        f" WHERE i.family_id = %s AND i.ended_on IS NULL ORDER BY i.id",
        [family.id],
    )
    _related_attach(team, "agency", ("name",))
    _related_attach(team, "practitioner", ("username", "first_name", "last_name"))
    family.active_team = team
    needs = instances(
        Need,
        f"SELECT n.*, o.code AS outcome__code, o.label AS outcome__label"
        f" FROM {Need._meta.db_table} n"
        f" INNER JOIN {HeadlineOutcome._meta.db_table} o ON o.id = n.outcome_id"
        f" WHERE n.family_id = %s ORDER BY n.id",
        [family.id],
    )
    _related_attach(needs, "outcome", ("code", "label"))
    family.detail_needs = needs
    family.detail_sharing_bases = instances(
        SharingBasis,
        f"SELECT id, family_id, basis, withdrawn_at, expires_on, review_on, confirmed_at,"
        f" recorded_at"
        f" FROM {SharingBasis._meta.db_table} WHERE family_id = %s"
        f" ORDER BY recorded_at DESC, id DESC",
        [family.id],
    )
    return family


def _related_attach(rows: list, relation: str, fields: tuple[str, ...]) -> None:
    """What `select_related(relation)` would have set, from `<relation>__<field>` columns a raw
    query selected: the related object with those fields (the others deferred, loaded only if
    asked for), or nothing when the foreign key is empty."""
    if not rows:
        return
    field = type(rows[0])._meta.get_field(relation)
    model, names = field.related_model, ["id", *fields]
    for row in rows:
        pk = getattr(row, field.attname)
        if pk is not None:
            values = [pk, *(getattr(row, f"{relation}__{name}") for name in fields)]
            setattr(row, relation, model.from_db(row._state.db, names, values))


def member_list(*, family: Family) -> QuerySet[Person]:
    return Person.objects.filter(family=family)


def team_list_qs() -> QuerySet[Involvement]:
    return Involvement.objects.select_related("agency", "practitioner")


def team_list(*, family: Family) -> QuerySet[Involvement]:
    return team_list_qs().filter(family=family)


def need_list(*, family: Family) -> QuerySet[Need]:
    return Need.objects.filter(family=family).select_related("outcome")


def assessment_list(*, family: Family) -> QuerySet[Assessment]:
    return Assessment.objects.filter(family=family)  # agency and author are shown by id


def plan_action_list(*, family: Family) -> QuerySet[PlanAction]:
    return PlanAction.objects.filter(family=family).prefetch_related("needs")


def intervention_list(*, user, family: Family) -> QuerySet[Intervention]:
    return (
        Intervention.objects.filter(family=family)
        .filter(access.restricted_q(user, family))
        .select_related("agency")  # for its name; the author is shown by id
        .prefetch_related("needs", "persons")
    )


def contact_list(*, user, family: Family) -> QuerySet[Contact]:
    return (
        Contact.objects.filter(family=family)
        .filter(access.restricted_q(user, family))
        .select_related("agency")  # for its name; the author is shown by id
        .prefetch_related("persons")
    )


def chronology_qs() -> QuerySet[ChronologyEntry]:
    """Chronology rows as shown (serializers.ChronologySerializer): their own columns and the
    agency's name, annotated (no Agency object per row)."""
    return ChronologyEntry.objects.only(
        "id", "at", "type", "agency_id", "summary", "object_id"
    ).annotate(agency_name=F("agency__name"))


def chronology_list(*, user, family: Family) -> QuerySet[ChronologyEntry]:
    return chronology_qs().filter(family=family).filter(access.restricted_q(user, family))


def outcome_list(*, framework_version: str | None = None) -> QuerySet[HeadlineOutcome]:
    return HeadlineOutcome.objects.filter(
        framework_version=framework_version or CURRENT_FRAMEWORK, active=True
    )
