"""Reads of the access log (audit.AccessEvent) for its readers: one family's log, the
agency-wide log and its filters, and the unusual access (emergency access by person, reads
outside one's caseload or team, bursts of reads).

Who reads what is decided by cases/access.py: a family's log by `access.may_read_access_log`
(asked by the caller, which has the family), the agency-wide views over the families of
`access.access_log_families_q`, unusual reads by `access.reads_outside_caseload_q`. A row is
reports.selectors.access_event_rows, the same row the subject access export prints.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet

from agencies.models import Agency, StaffMember
from audit.models import AccessEvent
from cases import access
from cases.models import Family, Person
from consent.models import EmergencyAccess
from reports.selectors import access_event_rows, family_access_events

# How many of the newest reads outside one's caseload or team the unusual access shows (the
# agency-wide log pages through them all).
OUTSIDE_SHOWN = 50


def family_access_log(*, family: Family) -> QuerySet[AccessEvent]:
    """Every access event on the family, refused attempts included, newest first."""
    return access_event_rows(family_access_events(family=family))


@dataclass(frozen=True)
class AuditFilters:
    """What the agency-wide log is narrowed to (each None: any). `end` is exclusive."""

    user_id: int | None = None
    username: str | None = None
    agency_id: int | None = None
    family_id: int | None = None
    family_reference: str | None = None
    action: str | None = None
    outcome: str | None = None
    footing: str | None = None  # "none": refused attempts, which have no footing
    unusual: bool = False  # only the reads outside one's caseload or team
    start: datetime | None = None
    end: datetime | None = None


def _led_events(staff: StaffMember, *, family_reference: str | None = None):
    """Access events on the families `staff` reads in the agency-wide views, each from the
    family's creation on (as a family's own log)."""
    families = Family.objects.filter(access.access_log_families_q(staff)).filter(
        id=OuterRef("family_id"), created_at__lte=OuterRef("at")
    )
    if family_reference:
        families = families.filter(reference__iexact=family_reference)
    return AccessEvent.objects.filter(Exists(families))


def agency_access_log(*, staff: StaffMember, filters: AuditFilters) -> QuerySet[AccessEvent]:
    """Every access event on the families `staff`'s agency leads (refused attempts by anyone
    included), narrowed by `filters`, newest first."""
    if not access.may_read_agency_access_log(staff):
        return AccessEvent.objects.none()
    events = _led_events(staff, family_reference=filters.family_reference)
    exact = {
        "user_id": filters.user_id,
        "user__username__iexact": filters.username,
        "agency_id": filters.agency_id,
        "family_id": filters.family_id,
        "action": filters.action,
        "outcome": filters.outcome,
        "at__gte": filters.start,
        "at__lt": filters.end,
    }
    events = events.filter(**{k: v for k, v in exact.items() if v not in (None, "")})
    if filters.footing:
        events = events.filter(footing="" if filters.footing == "none" else filters.footing)
    if filters.unusual:
        events = events.filter(access.reads_outside_caseload_q())
    return access_event_rows(events).order_by("-at", "-id")


# --- unusual access ----------------------------------------------------------------------------


def _names(user_ids, agency_ids) -> tuple[dict[int, str], dict[int, str]]:
    users = {
        u["id"]: f"{u['first_name']} {u['last_name']}".strip() or u["username"]
        for u in get_user_model()
        .objects.filter(id__in=set(user_ids))
        .values("id", "username", "first_name", "last_name")
    }
    agencies = dict(
        Agency.objects.filter(id__in={a for a in agency_ids if a}).values_list("id", "name")
    )
    return users, agencies


def emergency_access_by_user(*, staff: StaffMember, start: datetime, end: datetime) -> list[dict]:
    """Per person, over the families `staff`'s agency leads, between `start` and `end`: the
    emergency grants they took (`grants`), how many a lead-agency manager has reviewed and how
    many not yet, when the latest started, and their reads under emergency access. Most
    unreviewed first."""
    families = Family.objects.filter(access.access_log_families_q(staff))
    grants = (
        EmergencyAccess.objects.filter(
            family__in=families, granted_at__gte=start, granted_at__lt=end
        )
        .values("user_id", "agency_id")
        .annotate(
            grants=Count("id"),
            unreviewed=Count("id", filter=Q(reviewed_at__isnull=True)),
            latest=Max("granted_at"),
        )
    )
    reads = (
        _led_events(staff)
        .filter(at__gte=start, at__lt=end, action="read", outcome="allowed")
        .filter(Q(footing="emergency") | Q(emergency=True))
        .values("user_id", "agency_id")
        .annotate(reads=Count("id"), latest_read=Max("at"))
    )
    rows: dict[tuple, dict] = {}
    empty = {"grants": 0, "unreviewed": 0, "latest": None, "reads": 0, "latest_read": None}
    for row in grants:
        key = (row["user_id"], row["agency_id"])
        rows[key] = {**empty, **row}
    for row in reads:
        key = (row["user_id"], row["agency_id"])
        rows.setdefault(key, {**empty, "user_id": key[0], "agency_id": key[1]}).update(
            reads=row["reads"], latest_read=row["latest_read"]
        )
    users, agencies = _names([k[0] for k in rows], [k[1] for k in rows])
    out = []
    for (user_id, agency_id), row in rows.items():
        out.append(
            {
                "user": user_id,
                "user_name": users.get(user_id, ""),
                "agency": agency_id,
                "agency_name": agencies.get(agency_id, ""),
                "grants": row["grants"],
                "reviewed": row["grants"] - row["unreviewed"],
                "unreviewed": row["unreviewed"],
                "latest_granted_at": row["latest"],
                "reads": row["reads"],
                "latest_read_at": row["latest_read"],
            }
        )

    def latest(row) -> datetime:
        moments = [m for m in (row["latest_granted_at"], row["latest_read_at"]) if m]
        return max(moments, default=start)

    out.sort(key=latest, reverse=True)
    out.sort(key=lambda r: -r["unreviewed"])  # stable: the latest first among equals
    return out


def reads_outside_caseload(*, staff: StaffMember, start: datetime, end: datetime):
    """The reads outside one's caseload or team (`access.reads_outside_caseload_q`) of the
    families `staff`'s agency leads, between `start` and `end`, newest first."""
    events = (
        _led_events(staff)
        .filter(at__gte=start, at__lt=end)
        .filter(access.reads_outside_caseload_q())
    )
    return access_event_rows(events).order_by("-at", "-id")


def burst_settings() -> tuple[int, int]:
    """(N, M): a burst is a person reading more than N distinct families within M minutes."""
    return settings.BURST_READ_FAMILIES, settings.BURST_READ_MINUTES


def read_bursts(*, staff: StaffMember, start: datetime, end: datetime) -> list[dict]:
    """Bursts of reads of the families `staff`'s agency leads: a person who read more than N
    distinct families within any M minutes (`burst_settings`). Consecutive windows over the
    threshold are one burst, from its first read to its last, with the number of distinct
    families read in it; bursts that end between `start` and `end`, newest first.

    Counted over allowed reads (action `read`, outcome `allowed`) on any footing, in one pass
    over the reads ordered by person and time (a window of M minutes per person in memory)."""
    most, minutes = burst_settings()
    window = timedelta(minutes=minutes)
    rows = (
        _led_events(staff)
        .filter(at__gte=start - window, at__lt=end, action="read", outcome="allowed")
        .order_by("user_id", "at", "id")
        .values_list("user_id", "agency_id", "at", "family_id")
    )
    bursts: list[dict] = []
    user_id = None
    recent: deque = deque()
    counts: Counter = Counter()
    burst: dict | None = None

    def close() -> None:
        nonlocal burst
        if burst is not None and burst["ended_at"] >= start:
            burst["families"] = len(burst.pop("family_ids"))
            bursts.append(burst)
        burst = None

    for reader, agency_id, at, family_id in rows.iterator(chunk_size=5000):
        if reader != user_id:
            close()
            user_id, recent, counts = reader, deque(), Counter()
        recent.append((at, family_id))
        counts[family_id] += 1
        while recent[0][0] < at - window:
            _, gone = recent.popleft()
            counts[gone] -= 1
            if not counts[gone]:
                del counts[gone]
        if len(counts) > most:
            if burst is None:
                burst = {
                    "user": reader,
                    "agency": agency_id,
                    "started_at": recent[0][0],
                    "family_ids": set(),
                }
            burst["ended_at"] = at
            burst["family_ids"].update(counts)
        else:
            close()
    close()
    users, agencies = _names([b["user"] for b in bursts], [b["agency"] for b in bursts])
    for b in bursts:
        b["user_name"] = users.get(b["user"], "")
        b["agency_name"] = agencies.get(b["agency"], "")
    bursts.sort(key=lambda b: b["ended_at"], reverse=True)
    return bursts


def unusual_access(*, staff: StaffMember, start: datetime, end: datetime) -> dict:
    """The unusual access to the families `staff`'s agency leads, between `start` and `end`:
    emergency access by person, the reads outside one's caseload or team (their number and the
    newest OUTSIDE_SHOWN), and bursts of reads."""
    if not access.may_read_unusual_access(staff):
        raise access.Forbidden("Unusual access is for managers and data protection officers.")
    outside = reads_outside_caseload(staff=staff, start=start, end=end)
    most, minutes = burst_settings()
    return {
        "start": start,
        "end": end,
        "emergency": emergency_access_by_user(staff=staff, start=start, end=end),
        "outside_count": outside.count(),
        "outside": list(outside[:OUTSIDE_SHOWN]),
        "bursts": read_bursts(staff=staff, start=start, end=end),
        "burst_families": most,
        "burst_minutes": minutes,
    }


def agency_choices() -> list[tuple[int, str]]:
    """Every agency by name, for the agency-wide log's filter."""
    return list(Agency.objects.order_by("name").values_list("id", "name"))


def person_of_family(*, person_id: int, family: Family) -> Person | None:
    """The member `person_id` of the family (which the caller has checked), or None."""
    if not 0 < int(person_id) < 2**63:
        return None
    return Person.objects.filter(id=person_id, family_id=family.id).first()
