"""Reads of the family record. Visibility comes from cases/access.py, never from here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.http import Http404

from agencies.models import Agency
from cases import access, validators
from cases.models import (
    ActionStatus,
    Assessment,
    ChronologyEntry,
    Contact,
    Family,
    FamilyStatus,
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


def family_detail_prefetch(family: Family, *, sharing_bases: bool = True) -> Family:
    """Load what the detail shows onto a family already checked: its key worker's and lead
    agency's names, its members, its active team with agency and practitioner names, its needs
    with their outcome, and its sharing bases (for the summary), as `key_worker`, `lead_agency`,
    `detail_members`, `active_team`, `detail_needs`, `detail_sharing_bases`. Without
    `sharing_bases` (the family page, which loads the bases with more of them) the last is not
    loaded.

    Five statements written as SQL (raw querysets): as ORM prefetches they were the largest
    cost of the family detail (decisions 0008 and 0013 have the figures).
    tests/cases/test_detail_load.py compares the detail with one loaded by the ORM for every
    family of the demo borough.
    """
    from consent.models import SharingBasis

    user, agency = get_user_model()._meta.db_table, Agency._meta.db_table
    names = list(
        Family.objects.raw(
            f"SELECT f.id, f.key_worker_id, f.lead_agency_id, u.username AS key_worker__username,"
            f" u.first_name AS key_worker__first_name, u.last_name AS key_worker__last_name,"
            f" a.name AS lead_agency__name, a.kind AS lead_agency__kind"
            f" FROM {Family._meta.db_table} f"
            f" INNER JOIN {agency} a ON a.id = f.lead_agency_id"
            f" LEFT JOIN {user} u ON u.id = f.key_worker_id WHERE f.id = %s",
            [family.id],
        )
    )
    _related_attach(names, "key_worker", ("username", "first_name", "last_name"))
    _related_attach(names, "lead_agency", ("name", "kind"))  # kind: the lifecycle's state
    family.key_worker = getattr(names[0], "key_worker", None) if names[0].key_worker_id else None
    family.lead_agency = names[0].lead_agency
    family.detail_members = list(
        Person.objects.raw(
            f"SELECT * FROM {Person._meta.db_table} WHERE family_id = %s ORDER BY id",
            [family.id],
        )
    )
    team = list(
        Involvement.objects.raw(
            f"SELECT i.*, a.name AS agency__name, u.username AS practitioner__username,"
            f" u.first_name AS practitioner__first_name, u.last_name AS practitioner__last_name"
            f" FROM {Involvement._meta.db_table} i INNER JOIN {agency} a ON a.id = i.agency_id"
            f" LEFT JOIN {user} u ON u.id = i.practitioner_id"
            f" WHERE i.family_id = %s AND i.ended_on IS NULL ORDER BY i.id",
            [family.id],
        )
    )
    _related_attach(team, "agency", ("name",))
    _related_attach(team, "practitioner", ("username", "first_name", "last_name"))
    family.active_team = team
    needs = list(
        Need.objects.raw(
            f"SELECT n.*, o.code AS outcome__code, o.label AS outcome__label"
            f" FROM {Need._meta.db_table} n"
            f" INNER JOIN {HeadlineOutcome._meta.db_table} o ON o.id = n.outcome_id"
            f" WHERE n.family_id = %s ORDER BY n.id",
            [family.id],
        )
    )
    _related_attach(needs, "outcome", ("code", "label"))
    family.detail_needs = needs
    if not sharing_bases:
        return family
    family.detail_sharing_bases = list(
        SharingBasis.objects.raw(
            f"SELECT id, family_id, basis, withdrawn_at, expires_on, review_on, confirmed_at,"
            f" recorded_at"
            f" FROM {SharingBasis._meta.db_table} WHERE family_id = %s"
            f" ORDER BY recorded_at DESC, id DESC",
            [family.id],
        )
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


def member_detail(*, family: Family, member_id: int) -> Person | None:
    """The member `member_id` of `family` (whose visibility the caller has checked), or None:
    a member of another family, like an id beyond any row, is not there."""
    if not 0 < int(member_id) < 2**63:
        return None
    return member_list(family=family).filter(id=member_id).first()


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


def review_list(*, family: Family) -> QuerySet:
    from cases.models import FamilyReview

    return FamilyReview.objects.filter(family=family).prefetch_related("attendees")


def outcome_list(*, framework_version: str | None = None) -> QuerySet[HeadlineOutcome]:
    return HeadlineOutcome.objects.filter(
        framework_version=framework_version or CURRENT_FRAMEWORK, active=True
    )


# --- home pages: a key worker's caseload, a partner agency's families, a manager's overview ---

ACTIONS_DUE_WITHIN_DAYS = 14
OPEN_ACTION_STATUSES = (ActionStatus.OPEN, ActionStatus.IN_PROGRESS)

# How each home page may be sorted: the page's choice → the ORDER BY (ending in a unique column,
# so pages never overlap).
CASELOAD_ORDERINGS = {
    "reference": ("reference",),
    "name": ("name", "reference"),
    "next_review": (F("next_review_on").asc(nulls_last=True), "reference"),
    "level_of_need": (F("level_of_need").desc(nulls_last=True), "reference"),
}
LEAD_FAMILY_ORDERINGS = {
    "key_worker": (
        F("key_worker__last_name").asc(nulls_first=True),
        F("key_worker__first_name").asc(nulls_first=True),
        "key_worker_id",
        "status",
        "reference",
    ),
    "status": (
        "status",
        F("key_worker__last_name").asc(nulls_first=True),
        F("key_worker__first_name").asc(nulls_first=True),
        "key_worker_id",
        "reference",
    ),
    "reference": ("reference",),
    "next_review": (F("next_review_on").asc(nulls_last=True), "reference"),
}


def caseload(
    *,
    user,
    q: str | None = None,
    status: str | None = FamilyStatus.OPEN,
    level_of_need: int | None = None,
    ordering: str = "reference",
    today=None,
) -> QuerySet[Family]:
    """The user's own families as key worker (`family_list(key_worker_me=True)`: the same
    visibility, status and search), each annotated in the same statement with:

    - `actions_due`: its open or in-progress plan actions due within ACTIONS_DUE_WITHIN_DAYS
      days or overdue;
    - `unread_alerts`: the user's unread alerts about it;
    - `latest_other_id`: the newest chronology entry recorded by another agency than the
      user's, among the entries the user may see (`access.restricted_entries_q`); what the page
      shows of it is read for a page at once (`caseload_latest_attach`).

    Correlated subqueries, so a page of families costs one statement whatever its length.
    """
    from datetime import timedelta

    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from alerts.models import Alert

    staff = access.case_staff(user)
    if staff is None:
        return Family.objects.none()
    today = today or timezone.localdate()
    qs = family_list(user=user, status=status, key_worker_me=True, q=q)
    if level_of_need is not None:
        qs = qs.filter(level_of_need=level_of_need)
    actions_due = (
        PlanAction.objects.filter(
            family_id=OuterRef("pk"),
            status__in=OPEN_ACTION_STATUSES,
            due_on__lte=today + timedelta(days=ACTIONS_DUE_WITHIN_DAYS),
        )
        .order_by()
        .values("family_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    unread = (
        Alert.objects.filter(recipient_id=user.id, family_id=OuterRef("pk"), read_at__isnull=True)
        .order_by()
        .values("family_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    latest = (
        ChronologyEntry.objects.filter(family_id=OuterRef("pk"), agency_id__isnull=False)
        .exclude(agency_id=staff.agency_id)
        .filter(access.restricted_entries_q(user))
        .order_by("-at", "-id")
    )
    zero = Value(0, output_field=IntegerField())
    return qs.annotate(
        actions_due=Coalesce(Subquery(actions_due, output_field=IntegerField()), zero),
        unread_alerts=Coalesce(Subquery(unread, output_field=IntegerField()), zero),
        latest_other_id=Subquery(latest.values("id")[:1]),
    ).order_by(*CASELOAD_ORDERINGS.get(ordering, CASELOAD_ORDERINGS["reference"]))


def caseload_latest_attach(families) -> None:
    """Set `latest_other_at`, `latest_other_summary` and `latest_other_agency` (None when it
    has none) on each family of a `caseload` page, from its `latest_other_id`: one statement
    for the page."""
    ids = {f.latest_other_id for f in families if f.latest_other_id is not None}
    rows = (
        {
            row["id"]: row
            for row in ChronologyEntry.objects.filter(id__in=ids).values(
                "id", "at", "summary", "agency__name"
            )
        }
        if ids
        else {}
    )
    for family in families:
        row = rows.get(family.latest_other_id, {})
        family.latest_other_at = row.get("at")
        family.latest_other_summary = row.get("summary")
        family.latest_other_agency = row.get("agency__name")


def partner_families(*, user, q: str | None = None, status: str | None = FamilyStatus.OPEN):
    """The families the user's agency sees (`family_list`: the same visibility and search)."""
    return family_list(user=user, status=status, q=q)


def agency_open_actions(*, user) -> QuerySet[PlanAction]:
    """The open and in-progress plan actions owned by the user's agency, across the open
    families the user sees, soonest due first, with each family's reference and name."""
    staff = access.case_staff(user)
    if staff is None:
        return PlanAction.objects.none()
    return (
        PlanAction.objects.filter(
            family_id__in=access.families_visible_to(user)
            .filter(status=FamilyStatus.OPEN)
            .values("id"),
            owner_agency_id=staff.agency_id,
            status__in=OPEN_ACTION_STATUSES,
        )
        .select_related("family")
        .only(
            "id",
            "description",
            "due_on",
            "status",
            "family_id",
            "family__id",
            "family__reference",
            "family__name",
            "family__key_worker_id",  # the access log's footing (access.family_footings)
            "family__lead_agency_id",
        )
        .order_by("due_on", "id")
    )


def lead_families(
    *,
    user,
    q: str | None = None,
    status: str | None = None,
    key_worker: int | str | None = None,
    ordering: str = "key_worker",
) -> QuerySet[Family]:
    """The families the user sees whose lead agency is the user's agency (a manager's
    overview), optionally of one key worker (`"none"`: without one), sorted as asked."""
    staff = access.case_staff(user)
    if staff is None:
        return Family.objects.none()
    qs = family_list(user=user, status=status, q=q).filter(lead_agency_id=staff.agency_id)
    if key_worker == "none":
        qs = qs.filter(key_worker__isnull=True)
    elif key_worker is not None:
        qs = qs.filter(key_worker_id=key_worker)
    return qs.order_by(*LEAD_FAMILY_ORDERINGS.get(ordering, LEAD_FAMILY_ORDERINGS["key_worker"]))


def lead_families_by_key_worker(*, user) -> list[dict]:
    """Per key worker (None: families without one), how many open and closed families of the
    user's agency they hold among those the user sees: `key_worker_id`, `first_name`,
    `last_name`, `username`, `name` (full name, else username), `open`, `closed`; unallocated
    first, then by name."""
    from django.db.models import Count

    staff = access.case_staff(user)
    if staff is None:
        return []
    rows = (
        access.families_visible_to(user)
        .filter(lead_agency_id=staff.agency_id)
        .order_by()
        .values(
            "key_worker_id",
            "key_worker__first_name",
            "key_worker__last_name",
            "key_worker__username",
        )
        .annotate(
            open=Count("id", filter=Q(status=FamilyStatus.OPEN)),
            closed=Count("id", filter=Q(status=FamilyStatus.CLOSED)),
        )
    )
    out = [
        {
            "key_worker_id": row["key_worker_id"],
            "first_name": row["key_worker__first_name"] or "",
            "last_name": row["key_worker__last_name"] or "",
            "username": row["key_worker__username"] or "",
            "name": " ".join(
                part
                for part in (row["key_worker__first_name"], row["key_worker__last_name"])
                if part
            )
            or row["key_worker__username"]
            or "",
            "open": row["open"],
            "closed": row["closed"],
        }
        for row in rows
    ]
    out.sort(
        key=lambda r: (
            r["key_worker_id"] is not None,
            r["last_name"].lower(),
            r["first_name"].lower(),
            r["key_worker_id"] or 0,
        )
    )
    return out


def overdue_reviews(*, user, today=None) -> QuerySet[Family]:
    """The open families of the user's agency (as lead, among those the user sees) whose next
    review date has passed, longest overdue first."""
    from django.utils import timezone

    today = today or timezone.localdate()
    return (
        lead_families(user=user, status=FamilyStatus.OPEN)
        .filter(next_review_on__lt=today)
        .order_by("next_review_on", "reference")
    )


def emergency_access_awaiting(*, user):
    """Emergency access on the open or closed families the user's agency leads (among those the
    user sees) that waits for a manager: granted and not yet reviewed, or asked for and
    waiting for approval (neither approved nor refused). Oldest first, with the family, the
    person and their agency."""
    from consent.models import EmergencyAccess

    staff = access.case_staff(user)
    if staff is None:
        return EmergencyAccess.objects.none()
    families = access.families_visible_to(user).filter(lead_agency_id=staff.agency_id)
    waiting = Q(granted_at__isnull=False, reviewed_at__isnull=True) | Q(
        approval_required=True, approved_at__isnull=True, refused_at__isnull=True
    )
    return (
        EmergencyAccess.objects.filter(family_id__in=families.values("id"))
        .filter(waiting)
        .select_related("family", "user", "agency")
        .order_by("requested_at", "id")
    )


# --- reads for the family page and its forms (cases/views.py, consent/views.py) ----------------


def family_visit_get(*, user, family: Family):
    """The person's last visit of the family's page (cases.FamilyVisit), or None."""
    from cases.models import FamilyVisit

    # A raw queryset: one row by its unique key, without the ORM's compilation.
    visits = FamilyVisit.objects.raw(
        f"SELECT * FROM {FamilyVisit._meta.db_table} WHERE user_id = %s AND family_id = %s",
        [user.id, family.id],
    )
    return next(iter(visits), None)


def chronology_summary(*, user, family: Family, since: int | None) -> list[dict]:
    """The family's chronology counted in one statement, by agency, type and whether the user
    sees the entries (`seen`, as `chronology_list` decides it): `n` entries, `new` of them after
    entry `since` (0 when None) and `latest` (the newest id). What the family page's filters
    offer, its page count, what is new since the last visit, and what the visit remembers
    (the newest id, restricted entries included) come from these rows."""
    from django.db.models import BooleanField, Case, Count, Max, Value, When

    visible = access.restricted_q(user, family)
    seen = (
        Case(When(visible, then=Value(True)), default=Value(False), output_field=BooleanField())
        if visible
        else Value(True, output_field=BooleanField())
    )
    new = Count("id", filter=Q(id__gt=since)) if since is not None else Value(0)
    return list(
        ChronologyEntry.objects.filter(family=family)
        .order_by()
        .values("agency_id", "agency__name", "type", seen=seen)
        .annotate(n=Count("id"), new=new, latest=Max("id"))
    )


def plan_action_list_for_page(*, family: Family) -> QuerySet[PlanAction]:
    """The plan with each action's owner agency (grouped by it on the page)."""
    return (
        PlanAction.objects.filter(family=family)
        .select_related("owner_agency")
        .order_by("owner_agency__name", "due_on", "id")
    )


def assessment_list_for_page(*, family: Family) -> QuerySet[Assessment]:
    return assessment_list(family=family).select_related("agency")


def agency_choices() -> QuerySet[Agency]:
    return Agency.objects.order_by("name").only("id", "name")


def lead_managers(*, family: Family) -> list:
    """The active managers of the family's lead agency (users), by name: who may decide on
    sharing without consent (`access.lead_manager_ids`)."""
    ids = access.lead_manager_ids(family=family)
    return list(get_user_model().objects.filter(id__in=ids).order_by("first_name", "last_name"))


def agencies_where(predicate) -> list:
    """Agencies for which `predicate` (an `access` rule on an agency) holds, by name."""
    return [a for a in Agency.objects.order_by("name") if predicate(a)]


def key_workers_in(*, agency_ids) -> list:
    """Active staff of these agencies who may hold families as key worker, by agency and name."""
    from agencies.models import StaffMember

    staff = StaffMember.objects.filter(agency_id__in=set(agency_ids), user__is_active=True)
    staff = staff.select_related("user", "agency").order_by(
        "agency__name", "user__first_name", "user__last_name"
    )
    return [s for s in staff if access.may_be_key_worker(s)]


def team_agencies(*, family: Family) -> list:
    """The lead agency and the agencies on the team now, by name."""
    ids = {family.lead_agency_id} | set(
        Involvement.objects.filter(family=family, ended_on__isnull=True).values_list(
            "agency_id", flat=True
        )
    )
    return list(Agency.objects.filter(id__in=ids).order_by("name"))


def key_worker_candidates(*, family: Family) -> list:
    """Staff who may hold the family as key worker (`access.may_be_key_worker`): active, of the
    lead agency or of an agency on the team; with user and agency, by agency and name."""
    from agencies.models import StaffMember

    agencies = {family.lead_agency_id} | set(
        Involvement.objects.filter(family=family, ended_on__isnull=True).values_list(
            "agency_id", flat=True
        )
    )
    staff = StaffMember.objects.filter(agency_id__in=agencies, user__is_active=True)
    staff = staff.select_related("user", "agency").order_by(
        "agency__name", "user__first_name", "user__last_name"
    )
    return [s for s in staff if access.may_be_key_worker(s)]


def practitioner_choices(*, agency_id: int) -> list:
    """The agency's active staff who work with families (`access.works_with_families`), with
    their user, by name: who may be named on a family's team for that agency."""
    from agencies.models import StaffMember

    staff = StaffMember.objects.filter(agency_id=agency_id, user__is_active=True)
    staff = staff.select_related("user", "agency").order_by("user__first_name", "user__last_name")
    return [s for s in staff if access.works_with_families(s)]


def emergency_access_list(*, family: Family) -> QuerySet:
    """The family's emergency grants and requests, newest first, with who asked and their
    agency (for its lead-agency managers, who review them)."""
    from consent.models import EmergencyAccess

    return (
        EmergencyAccess.objects.filter(family=family)
        .select_related("user", "agency")
        .order_by("-requested_at", "-id")
    )


# --- the field history of the family record (django-simple-history, decision 0018) -----------


@dataclass(frozen=True)
class FieldChange:
    """One field of one record of the family, set or changed by one write: `old` → `new` (ids
    for foreign keys and many-to-many links, choice codes, dates), with when, who and their
    agency. `change` is "created" (the record's first row: `old` is None), "changed" or
    "deleted"; `key` orders the history (newest last) and is unique: the position of a page."""

    at: datetime
    user: int | None
    user_name: str | None
    agency: int | None
    agency_name: str | None
    object_type: str
    object_id: int
    object_name: str
    change: str
    field: str
    old: object
    new: object
    key: str


def history_models() -> dict[str, tuple[type, str]]:
    """What has a field history: the object type the API names it by → (the model, the column
    of its history table holding the family's id). Rows of the same moment are ordered as
    listed here."""
    from consent.models import SharingBasis

    return {
        "family": (Family, "id"),
        "member": (Person, "family_id"),
        "involvement": (Involvement, "family_id"),
        "need": (Need, "family_id"),
        "plan_action": (PlanAction, "family_id"),
        "sharing_basis": (SharingBasis, "family_id"),
    }


# A record's own id and the family it belongs to never change: not shown as fields set; nor
# the bookkeeping a plan action's history keeps (cases.models.PlanAction.history).
_HISTORY_NOT_SHOWN = frozenset({"id", "family", "version", "created_at"})
_EMPTY = (None, "", [])


def family_history(*, user, family: Family) -> list[FieldChange]:
    """Who set or changed which field of the family's record, from what to what, when: the
    family, its members, team (involvements), needs, plan actions and sharing bases, newest
    first; one item per field, computed from each record's consecutive history rows
    (`diff_against`, the library's comparison; a plan action's needs compared here, from their
    own history table).

    Whoever sees the family (the caller has asked `access.family_with_permissions`) sees all of
    it: every field of these six models is shown to every viewer elsewhere (the detail, the
    members, team, needs, actions and sharing lists of the API); none of them has restricted
    entries (contacts and interventions, which do, keep no field history), so `user` filters
    nothing today.

    A constant number of statements however long the history: one per history table, one for
    the needs of plan actions, one for the names of the people and one for the agencies.
    """
    rows_by_type, links_by_type, user_ids, agency_ids = {}, {}, set(), set()
    for object_type, (model, family_column) in history_models().items():
        history = model.history.model
        # Each record's rows in the order they were written (ids only grow, whatever the
        # clocks of the processes that wrote them said).
        rows = list(
            history.objects.filter(**{family_column: family.id}).order_by("id", "history_id")
        )
        rows_by_type[object_type] = rows
        for row in rows:
            user_ids.add(row.history_user_id)
            agency_ids.add(row.history_agency_id)
            if object_type == "involvement":
                agency_ids.add(row.agency_id)
        links_by_type[object_type] = {
            field.name: _history_links(history, field, family)
            for field in history._history_m2m_fields
        }
    users = {
        u.id: u.get_full_name() or u.username
        for u in get_user_model()
        .objects.filter(id__in=user_ids - {None})
        .only("id", "username", "first_name", "last_name")
    }
    agencies = dict(Agency.objects.filter(id__in=agency_ids - {None}).values_list("id", "name"))
    changes: list[FieldChange] = []
    for position, (object_type, rows) in enumerate(rows_by_type.items()):
        changes += _record_changes(
            object_type,
            position,
            rows,
            links_by_type[object_type],
            users=users,
            agencies=agencies,
        )
    changes.sort(key=lambda c: c.key, reverse=True)
    return changes


def _history_links(history, field, family: Family) -> dict[int, list[int]]:
    """history row id → the ids a many-to-many field linked at that row (sorted), for every
    history row of the family, in one statement."""
    from simple_history.utils import get_m2m_reverse_field_name

    linked = get_m2m_reverse_field_name(field)  # "need" for PlanAction.needs
    links: dict[int, list[int]] = {}
    rows = (
        getattr(history, field.name)
        .model.objects.filter(history__family_id=family.id)
        .values_list("history_id", f"{linked}_id")
    )
    for history_id, linked_id in rows:
        links.setdefault(history_id, []).append(linked_id)
    return {row: sorted(ids) for row, ids in links.items()}


def _record_changes(object_type, position, rows, links, *, users, agencies) -> list[FieldChange]:
    """The FieldChanges of one type's history rows (ordered by record, then as written)."""
    out: list[FieldChange] = []
    if not rows:
        return out
    history = type(rows[0])
    fields = [
        f
        for f in history.tracked_fields
        if f.editable and f.name not in _HISTORY_NOT_SHOWN and f.name not in links
    ]
    names = [f.name for f in fields]
    latest = {row.id: row for row in rows}  # rows are in write order within a record
    previous = None
    for row in rows:
        if previous is None or previous.id != row.id:  # the record's first row
            change, previous = "created", None
            pairs = [
                (f.name, None, value)
                for f in fields
                if not _unset(f, value := f.value_from_object(row))
            ]
        elif row.history_type == "-":
            change = "deleted"
            pairs = [
                (f.name, value, None)
                for f in fields
                if not _unset(f, value := f.value_from_object(previous))
            ]
        else:
            change = "changed"
            delta = row.diff_against(previous, included_fields=names)
            pairs = [(c.field, c.old, c.new) for c in delta.changes]
        for name, by_row in links.items():
            old = by_row.get(previous.history_id, []) if previous is not None else []
            new = by_row.get(row.history_id, []) if change != "deleted" else []
            if old != new:
                pairs.append(
                    (
                        name,
                        old if change != "created" else None,
                        new if change != "deleted" else None,
                    )
                )
        pairs.sort(key=lambda p: p[0])
        stamp = row.history_date.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")
        for index, (field, old, new) in enumerate(pairs):
            out.append(
                FieldChange(
                    at=row.history_date,
                    user=row.history_user_id,
                    user_name=users.get(row.history_user_id),
                    agency=row.history_agency_id,
                    agency_name=agencies.get(row.history_agency_id),
                    object_type=object_type,
                    object_id=row.id,
                    object_name=_object_name(object_type, latest[row.id], agencies),
                    change=change,
                    field=field,
                    old=old,
                    new=new,
                    # Newest first when sorted descending; a row's fields in name order.
                    key=f"{stamp}.{position}.{row.history_id:012d}.{999 - index:03d}",
                ),
            )
        previous = row
    return out


def _unset(field, value) -> bool:
    """A value a new record was not given: empty, or the field's default."""
    return value in _EMPTY or (field.has_default() and value == field.get_default())


def _object_name(object_type: str, row, agencies: dict[int, str]) -> str:
    """What a record is called, from its latest history row."""
    if object_type == "family":
        return f"{row.reference} {row.name}"
    if object_type == "member":
        return f"{row.given_name} {row.family_name}"
    if object_type == "involvement":
        return agencies.get(row.agency_id, "")
    if object_type == "need":
        return row.descriptor
    if object_type == "plan_action":
        return row.description[:100]
    return row.get_basis_display()


def family_history_names(*, family: Family, changes) -> dict[tuple[type, int], str]:
    """(model, id) → its name, for the ids that `changes` (FieldChanges of the family) hold in
    foreign keys and links: people (staff), agencies, the family's members and needs, outcomes.
    One statement per kind of record named."""
    wanted: dict[type, set[int]] = {}
    models = history_models()
    for change in changes:
        field = models[change.object_type][0]._meta.get_field(change.field)
        if not field.is_relation:
            continue
        for value in (change.old, change.new):
            ids = value if isinstance(value, list) else [value]
            wanted.setdefault(field.related_model, set()).update(i for i in ids if i is not None)
    User = get_user_model()
    names: dict[tuple[type, int], str] = {}
    for model, ids in wanted.items():
        if model is User:
            found = {
                u.id: u.get_full_name() or u.username
                for u in User.objects.filter(id__in=ids).only(
                    "id", "username", "first_name", "last_name"
                )
            }
        elif model is Agency:
            found = dict(Agency.objects.filter(id__in=ids).values_list("id", "name"))
        elif model is Person:
            found = {
                p.id: f"{p.given_name} {p.family_name}"
                for p in Person.objects.filter(family=family, id__in=ids)
            }
        elif model is Need:
            found = dict(
                Need.objects.filter(family=family, id__in=ids).values_list("id", "descriptor")
            )
        elif model is HeadlineOutcome:
            found = dict(HeadlineOutcome.objects.filter(id__in=ids).values_list("id", "label"))
        else:
            continue
        names.update({(model, i): name for i, name in found.items()})
    return names
