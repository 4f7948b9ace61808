"""The access rule: the one place that decides who sees a family and writes the guardian rows.

Rule (DESIGN.md "Access"): an agency sees a family's record when it is on the team (an active
involvement) and a current lawful basis covers it; the lead agency always does; the key worker
always does. Grants are django-guardian rows in the direct-FK tables
(`FamilyGroupObjectPermission` to agency groups, `FamilyUserObjectPermission` to the key worker),
recomputed idempotently by `family_access_sync` inside the transaction that changed an input.

Everything that reads case data asks this module: `families_visible_to` (every list and every
single-record lookup), `family_permissions` (what a visible user may do), `restricted_q` (which
restricted entries a user may see).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet, Value

from agencies.models import CASE_ROLES, AgencyKind, Role, StaffMember
from agencies.selectors import staff_for_user
from cases.models import Family, FamilyGroupObjectPermission, FamilyUserObjectPermission

VIEW = "view_family"
RECORD = "record_family_work"
CHANGE = "change_family"
SHARING = "manage_family_sharing"

LEAD_AGENCY_PERMS = frozenset({VIEW, RECORD, CHANGE, SHARING})
TEAM_PERMS = frozenset({VIEW, RECORD})
KEY_WORKER_PERMS = frozenset({VIEW, RECORD, CHANGE, SHARING})
# A group grant of these only counts for the roles that lead a case in that agency.
LEADING_PERMS = frozenset({CHANGE, SHARING})
LEADING_ROLES = frozenset({Role.KEY_WORKER, Role.MANAGER})


# --- deciding ---------------------------------------------------------------------------------


def involvement_basis_covers(*, family: Family, agency_id: int) -> bool:
    """Whether a current lawful basis lets this involved agency see the family.

    Until the consent issue lands, an active involvement is the basis. This is the one place
    where that condition is added.
    """
    return True


@dataclass(frozen=True)
class Grants:
    groups: dict[int, frozenset[str]]
    users: dict[int, frozenset[str]]

    def rows(self) -> set[tuple[str, int, str]]:
        out = {("group", g, c) for g, codes in self.groups.items() for c in codes}
        out |= {("user", u, c) for u, codes in self.users.items() for c in codes}
        return out


def family_grants_derive(*, family: Family) -> Grants:
    """What the rule says the guardian rows for this family must be."""
    groups: dict[int, frozenset[str]] = {}
    involvements = family.involvements.filter(ended_on__isnull=True).select_related("agency")
    for involvement in involvements:
        if involvement_basis_covers(family=family, agency_id=involvement.agency_id):
            group_id = involvement.agency.group_id
            groups[group_id] = groups.get(group_id, frozenset()) | TEAM_PERMS
    lead_group_id = family.lead_agency.group_id
    groups[lead_group_id] = groups.get(lead_group_id, frozenset()) | LEAD_AGENCY_PERMS
    users: dict[int, frozenset[str]] = {}
    if family.key_worker_id:
        users[family.key_worker_id] = KEY_WORKER_PERMS
    return Grants(groups=groups, users=users)


def _permission_ids() -> dict[str, int]:
    codes = LEAD_AGENCY_PERMS | TEAM_PERMS | KEY_WORKER_PERMS
    rows = Permission.objects.filter(content_type__app_label="cases", codename__in=codes)
    return dict(rows.values_list("codename", "id"))


def family_grants_current(*, family: Family) -> set[tuple[str, int, str]]:
    groups = FamilyGroupObjectPermission.objects.filter(content_object=family).values_list(
        Value("group"), "group_id", "permission__codename"
    )
    users = FamilyUserObjectPermission.objects.filter(content_object=family).values_list(
        Value("user"), "user_id", "permission__codename"
    )
    return {tuple(row) for row in groups.union(users, all=True)}


def family_access_sync(*, family: Family) -> None:
    """Make the guardian rows for `family` equal what the rule derives. Idempotent.

    Call inside the transaction that changed an input (involvement, basis, key worker).
    """
    wanted = family_grants_derive(family=family).rows()
    current = family_grants_current(family=family)
    if wanted == current:
        return
    perm_ids = _permission_ids()
    for kind, holder_id, codename in current - wanted:
        model = FamilyGroupObjectPermission if kind == "group" else FamilyUserObjectPermission
        holder = {"group_id": holder_id} if kind == "group" else {"user_id": holder_id}
        model.objects.filter(
            content_object=family, permission_id=perm_ids[codename], **holder
        ).delete()
    missing = wanted - current
    FamilyGroupObjectPermission.objects.bulk_create(
        [
            FamilyGroupObjectPermission(
                content_object=family, group_id=holder_id, permission_id=perm_ids[codename]
            )
            for kind, holder_id, codename in missing
            if kind == "group"
        ]
    )
    FamilyUserObjectPermission.objects.bulk_create(
        [
            FamilyUserObjectPermission(
                content_object=family, user_id=holder_id, permission_id=perm_ids[codename]
            )
            for kind, holder_id, codename in missing
            if kind == "user"
        ]
    )


# --- reading ----------------------------------------------------------------------------------


def case_staff(user) -> StaffMember | None:
    """The user's staff membership if it is one that may see case data at all."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    staff = staff_for_user(user)
    if staff is None or staff.role not in CASE_ROLES:
        return None
    return staff


def may_open_family(staff: StaffMember | None) -> bool:
    """Key workers and managers of an early help agency open families (and lead them)."""
    return (
        staff is not None
        and staff.agency.kind == AgencyKind.EARLY_HELP
        and staff.role in LEADING_ROLES
    )


def _view_permission_id():
    return Permission.objects.filter(content_type__app_label="cases", codename=VIEW).values("id")[
        :1
    ]


def families_visible_to(user) -> QuerySet[Family]:
    """Every family `user` may see, as one SQL query driven from the grant tables.

    `id IN (group grants UNION user grants)`: the planner starts from the agency's rows in the
    direct-FK permission table (index on group, permission, family), never scans families.
    """
    staff = case_staff(user)
    if staff is None:
        return Family.objects.none()
    perm = _view_permission_id()
    by_group = FamilyGroupObjectPermission.objects.filter(
        group_id=staff.agency.group_id, permission_id=perm
    ).values("content_object_id")
    by_user = FamilyUserObjectPermission.objects.filter(user_id=user.id, permission_id=perm).values(
        "content_object_id"
    )
    return Family.objects.filter(id__in=by_group.union(by_user))


def family_permissions(user, family: Family) -> frozenset[str]:
    """What `user` may do on `family` (one query). Empty when not visible."""
    staff = case_staff(user)
    if staff is None:
        return frozenset()
    groups = FamilyGroupObjectPermission.objects.filter(
        content_object=family, group_id=staff.agency.group_id
    ).values_list("permission__codename", Value("group"))
    users = FamilyUserObjectPermission.objects.filter(
        content_object=family, user_id=user.id
    ).values_list("permission__codename", Value("user"))
    perms: set[str] = set()
    for codename, source in groups.union(users, all=True):
        if source == "group" and codename in LEADING_PERMS and staff.role not in LEADING_ROLES:
            continue
        perms.add(codename)
    if VIEW not in perms:
        return frozenset()
    return frozenset(perms)


def sees_restricted(user, family: Family) -> bool:
    """Key worker and lead-agency managers see every restricted entry on the family."""
    staff = case_staff(user)
    if staff is None:
        return False
    if family.key_worker_id == user.id:
        return True
    return staff.agency_id == family.lead_agency_id and staff.role == Role.MANAGER


def restricted_q(user, family: Family) -> Q:
    """Filter for interventions, contacts and chronology entries of a family this user sees.

    Restricted entries: the recording agency, the key worker and lead-agency managers only.
    """
    if sees_restricted(user, family):
        return Q()
    staff = case_staff(user)
    agency_id = staff.agency_id if staff else None
    return Q(visibility="team") | Q(agency_id=agency_id)


def family_viewers_among(
    *, family: Family, user_ids, visibility: str = "team", recording_agency_id: int | None = None
) -> set[int]:
    """Which of `user_ids` may see an entry of `family` with this visibility (two queries).

    Used for alert fan-out; delivery re-checks with `families_visible_to`.
    """
    user_ids = {u for u in user_ids if u}
    if not user_ids:
        return set()
    perm = _view_permission_id()
    staff = StaffMember.objects.filter(
        user_id__in=user_ids, role__in=CASE_ROLES, user__is_active=True
    ).select_related("agency")
    granted_groups = set(
        FamilyGroupObjectPermission.objects.filter(
            content_object=family, permission_id=perm
        ).values_list("group_id", flat=True)
    )
    granted_users = set(
        FamilyUserObjectPermission.objects.filter(
            content_object=family, permission_id=perm, user_id__in=user_ids
        ).values_list("user_id", flat=True)
    )
    viewers = set()
    for member in staff:
        if member.agency.group_id not in granted_groups and member.user_id not in granted_users:
            continue
        if visibility == "restricted" and not (
            member.agency_id == recording_agency_id
            or member.user_id == family.key_worker_id
            or (member.agency_id == family.lead_agency_id and member.role == Role.MANAGER)
        ):
            continue
        viewers.add(member.user_id)
    return viewers
