"""The access rule: the one place that decides who sees a family and writes the guardian rows.

Rule (decisions 0001 and 0005): an agency sees a family's record when it is on the team (an active
involvement) and a current lawful basis covers it (`current_bases_by_agency`); the lead agency
always does; the key worker always does; a user with live emergency access does, until it
expires. Grants are django-guardian rows in the direct-FK tables (`FamilyGroupObjectPermission`
to agency groups, `FamilyUserObjectPermission` to the key worker and emergency users),
recomputed idempotently by `family_access_sync` inside the transaction that changed an input.

Everything that reads case data asks this module: `families_visible_to` (every list of
families), `family_with_permissions` / `family_permissions` (every request about one family: no
view permission is a 404, the same answer the list gives; services re-check under the family's
row lock), `restricted_q` (which restricted entries a user may see), `visible_family_ids_among`
and `family_viewers_among` (alert delivery and fan-out). Who may do an action is a predicate
here too ("who may do what" below). The hot reads here are written as SQL (decision 0008).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import TruncDate
from django.utils import timezone

from agencies.models import Agency, AgencyKind, StaffMember
from agencies.roles import CASE_ROLES, Role
from agencies.selectors import staff_for_user
from audit.models import Footing as AccessFooting
from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
from cases.models import Family, Involvement, Visibility
from core.exceptions import Forbidden as Forbidden  # access names the answers: 403
from core.exceptions import NoAccess as NoAccess  # 404
from core.exceptions import StateConflict as StateConflict  # 409

VIEW = "view_family"
RECORD = "record_family_work"
CHANGE = "change_family"
SHARING = "manage_family_sharing"

LEAD_AGENCY_PERMS = frozenset({VIEW, RECORD, CHANGE, SHARING})
TEAM_PERMS = frozenset({VIEW, RECORD})
KEY_WORKER_PERMS = frozenset({VIEW, RECORD, CHANGE, SHARING})
# Emergency (break-glass) access is for reading, for a short window.
EMERGENCY_PERMS = frozenset({VIEW})
# A group grant of these only counts for the roles that lead a case in that agency.
LEADING_PERMS = frozenset({CHANGE, SHARING})
LEADING_ROLES = frozenset({Role.KEY_WORKER, Role.MANAGER})


# --- deciding ---------------------------------------------------------------------------------


@dataclass
class Footing:
    """Why a holder has access: for the disclosure history (consent.AccessPeriod)."""

    footing: str
    agency_id: int | None = None
    basis_id: int | None = None


@dataclass
class Grants:
    groups: dict[int, frozenset[str]] = field(default_factory=dict)
    users: dict[int, frozenset[str]] = field(default_factory=dict)
    footings: dict[tuple[str, int], Footing] = field(default_factory=dict)

    def add(self, kind: str, holder_id: int, perms: frozenset[str], footing: Footing) -> None:
        table = self.groups if kind == "group" else self.users
        table[holder_id] = table.get(holder_id, frozenset()) | perms
        self.footings.setdefault((kind, holder_id), footing)

    def rows(self) -> set[tuple[str, int, str]]:
        out = {("group", g, c) for g, codes in self.groups.items() for c in codes}
        out |= {("user", u, c) for u, codes in self.users.items() for c in codes}
        return out


def current_bases_by_agency(*, family: Family, today: date) -> dict[int, int]:
    """agency id → id of a current lawful basis covering it for team sharing.

    Current: recorded, not withdrawn, not past its expiry date, and in force
    (`sharing_basis_in_force_q`). This is the consent condition of the rule, and the only place
    it is decided.
    """
    from consent.models import Purpose

    covered: dict[int, int] = {}
    bases = _current_bases(today=today).filter(family=family).prefetch_related("agencies")
    for basis in bases:
        if Purpose.TEAM_SHARING not in basis.purposes:
            continue
        for agency in basis.agencies.all():
            covered.setdefault(agency.id, basis.id)
    return covered


def _current_bases(*, today: date) -> QuerySet:
    """The bases that are current on `today` (`current_bases_by_agency`), by id."""
    from consent.models import SharingBasis

    return (
        SharingBasis.objects.filter(withdrawn_at__isnull=True)
        .filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today))
        .filter(sharing_basis_in_force_q(today=today))
        .order_by("id")
    )


def covering_basis_ids(*, family_ids, agency_id: int, today: date) -> dict[int, int]:
    """family id → the current lawful basis covering `agency_id` on that family for team
    sharing: for each family the basis `current_bases_by_agency` names for the agency, in one
    statement (`_covering_basis_sql`). What a team's sight stands on (`FamilyPerms.basis_id`,
    the access log's footing)."""
    family_ids = sorted({int(i) for i in family_ids})
    if not family_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT f.id, {_covering_basis_sql('f.id')} FROM {Family._meta.db_table} f"
            f" WHERE f.id IN ({_placeholders(family_ids)})",
            [agency_id, today, today, *family_ids],
        )
        return {family_id: basis_id for family_id, basis_id in cursor.fetchall() if basis_id}


def _covering_basis_sql(family: str) -> str:
    """SQL for the id of the basis `current_bases_by_agency` names for an agency on the family
    `family` (an SQL expression), or NULL: the lowest id among the bases not withdrawn, not
    expired, in force (`sharing_basis_in_force_q`), for team sharing, covering the agency.
    Params: agency id, today, today. The same rule as the ORM's, written for the hot reads
    (decision 0017); tests/audit/test_footings.py compares the two."""
    from consent.models import BasisKind, Purpose, SharingBasis

    through = SharingBasis.agencies.through._meta
    basis_column = through.get_field("sharingbasis").column
    agency_column = through.get_field("agency").column
    return (
        f"(SELECT MIN(b.id) FROM {SharingBasis._meta.db_table} b"
        f" INNER JOIN {through.db_table} ba ON ba.{basis_column} = b.id"
        f" WHERE b.family_id = {family} AND ba.{agency_column} = %s"
        f" AND b.withdrawn_at IS NULL AND (b.expires_on IS NULL OR b.expires_on >= %s)"
        f" AND (b.basis = '{BasisKind.CONSENT}' OR (b.confirmed_at IS NOT NULL"
        f" AND b.review_on IS NOT NULL AND b.review_on >= %s))"
        # purposes: a JSON list of choice names, as text on both databases
        f" AND CAST(b.purposes AS TEXT) LIKE '%%\"{Purpose.TEAM_SHARING}\"%%')"
    )


def sharing_basis_in_force_q(*, today: date) -> Q:
    """Consent is in force once recorded; a basis without consent (public task, vital interests,
    safeguarding, court order) only once the lead-agency manager it names has confirmed it, and
    until its review date passes without a review (then it lapses)."""
    from consent.models import BasisKind

    return Q(basis=BasisKind.CONSENT) | Q(
        confirmed_at__isnull=False, review_on__isnull=False, review_on__gte=today
    )


def family_grants_derive(*, family: Family, now: datetime | None = None) -> Grants:
    """What the rule says the guardian rows for this family must be, at `now`."""
    from consent.models import AccessPeriod, EmergencyAccess

    kinds = AccessPeriod.Footing
    now = now or timezone.now()
    grants = Grants()
    lead = family.lead_agency
    grants.add("group", lead.group_id, LEAD_AGENCY_PERMS, Footing(kinds.LEAD_AGENCY, lead.id))
    covered = current_bases_by_agency(family=family, today=timezone.localdate(now))
    involvements = family.involvements.filter(ended_on__isnull=True).select_related("agency")
    for involvement in involvements:
        basis_id = covered.get(involvement.agency_id)
        if basis_id is not None:
            grants.add(
                "group",
                involvement.agency.group_id,
                TEAM_PERMS,
                Footing(kinds.TEAM_BASIS, involvement.agency_id, basis_id),
            )
    if family.key_worker_id:
        grants.add("user", family.key_worker_id, KEY_WORKER_PERMS, Footing(kinds.KEY_WORKER))
    emergency = EmergencyAccess.objects.filter(family=family, expires_at__gt=now)
    for grant in emergency.order_by("id"):
        grants.add(
            "user", grant.user_id, EMERGENCY_PERMS, Footing(kinds.EMERGENCY, grant.agency_id)
        )
    return grants


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


@dataclass
class GrantChange:
    """Who gained or lost sight of the family in one sync."""

    lost_agency_ids: set[int] = field(default_factory=set)
    lost_user_ids: set[int] = field(default_factory=set)
    gained_agency_ids: set[int] = field(default_factory=set)
    gained_user_ids: set[int] = field(default_factory=set)


def family_access_sync(*, family: Family, now: datetime | None = None) -> GrantChange:
    """Make the guardian rows for `family` equal what the rule derives. Idempotent.

    Call inside the transaction that changed an input (involvement, basis, key worker, emergency
    access, expiry). Also opens and closes the disclosure history's access periods.
    """
    now = now or timezone.now()
    grants = family_grants_derive(family=family, now=now)
    wanted = grants.rows()
    current = family_grants_current(family=family)
    change = GrantChange()
    if wanted == current:
        return change
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
    viewers_before = {(k, h) for k, h, c in current if c == VIEW}
    viewers_after = {(k, h) for k, h, c in wanted if c == VIEW}
    _access_periods_update(
        family=family,
        gained=viewers_after - viewers_before,
        lost=viewers_before - viewers_after,
        grants=grants,
        now=now,
        change=change,
    )
    return change


def _access_periods_update(*, family, gained, lost, grants: Grants, now, change) -> None:
    from consent.models import AccessPeriod

    group_agency = dict(
        Agency.objects.filter(
            group_id__in={h for k, h in gained | lost if k == "group"}
        ).values_list("group_id", "id")
    )
    for kind, holder_id in lost:
        holder = (
            {"agency_id": group_agency.get(holder_id), "user__isnull": True}
            if kind == "group"
            else {"user_id": holder_id}
        )
        AccessPeriod.objects.filter(family=family, ended_at__isnull=True, **holder).update(
            ended_at=now
        )
        if kind == "group":
            change.lost_agency_ids.add(group_agency.get(holder_id))
        else:
            change.lost_user_ids.add(holder_id)
    periods = []
    for kind, holder_id in gained:
        footing = grants.footings[(kind, holder_id)]
        if kind == "group":
            change.gained_agency_ids.add(group_agency.get(holder_id))
            agency_id, user_id = group_agency.get(holder_id), None
        else:
            change.gained_user_ids.add(holder_id)
            agency_id, user_id = footing.agency_id, holder_id
        periods.append(
            AccessPeriod(
                family=family,
                agency_id=agency_id,
                user_id=user_id,
                footing=footing.footing,
                basis_id=footing.basis_id,
                started_at=now,
            )
        )
    AccessPeriod.objects.bulk_create(periods)


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


def families_visible_to(user) -> QuerySet[Family]:
    """Every family `user` may see: a view grant to the user's agency group or to the user.

    Driven from the grant tables (direct-FK, indexed on holder, permission, family), in one of two
    SQL forms with the same rows, chosen by how many families the agency sees
    (`_agency_sees_many`, a plan hint that never decides access):

    - few (a small agency): `id IN (group grants UNION ALL user grants)`, a semi-join that starts
      from the agency's grants;
    - many (police, schools, the lead agency): `id IN (group grants) OR id IN (user grants)`,
      which PostgreSQL runs as hashed subplans while walking families in the order asked, so a
      first page of 50 by reference reads ~50 / share rows instead of joining and sorting every
      visible family.

    The grant subqueries are written as SQL (`_tables`, `_view_permission_sql`): built by the ORM
    they took more Python time to compile than the database took to run them. The measurements
    of both forms and of the ORM version are in decision 0008.
    """
    staff = case_staff(user)
    if staff is None:
        return Family.objects.none()
    t, perm = _tables(), _view_permission_sql()
    by_group = (
        f"SELECT g.content_object_id FROM {t.groups} g"
        f" WHERE g.group_id = %s AND g.permission_id = {perm}"
    )
    by_user = (
        f"SELECT x.content_object_id FROM {t.users} x"
        f" WHERE x.user_id = %s AND x.permission_id = {perm}"
    )
    group_id = staff.agency.group_id
    if _agency_sees_many(group_id):
        return Family.objects.filter(
            Q(id__in=RawSQL(by_group, [group_id])) | Q(id__in=RawSQL(by_user, [user.id]))
        )
    # UNION ALL: a semi-join needs no de-duplication of the ids.
    return Family.objects.filter(
        id__in=RawSQL(f"{by_group} UNION ALL {by_user}", [group_id, user.id])
    )


# Plan hint for `families_visible_to`, per process: how many families each agency group's view
# grants cover, re-counted after GRANT_COUNT_TTL seconds. Stale counts only change the SQL form,
# never the rows (tests/cases/test_visibility_forms.py compares the two forms).
MANY_FAMILIES = 500
GRANT_COUNT_TTL = 600.0
_grant_counts: dict[int, tuple[float, int]] = {}


def _agency_sees_many(group_id: int) -> bool:
    now = time.monotonic()
    cached = _grant_counts.get(group_id)
    if cached is None or now - cached[0] > GRANT_COUNT_TTL:
        t = _tables()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {t.groups} g"
                f" WHERE g.group_id = %s AND g.permission_id = {_view_permission_sql()}",
                [group_id],
            )
            cached = _grant_counts[group_id] = (now, cursor.fetchone()[0])
    return cached[1] > MANY_FAMILIES


class FamilyPerms(frozenset):
    """A user's permissions on one family, and what they stand on.

    `footing` (empty when the family is not visible): "key_worker" (the family's key worker),
    "lead_agency" (staff of the lead agency), "team" (an agency on the team under a lawful basis)
    or "emergency" (break-glass alone; `emergency` is then True). For "team", `basis_id` is the
    lawful basis covering the agency (`covering_basis_ids`), read when first asked for.
    """

    emergency: bool = False
    footing: str = ""
    _basis: int | None = None
    _basis_of: tuple | None = None  # (family id, agency id) while `basis_id` is unread

    @property
    def basis_id(self) -> int | None:
        if self._basis_of is not None:
            family_id, agency_id = self._basis_of
            today = timezone.localdate()
            self._basis = covering_basis_ids(
                family_ids=[family_id], agency_id=agency_id, today=today
            ).get(family_id)
            self._basis_of = None
        return self._basis


def _grants_of_holder_sql(t: _Tables) -> str:
    """(family id, codename, 'group'|'user') of the grants one family gives a group and a user.
    Params: family id, group id, family id, user id."""
    return (
        f"SELECT g.content_object_id AS family_id, p.codename AS codename, 'group' AS source"
        f" FROM {t.groups} g INNER JOIN {t.permission} p ON p.id = g.permission_id"
        f" WHERE g.content_object_id = %s AND g.group_id = %s"
        f" UNION ALL SELECT x.content_object_id, p.codename, 'user'"
        f" FROM {t.users} x INNER JOIN {t.permission} p ON p.id = x.permission_id"
        f" WHERE x.content_object_id = %s AND x.user_id = %s"
    )


def _perms_from_grants(
    rows, *, staff: StaffMember, user, family: Family, team_basis: tuple | None = None
) -> FamilyPerms:
    """The rule's reading of a holder's grant rows (codename, source) on one family."""
    perms: set[str] = set()
    sources_of_view: set[str] = set()
    for codename, source in rows:
        if codename is None:
            continue
        if source == "group" and codename in LEADING_PERMS and staff.role not in LEADING_ROLES:
            continue
        perms.add(codename)
        if codename == VIEW:
            sources_of_view.add(source)
    if VIEW not in perms:
        return FamilyPerms()
    result = FamilyPerms(perms)
    # A user grant that is not the key worker's is an emergency grant (family_grants_derive).
    result.emergency = sources_of_view == {"user"} and family.key_worker_id != user.id
    result.footing = _footing(
        family, user_id=user.id, agency_id=staff.agency_id, by_group="group" in sources_of_view
    )
    if result.footing == AccessFooting.TEAM:
        if team_basis is not None:  # read with the grants (`family_with_permissions`)
            result._basis = team_basis[0]
        else:
            result._basis_of = (family.id, staff.agency_id)
    return result


def _footing(family: Family, *, user_id: int, agency_id: int, by_group: bool) -> str:
    """What a person's sight of a family they see stands on: being its key worker, else their
    agency's group grant (the lead agency's, or a team's under a lawful basis), else an
    emergency grant of their own (`family_grants_derive`)."""
    if family.key_worker_id == user_id:
        return AccessFooting.KEY_WORKER
    if by_group:
        if family.lead_agency_id == agency_id:
            return AccessFooting.LEAD_AGENCY
        return AccessFooting.TEAM
    return AccessFooting.EMERGENCY


def family_footings(user, families) -> dict[int, tuple[str, int | None]]:
    """family id → (footing, basis id) of `user`'s sight of each of `families`, families a list
    showed them (each visible to them: `families_visible_to`): as `FamilyPerms.footing` and
    `basis_id` give it for one family. At most one query, whatever the number of families: for
    those neither the key worker's nor the lead agency's, the agency's view grant on each and
    the basis covering it (`_team_footings_sql`)."""
    staff = case_staff(user)
    families = list(families)
    if staff is None or not families:
        return {}
    out: dict[int, tuple[str, int | None]] = {}
    others = []
    for family in families:
        if family.key_worker_id == user.id:
            out[family.id] = (AccessFooting.KEY_WORKER, None)
        elif family.lead_agency_id == staff.agency_id:
            out[family.id] = (AccessFooting.LEAD_AGENCY, None)
        else:
            others.append(family.id)
    if not others:
        return out
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            _team_footings_sql(len(others)),
            [staff.agency.group_id, staff.agency_id, today, today, *others],
        )
        team = dict(cursor.fetchall())
    for family_id in others:
        basis_id = team.get(family_id)
        if basis_id is None:  # no view grant to the agency: sight from emergency access
            out[family_id] = (AccessFooting.EMERGENCY, None)
        else:  # 0: on the team, no current basis (expired, not swept yet)
            out[family_id] = (AccessFooting.TEAM, basis_id or None)
    return out


@functools.lru_cache(maxsize=256)
def _team_footings_sql(n: int) -> str:
    """For n family ids: each id, and NULL when the agency's group holds no view grant on it,
    else the basis covering the agency (0 when none does). Probed family by family (the grant
    table's index), the basis only where the grant is. Params: group id, agency id, today,
    today, the ids."""
    t = _tables()
    grant = (
        f"SELECT 1 FROM {t.groups} g WHERE g.group_id = %s"
        f" AND g.permission_id = {_view_permission_sql()} AND g.content_object_id = f.id LIMIT 1"
    )
    return (
        f"SELECT f.id, CASE WHEN ({grant}) IS NOT NULL"
        f" THEN COALESCE({_covering_basis_sql('f.id')}, 0) END"
        f" FROM {Family._meta.db_table} f WHERE f.id IN ({_placeholders(range(n))})"
    )


def family_permissions(user, family: Family) -> FamilyPerms:
    """What `user` may do on `family` (one query). Empty when not visible: the same answer
    `families_visible_to` gives for the family."""
    staff = case_staff(user)
    if staff is None:
        return FamilyPerms()
    with connection.cursor() as cursor:
        cursor.execute(
            _grants_of_holder_sql(_tables()),
            [family.id, staff.agency.group_id, family.id, user.id],
        )
        rows = [(codename, source) for _, codename, source in cursor.fetchall()]
    return _perms_from_grants(rows, staff=staff, user=user, family=family)


def family_with_permissions(user, family_id: int) -> tuple[Family | None, FamilyPerms]:
    """The family (None when there is no such family) and what `user` may do on it, in ONE
    statement: what every request about one family asks first (cases/api.py
    `FamilyScopedView`); no view permission → 404, as for a family that does not exist."""
    staff = case_staff(user)
    family_id = int(family_id)
    if staff is None or not 0 < family_id < 2**63:  # beyond a 64-bit id: no such family
        return None, FamilyPerms()
    t = _tables()
    today = timezone.localdate()
    rows = list(
        Family.objects.raw(
            f"SELECT f.*, {_covering_basis_sql('f.id')} AS team_basis_id,"
            f" h.codename AS grant_codename, h.source AS grant_source"
            f" FROM {Family._meta.db_table} f LEFT JOIN ({_grants_of_holder_sql(t)}) h"
            f" ON h.family_id = f.id WHERE f.id = %s",
            [
                staff.agency_id,
                today,
                today,
                family_id,
                staff.agency.group_id,
                family_id,
                user.id,
                family_id,
            ],
        )
    )
    if not rows:
        return None, FamilyPerms()
    family = rows[0]
    grants = [(row.grant_codename, row.grant_source) for row in rows]
    return family, _perms_from_grants(
        grants, staff=staff, user=user, family=family, team_basis=(family.team_basis_id,)
    )


def family_write_check(*, user, family: Family, permission: str) -> FamilyPerms:
    """For services, under the family's row lock: raise NoAccess unless `user` may still act;
    else what they may do on it (for the service's further questions, asked without reading
    the grants again).

    A withdrawal or a team change commits under the same lock, so no write slips in after it.
    """
    perms = family_permissions(user, family)
    if permission not in perms:
        raise NoAccess
    return perms


def sees_every_restricted_entry(*, user_id, agency_id, role, family: Family) -> bool:
    """The key worker and lead-agency managers see every restricted entry on the family."""
    return family.key_worker_id == user_id or (
        agency_id == family.lead_agency_id and role == Role.MANAGER
    )


def sees_restricted_entry(
    *, user_id, agency_id, role, family: Family, recording_agency_id: int | None
) -> bool:
    """Who sees a restricted entry of a family they see: the recording agency, the key worker
    and lead-agency managers. `restricted_q` is this predicate as a filter on entries."""
    return agency_id == recording_agency_id or sees_every_restricted_entry(
        user_id=user_id, agency_id=agency_id, role=role, family=family
    )


def restricted_q(user, family: Family) -> Q:
    """Filter for interventions, contacts and chronology entries of a family this user sees:
    team entries, and restricted ones where `sees_restricted_entry` holds (the entry's agency is
    its recording agency)."""
    staff = case_staff(user)
    if staff is None:
        return Q(pk__in=[])
    if sees_every_restricted_entry(
        user_id=user.id, agency_id=staff.agency_id, role=staff.role, family=family
    ):
        return Q()
    return Q(visibility=Visibility.TEAM) | Q(agency_id=staff.agency_id)


# --- who may do what ----------------------------------------------------------------------------
# Each action's rule, for API views and pages to translate (403) and for services to re-check
# under the family's row lock. `perms` is what `family_permissions` gave the person on the family.


def is_lead_manager(staff: StaffMember | None, family: Family) -> bool:
    """A manager of the family's lead agency: allocates key workers, reviews emergency access,
    decides sharing without consent."""
    return (
        staff is not None
        and staff.role == Role.MANAGER
        and staff.agency_id == family.lead_agency_id
    )


def may_be_key_worker(staff: StaffMember | None) -> bool:
    """Key workers and managers hold families as key worker."""
    return staff is not None and staff.role in LEADING_ROLES


def takes_own_families(staff: StaffMember) -> bool:
    """A key worker who opens a family becomes its key worker unless another is named."""
    return staff.role == Role.KEY_WORKER


def works_with_families(staff: StaffMember | None) -> bool:
    """Staff whose role works with case data (not agency admins), e.g. a team's named
    practitioner."""
    return staff is not None and staff.role in CASE_ROLES


HOME_CASELOAD = "caseload"  # key workers: their own families
HOME_PARTNER = "partner"  # practitioners: the families their agency works with
HOME_MANAGER = "manager"  # managers: every family their agency leads
HOME_STAFF = "staff"  # agency admins: their agency's staff
HOME_DPO = "dpo"  # data protection officers: unusual access to the families their agency leads
HOME_ANALYST = "analyst"  # analysts: their agency's identification datasets
HOME_ADMIN = "admin"  # platform admins: the Django admin (no case data)
HOME_NONE = "none"  # signed in with no role here


def home_for(user) -> str:
    """Which home page a signed-in person lands on, by their role."""
    staff = staff_for_user(user)
    if staff is None:
        return HOME_ADMIN if getattr(user, "is_staff", False) else HOME_NONE
    return {
        Role.KEY_WORKER: HOME_CASELOAD,
        Role.PRACTITIONER: HOME_PARTNER,
        Role.MANAGER: HOME_MANAGER,
        Role.AGENCY_ADMIN: HOME_STAFF,
        Role.DPO: HOME_DPO,
        Role.ANALYST: HOME_ANALYST,
    }.get(staff.role, HOME_NONE)


def lead_manager_ids(*, family: Family) -> set[int]:
    """User ids of the active managers of the family's lead agency (who approve, review and
    decide; alerted of emergency access)."""
    return set(
        StaffMember.objects.filter(
            agency_id=family.lead_agency_id, role=Role.MANAGER, user__is_active=True
        ).values_list("user_id", flat=True)
    )


def family_team_ids(*, family: Family) -> set[int]:
    """User ids of the family's team as alerts know it: the key worker and each active
    involvement's named practitioner (`family_viewers_among(user_ids=TEAM)` reads the same in
    its statement)."""
    named = Involvement.objects.filter(
        family=family, ended_on__isnull=True, practitioner__isnull=False
    ).values_list("practitioner_id", flat=True)
    return {family.key_worker_id, *named} - {None}


def may_allocate_key_worker(
    *, staff: StaffMember, family: Family, perms, new_key_worker: StaffMember | None
) -> bool:
    """A lead-agency manager allocates the key worker; the current key worker may hand the case
    over to a colleague of their own agency. Nobody else, whatever their role."""
    if CHANGE not in perms:
        return False
    if is_lead_manager(staff, family):
        return True
    return (
        family.key_worker_id == staff.user_id
        and new_key_worker is not None
        and new_key_worker.user_id != staff.user_id
        and new_key_worker.agency_id == staff.agency_id
    )


def may_change_need_status(*, perms) -> bool:
    """A need's status (and so the results claim) is for the key worker and the lead agency."""
    return CHANGE in perms


def may_update_plan_action(*, staff: StaffMember, perms, owner_agency_id: int) -> bool:
    """The key worker and lead agency change any plan action; a partner its own agency's."""
    return CHANGE in perms or (RECORD in perms and owner_agency_id == staff.agency_id)


def may_review_emergency_access(*, staff: StaffMember | None, family: Family) -> bool:
    """Lead-agency managers review emergency access and approve grants that need approval."""
    return is_lead_manager(staff, family)


def may_confirm_sharing_basis(*, staff: StaffMember | None, family: Family, basis) -> bool:
    """A basis without consent is confirmed by the lead-agency manager it names, only."""
    return (
        is_lead_manager(staff, family)
        and basis.decided_by_id is not None
        and basis.decided_by_id == staff.user_id
    )


def may_review_sharing_basis(*, staff: StaffMember | None, family: Family) -> bool:
    """A basis without consent is reviewed (kept for a further period) by a lead-agency manager."""
    return is_lead_manager(staff, family)


# --- the family's lifecycle (cases/lifecycle.py: the states and which action leads where) ----


def may_close_family(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """The key worker and the lead agency's managers close a family (and reopen it)."""
    return (
        staff is not None
        and CHANGE in perms
        and (family.key_worker_id == staff.user_id or is_lead_manager(staff, family))
    )


def may_reopen_family(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """Whoever may close a family may reopen it: its key worker, the lead agency's managers."""
    return may_close_family(staff=staff, family=family, perms=perms)


def may_step_up(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A step-up to children's social care is an authorised decision of a manager of the lead
    agency."""
    return CHANGE in perms and is_lead_manager(staff, family)


def may_step_down(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A step-down to early help is decided by a manager of the lead agency (children's social
    care)."""
    return CHANGE in perms and is_lead_manager(staff, family)


def may_record_review(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A Team Around the Family review is recorded by the key worker or the lead agency's key
    workers and managers (who hold CHANGE)."""
    return staff is not None and CHANGE in perms


def review_reminder_q() -> Q:
    """Filter on families: those whose key worker is reminded of their reviews (a week before,
    and when overdue): open families with an active key worker. Reminders go to the key
    worker, who sees the family (a user grant)."""
    from cases.models import FamilyStatus

    return Q(status=FamilyStatus.OPEN, key_worker__isnull=False, key_worker__is_active=True)


def is_social_care(agency: Agency) -> bool:
    """Children's social care: the lead agency after a step-up."""
    return agency.kind == AgencyKind.CHILDRENS_SOCIAL_CARE


def may_lead_after_step_down(agency: Agency) -> bool:
    """A step-down makes an early help agency the lead."""
    return agency.kind == AgencyKind.EARLY_HELP


# --- referrals and the front door (the referrals app; decision 0026) ---------------------------


def may_refer(staff: StaffMember | None) -> bool:
    """Any practitioner who works with families refers one to early help."""
    return staff is not None and staff.role in CASE_ROLES


def is_front_door(staff: StaffMember | None) -> bool:
    """The early help front door: the practitioners, key workers and managers of an early help
    agency. They see every referral, the families and people it may match, and decide."""
    return (
        staff is not None
        and staff.role in CASE_ROLES
        and staff.agency.kind == AgencyKind.EARLY_HELP
    )


def may_decide_referral(staff: StaffMember | None) -> bool:
    """The front door decides a referral (open, signpost, step up, no further action)."""
    return is_front_door(staff)


def sees_referral_matches(staff: StaffMember | None) -> bool:
    """The possible matches of a referral with known families and people are for the front
    door only, never the referrer (unless the referrer is the front door)."""
    return is_front_door(staff)


def referrals_visible_q(staff: StaffMember | None) -> Q:
    """Filter on referrals: the front door sees every one; anyone else who works with families
    the referrals of their own agency (and their decisions, not the family behind them)."""
    if staff is None or staff.role not in CASE_ROLES:
        return Q(pk__in=[])
    if is_front_door(staff):
        return Q()
    return Q(agency_id=staff.agency_id)


def may_join_referral(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A front door decision joins a referral to a known family, or reopens a closed one, when
    the front door's agency leads it (a family another agency leads is theirs to take)."""
    return may_decide_referral(staff) and VIEW in perms and family.lead_agency_id == staff.agency_id


def may_open_family_on_referral(staff: StaffMember | None) -> bool:
    """A front door decision to accept opens the family, led by the front door's agency."""
    return may_decide_referral(staff)


def may_request_report(staff: StaffMember | None, *, council_wide: bool) -> bool:
    """A council-wide report (caseload, outcomes, results claims) covers every family the
    requester's agency leads: for managers of an early help agency, which leads families. A
    report about one family (its summary) is for anyone who works with case data; whether they
    see that family is `family_with_permissions`' answer, asked for the family."""
    if staff is None or staff.role not in CASE_ROLES:
        return False
    if not council_wide:
        return True
    return staff.role == Role.MANAGER and staff.agency.kind == AgencyKind.EARLY_HELP


def report_visible_to(user, *, requested_by_id: int, council_wide: bool) -> bool:
    """A report is its requester's alone (it holds what they may see), and only while they
    still may ask for one like it: a manager who changed role no longer reads the council's."""
    if getattr(user, "id", None) != requested_by_id:
        return False
    return may_request_report(case_staff(user), council_wide=council_wide)


# --- who reads the access log; who asks for a subject access export ----------------------------
# The access log (audit.AccessEvent) says who saw or changed a family's record, when and on what
# footing. Its readers (the accountability app's API and pages) and the subject access export
# (reports) ask these. Managers and data protection officers read the agency-wide views; a data
# protection officer sees no case data (not a case role: `case_staff` is None for them).

AUDIT_ROLES = frozenset({Role.MANAGER, Role.DPO})


def audit_staff(user) -> StaffMember | None:
    """The user's staff membership if it may read the agency-wide audit views
    (`may_read_agency_access_log`): an active manager or data protection officer."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    staff = staff_for_user(user)
    return staff if may_read_agency_access_log(staff) else None


def may_read_access_log(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A family's access log (who saw or changed its record, when, on what footing, and the
    attempts refused) is read by its key worker and the lead agency's managers. A data
    protection officer reads the same events in the agency-wide log, where a family is named by
    its reference only: the family's own pages are case data."""
    return (
        VIEW in perms
        and staff is not None
        and (family.key_worker_id == staff.user_id or is_lead_manager(staff, family))
    )


def may_read_agency_access_log(staff: StaffMember | None) -> bool:
    """The agency-wide access log and the unusual access are for managers and data protection
    officers, over the families their agency leads (`access_log_families_q`)."""
    return staff is not None and staff.role in AUDIT_ROLES


def may_read_unusual_access(staff: StaffMember | None) -> bool:
    """The unusual access (`reads_outside_caseload_q`, emergency access by person, bursts of
    reads): the same readers as the agency-wide log."""
    return may_read_agency_access_log(staff)


def access_log_families_q(staff: StaffMember | None) -> Q:
    """Filter on families: those whose access events `staff` reads in the agency-wide views, the
    families their agency leads now (after a step-up the new lead agency reads the whole
    history). None for anyone else."""
    if not may_read_agency_access_log(staff):
        return Q(pk__in=[])
    return Q(lead_agency_id=staff.agency_id)


def reads_outside_caseload_q() -> Q:
    """Filter on access events: an allowed read of a family by someone for whom the family is in
    neither their caseload nor their team. Precisely, an event with action `read`, outcome
    `allowed`, and either

    - footing `emergency` (or marked `emergency`): the reader had no standing access and broke
      the glass; or
    - footing `lead_agency`, by a person who is not the family's key worker, not a manager of
      its lead agency (oversight is a manager's job), and not the named practitioner of an
      involvement of the family that covered the day of the read (started on or before it,
      not ended before it): a colleague of the lead agency reading a family that is not theirs.

    Key worker, manager and team are judged as they are now (the key worker, roles and lead
    agency of today; the involvement by its dates). Reads on the footing `key_worker` or `team`
    are never unusual here: an agency on the team under a lawful basis may read the record,
    whoever in it does (bursts of reads catch a person reading too many)."""
    key_worker = Family.objects.filter(id=OuterRef("family_id"), key_worker_id=OuterRef("user_id"))
    lead_manager = Family.objects.filter(
        id=OuterRef("family_id"),
        lead_agency__staff__user_id=OuterRef("user_id"),
        lead_agency__staff__role=Role.MANAGER,
    )
    day = TruncDate(ExpressionWrapper(OuterRef("at"), output_field=DateTimeField()))
    named = Involvement.objects.filter(
        family_id=OuterRef("family_id"),
        practitioner_id=OuterRef("user_id"),
        started_on__lte=day,
    ).filter(Q(ended_on__isnull=True) | Q(ended_on__gte=day))
    colleague = (
        Q(footing="lead_agency") & ~Exists(key_worker) & ~Exists(lead_manager) & ~Exists(named)
    )
    return Q(action="read", outcome="allowed") & (
        Q(footing="emergency") | Q(emergency=True) | colleague
    )


def may_request_subject_access(*, staff: StaffMember | None, family: Family, perms) -> bool:
    """A subject access export of a member of the family (everything held on them, every access
    to the family's record, every disclosure) is asked for by a manager of the family's lead
    agency. It holds every restricted entry of the family, the person being their subject: a
    lead-agency manager sees them all anyway (`sees_every_restricted_entry`)."""
    return VIEW in perms and is_lead_manager(staff, family)


def subject_access_families_q(staff: StaffMember | None, *, prefix: str = "") -> Q:
    """`may_request_subject_access` as a filter on families (through `prefix`, e.g.
    "family__"): the families a manager's agency leads; none for anyone else."""
    if staff is None or staff.role != Role.MANAGER:
        return Q(pk__in=[])
    return Q(**{f"{prefix}lead_agency_id": staff.agency_id})


# Asking for emergency access: anyone who works with families may, by family id, for a family
# they cannot see (what the request gets: `emergency_access_allowance`).
EMERGENCY_REQUEST = "request_emergency_access"


def emergency_request_perms(staff: StaffMember | None) -> FamilyPerms:
    """What a request for emergency access stands on: `EMERGENCY_REQUEST` on the footing
    "emergency" for anyone who works with case data; nothing for anyone else (403)."""
    if staff is None or staff.role not in CASE_ROLES:
        return FamilyPerms()
    perms = FamilyPerms({EMERGENCY_REQUEST})
    perms.footing, perms.emergency = AccessFooting.EMERGENCY, True
    return perms


EMERGENCY_GRANT = "grant"
EMERGENCY_LIVE = "live"
EMERGENCY_NEEDS_APPROVAL = "needs_approval"
EMERGENCY_WAITING = "waiting"


def emergency_access_allowance(*, user_id: int, family: Family, now: datetime) -> str:
    """What a request for emergency access by `user_id` on `family` gets at `now`:

    - `live`: the person already holds a live grant on this family (one at a time);
    - `waiting`: the person's request for this family already waits for a manager's approval;
    - `needs_approval`: a manager must approve it, because an earlier grant of this person on
      this family was found not justified, or the person has taken the daily limit of grants
      (settings.EMERGENCY_ACCESS_DAILY_LIMIT) since midnight;
    - `grant`: granted at once.
    """
    from django.conf import settings

    from consent.models import EmergencyAccess

    mine = EmergencyAccess.objects.filter(user_id=user_id)
    if mine.filter(family=family, expires_at__gt=now).exists():
        return EMERGENCY_LIVE
    waiting = mine.filter(
        family=family, approval_required=True, approved_at__isnull=True, refused_at__isnull=True
    )
    if waiting.exists():
        return EMERGENCY_WAITING
    if mine.filter(family=family, decision=EmergencyAccess.Decision.NOT_JUSTIFIED).exists():
        return EMERGENCY_NEEDS_APPROVAL
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    taken_today = mine.filter(granted_at__gte=midnight).count()
    if taken_today >= settings.EMERGENCY_ACCESS_DAILY_LIMIT:
        return EMERGENCY_NEEDS_APPROVAL
    return EMERGENCY_GRANT


def emergency_access_overrides_withdrawal(*, agency_id: int, family: Family, today: date) -> bool:
    """An emergency grant overrides a withdrawal when the family withdrew a basis that covered
    the requester's agency and no current basis covers it now."""
    from consent.models import SharingBasis

    if agency_id in current_bases_by_agency(family=family, today=today):
        return False
    return SharingBasis.objects.filter(
        family=family, withdrawn_at__isnull=False, agencies__id=agency_id
    ).exists()


def restricted_entries_q(user) -> Q:
    """`restricted_q` for entries of many families at once (a home page's rows, each family one
    the user sees): team entries, the user's agency's own, and every entry of the families for
    which `sees_every_restricted_entry` holds (the user is the key worker, or a manager of the
    lead agency). Filters interventions, contacts and chronology entries through their
    `family`."""
    staff = case_staff(user)
    if staff is None:
        return Q(pk__in=[])
    q = (
        Q(visibility=Visibility.TEAM)
        | Q(agency_id=staff.agency_id)
        | Q(family__key_worker_id=user.id)
    )
    if staff.role == Role.MANAGER:
        q |= Q(family__lead_agency_id=staff.agency_id)
    return q


@dataclass(frozen=True)
class _Tables:
    user: str
    staff: str
    agency: str
    groups: str
    users: str
    permission: str


def _tables() -> _Tables:
    """Table names for the statements written as SQL in this module."""
    return _Tables(
        user=get_user_model()._meta.db_table,
        staff=StaffMember._meta.db_table,
        agency=Agency._meta.db_table,
        groups=FamilyGroupObjectPermission._meta.db_table,
        users=FamilyUserObjectPermission._meta.db_table,
        permission=Permission._meta.db_table,
    )


def _view_permission_sql() -> str:
    """SQL for the id of the view permission, looked up inside each statement (never cached in
    the process: a cached id went stale in servers whose permission rows were rebuilt)."""
    return (
        f"(SELECT p.id FROM {Permission._meta.db_table} p"
        f" INNER JOIN {ContentType._meta.db_table} ct ON ct.id = p.content_type_id"
        f" WHERE ct.app_label = 'cases' AND p.codename = '{VIEW}' ORDER BY p.id LIMIT 1)"
    )


def _placeholders(values) -> str:
    return ", ".join(["%s"] * len(values))


def visible_family_ids_among(*, user_id: int, family_ids) -> set[int] | None:
    """Which of `family_ids` the user sees, in ONE query (alert sockets: is the user still
    allowed at all, with `family_ids=()`).

    None when the user may not see case data at all (`case_staff` is None: no such user,
    inactive, not staff, or a role outside CASE_ROLES); else the ids among `family_ids` that
    `families_visible_to(user)` holds. Built from `case_user_status_sql` and
    `family_visible_sql`, read fresh.
    """
    family_ids = sorted({int(f) for f in family_ids if f is not None})
    status_from, status_columns = case_user_status_sql()
    sql = f"SELECT NULL, {status_columns} {status_from}"
    params: list = [user_id]
    if family_ids:
        sql += (
            f" UNION ALL SELECT f.id, NULL, NULL FROM {Family._meta.db_table} f"
            f" WHERE f.id IN ({_placeholders(family_ids)}) AND {family_visible_sql('f.id')}"
        )
        params += [*family_ids, user_id, user_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not any(fid is None and case_user_allowed(active, role) for fid, active, role in rows):
        return None
    return {fid for fid, _, _ in rows if fid is not None}


def case_user_status_sql() -> tuple[str, str]:
    """(FROM-and-WHERE clause, columns) giving one row with `is_active` and `role` of the user
    whose id is the one parameter: what `case_staff` decides from, read in a caller's statement."""
    t = _tables()
    return (
        f"FROM {t.user} u LEFT JOIN {t.staff} s ON s.user_id = u.id WHERE u.id = %s",
        "u.is_active, s.role",
    )


def case_user_allowed(is_active, role) -> bool:
    """`case_staff`'s decision on a row of `case_user_status_sql`."""
    return bool(is_active) and role in CASE_ROLES


def family_visible_sql(family: str, user: str = "%s", *, per_row: bool = False) -> str:
    """SQL condition: the family `family` is visible to the user `user` (a view grant to their
    agency's group or to them), the rule of `families_visible_to` for a caller's own statement.

    Both are SQL expressions (a column, or `%s`); each `%s` takes one parameter in each of the
    two EXISTS, user before family: `user="%s"` (the default) → params (user id, user id).

    `per_row`: the same test as scalar subqueries (`LIMIT 1`), which PostgreSQL probes by index
    for each row instead of hashing every grant of the agency first: for a statement over a
    few rows (one user's alerts)."""
    t, perm = _tables(), _view_permission_sql()
    by_group = (
        f"SELECT 1 FROM {t.groups} vg"
        f" INNER JOIN {t.agency} va ON va.group_id = vg.group_id"
        f" INNER JOIN {t.staff} vs ON vs.agency_id = va.id WHERE vs.user_id = {user}"
        f" AND vg.permission_id = {perm} AND vg.content_object_id = {family}"
    )
    by_user = (
        f"SELECT 1 FROM {t.users} vx WHERE vx.user_id = {user}"
        f" AND vx.permission_id = {perm} AND vx.content_object_id = {family}"
    )
    if per_row:
        return f"(({by_group} LIMIT 1) IS NOT NULL OR ({by_user} LIMIT 1) IS NOT NULL)"
    return f"(EXISTS ({by_group}) OR EXISTS ({by_user}))"


TEAM = object()  # `family_viewers_among(user_ids=TEAM)`: the family's team


def family_viewers_among(
    *,
    family: Family,
    user_ids,
    visibility: str = Visibility.TEAM,
    recording_agency_id: int | None = None,
) -> set[int]:
    """Which of `user_ids` may see an entry of `family` with this visibility (one query).

    `user_ids=TEAM`: the family's team as alerts know it, the key worker and each active
    involvement's named practitioner, read in the same statement. Used for alert fan-out;
    delivery re-checks (alerts.selectors). Viewers: active staff with a case role (`case_staff`)
    for whom `family_visible_sql` holds.
    """
    t = _tables()
    if user_ids is TEAM:
        candidates = (
            f"(s.user_id = %s OR s.user_id IN (SELECT i.practitioner_id"
            f" FROM {Involvement._meta.db_table} i WHERE i.family_id = %s"
            f" AND i.ended_on IS NULL AND i.practitioner_id IS NOT NULL))"
        )
        params = [family.key_worker_id, family.id]
    else:
        user_ids = sorted({u for u in user_ids if u})
        if not user_ids:
            return set()
        candidates, params = f"s.user_id IN ({_placeholders(user_ids)})", user_ids
    roles = sorted(CASE_ROLES)
    sql = (
        f"SELECT s.user_id, s.agency_id, s.role, u.is_active FROM {t.staff} s"
        f" INNER JOIN {t.user} u ON u.id = s.user_id"
        f" WHERE {candidates} AND s.role IN ({_placeholders(roles)})"
        f" AND {family_visible_sql('%s', user='s.user_id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *roles, family.id, family.id])
        rows = cursor.fetchall()
    viewers = set()
    for member_user_id, agency_id, role, is_active in rows:
        if not is_active:
            continue
        if visibility == Visibility.RESTRICTED and not sees_restricted_entry(
            user_id=member_user_id,
            agency_id=agency_id,
            role=role,
            family=family,
            recording_agency_id=recording_agency_id,
        ):
            continue
        viewers.add(member_user_id)
    return viewers


# --- who manages an agency's staff ---------------------------------------------------------
# Staff accounts, not case data; decided here with every other rule of who may do what. The
# staff pages, the staff API and agencies/services.py ask these (the one upward import of
# agencies, listed in the layers contract).


def may_manage_staff(*, user, agency: Agency) -> bool:
    """Platform admins, and the agency's own admins, create staff and change their roles."""
    if getattr(user, "is_staff", False):
        return True
    staff = staff_for_user(user)
    return bool(staff and staff.agency_id == agency.id and staff.role == Role.AGENCY_ADMIN)


def may_manage_tokens_of(*, user, owner_id: int, owner_agency_id: int | None) -> bool:
    """Who lists and revokes a person's API tokens: the person, platform admins, and the admins
    of the agency the person works for (`owner_agency_id`: None for a person of no agency)."""
    if user.pk == owner_id or getattr(user, "is_staff", False):
        return True
    staff = staff_for_user(user)
    return bool(
        staff
        and owner_agency_id is not None
        and staff.agency_id == owner_agency_id
        and staff.role == Role.AGENCY_ADMIN
    )


def staff_change_watcher_ids(*, agency_id: int) -> set[int]:
    """Who hears of staff accounts created and roles changed in an agency: its active admins
    and managers."""
    return set(
        StaffMember.objects.filter(
            agency_id=agency_id,
            role__in=(Role.AGENCY_ADMIN, Role.MANAGER),
            user__is_active=True,
        ).values_list("user_id", flat=True)
    )


# --- identification (data matching) -----------------------------------------------------------
# Agencies' indicator datasets and the candidate households a matching run finds are kept apart
# from case data (decision 0028). A dataset is its agency's: uploaded by its agency admin or an
# analyst, listed (metadata only) to them and to the lead agency's managers, who run the
# matching; the rows reach no one but the run. Candidates are for the front door: the managers
# of an early help agency (the lead agency), never a partner.

DATASET_ROLES = frozenset({Role.AGENCY_ADMIN, Role.ANALYST})


def identification_staff(user) -> StaffMember | None:
    """The user's active staff membership, whatever its role (identification's readers are
    decided by the predicates below)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return staff_for_user(user)


def may_upload_dataset(staff: StaffMember | None) -> bool:
    """An agency's indicator datasets are uploaded by its agency admins and analysts."""
    return staff is not None and staff.role in DATASET_ROLES


def may_run_matching(staff: StaffMember | None) -> bool:
    """A matching run (over every dataset held) is started by a manager of an early help
    agency, which leads families; the same people work the candidate queue."""
    return (
        staff is not None
        and staff.role == Role.MANAGER
        and staff.agency.kind == AgencyKind.EARLY_HELP
    )


def may_see_candidates(staff: StaffMember | None) -> bool:
    """The candidate queue (and each candidate's explanation and decision) is the front door's:
    the lead agency's managers."""
    return may_run_matching(staff)


def datasets_visible_q(staff: StaffMember | None) -> Q:
    """Filter on datasets: an uploader sees their own agency's; a lead-agency manager sees every
    dataset's metadata (what a run will match); anyone else none."""
    if staff is None:
        return Q(pk__in=[])
    if may_run_matching(staff):
        return Q()
    if may_upload_dataset(staff):
        return Q(agency_id=staff.agency_id)
    return Q(pk__in=[])


def candidates_visible_q(staff: StaffMember | None) -> Q:
    """Filter on candidates (and runs): those of runs for the manager's own agency."""
    if not may_see_candidates(staff):
        return Q(pk__in=[])
    return Q(agency_id=staff.agency_id)


def families_for_matching(staff: StaffMember) -> QuerySet[Family]:
    """The case record a run of `staff`'s links to, so that a candidate already known is said
    to be: the families their agency leads, open or closed (none unless `may_run_matching`)."""
    if not may_run_matching(staff):
        return Family.objects.none()
    return Family.objects.filter(lead_agency_id=staff.agency_id)
