"""Reads for reports: the jobs (each its requester's), and the figures each kind shows.

Who sees what is decided by cases/access.py: a council-wide report covers the families of the
requester's agency as lead among those they see (`cases.selectors.lead_families`), activity
among the entries they see (`access.restricted_entries_q`); a family summary reads the family
through the same selectors as the family page and the API. Figures are computed in SQL
(aggregates, window functions); the rows are streamed, never loaded family by family.

A subject access export reads one member's family whole (`subject_access`), restricted entries
included; the service has asked `access.may_request_subject_access` first. Its access events
are the rows the access log's API shows (`access_event_rows`, read by the accountability app
too), so the two say the same.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.http import Http404

from agencies.models import Agency
from audit.models import AccessEvent
from audit.models import Footing as AccessFooting
from cases import access
from cases import selectors as case_selectors
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
from consent.models import AccessPeriod, BasisKind, SharingBasis
from reports.models import COUNCIL_WIDE, ClaimFramework, ReportJob, ReportKind

# --- the jobs -------------------------------------------------------------------------------------


def report_list(*, user) -> QuerySet[ReportJob]:
    """The user's own reports, newest first; council-wide ones only while they may ask for them
    (`access.report_visible_to`)."""
    staff = access.case_staff(user)
    if not access.may_request_report(staff, council_wide=False):
        return ReportJob.objects.none()
    jobs = ReportJob.objects.filter(requested_by_id=user.id).select_related("family")
    if not access.may_request_report(staff, council_wide=True):
        jobs = jobs.exclude(kind__in=COUNCIL_WIDE)
    # Subject access exports only while the requester may still ask for them.
    jobs = jobs.exclude(
        Q(kind=ReportKind.SUBJECT_ACCESS)
        & ~access.subject_access_families_q(staff, prefix="family__")
    )
    return jobs.order_by("-id")


def report_get(*, user, report_id: int) -> ReportJob:
    """The report if it is the user's to see (`access.report_visible_to`, and for a family
    summary the family still visible to them), else 404: another person's report, like one that
    does not exist."""
    if access.case_staff(user) is None or not 0 < int(report_id) < 2**63:
        raise Http404
    # The job alone first: its family is read only once the report is known to be the user's.
    job = ReportJob.objects.filter(id=report_id).first()
    if job is None or not access.report_visible_to(
        user, requested_by_id=job.requested_by_id, council_wide=job.council_wide
    ):
        raise Http404
    if job.family_id is not None:
        family, perms = access.family_with_permissions(user, job.family_id)
        if access.VIEW not in perms:
            raise Http404
        job.family_perms = perms  # what the reader's sight of the family stands on (access log)
        if job.kind == ReportKind.SUBJECT_ACCESS and not access.may_request_subject_access(
            staff=access.case_staff(user), family=family, perms=perms
        ):
            raise Http404
    return job


def person_of_family_exists(*, person_id, family_id: int) -> bool:
    """Whether `person_id` names a member of the family (the caller has checked the family)."""
    if person_id is None or not 0 < int(person_id) < 2**63:
        return False
    return Person.objects.filter(id=person_id, family_id=family_id).exists()


def framework_for(on: date) -> ClaimFramework | None:
    """The results-claim framework in force on `on` (the latest that started by then)."""
    return (
        ClaimFramework.objects.filter(in_force_from__lte=on)
        .filter(Q(in_force_to__isnull=True) | Q(in_force_to__gte=on))
        .order_by("-in_force_from")
        .first()
    )


# --- shared pieces -------------------------------------------------------------------------------


def years_before(day: date, years: int) -> date:
    """The date `years` years before `day`; 28 February for a 29 February that year lacks (so a
    person born on 29 February reaches an age on 1 March in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def months_between(start: date, end: date) -> list[date]:
    """The first day of each month from `start`'s to `end`'s."""
    out, month = [], start.replace(day=1)
    while month <= end:
        out.append(month)
        month = month.replace(day=calendar.monthrange(month.year, month.month)[1]) + timedelta(
            days=1
        )
    return out


class DaysBetween(Func):
    """Whole days from the second date expression to the first."""

    output_field = IntegerField()
    arity = 2

    def as_sql(self, compiler, connection, **extra):  # PostgreSQL: date - date is days
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return f"({end} - {start})", (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra):
        end, end_params = compiler.compile(self.source_expressions[0])
        start, start_params = compiler.compile(self.source_expressions[1])
        return (
            f"CAST(ROUND(julianday({end}) - julianday({start})) AS INTEGER)",
            (*end_params, *start_params),
        )


def _count(qs: QuerySet) -> Subquery:
    """A correlated COUNT of `qs` (filtered on OuterRef("pk")), 0 when none."""
    counted = qs.order_by().values("family_id").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _first(qs: QuerySet, field: str, *, last: bool = False) -> Subquery:
    agg = Max(field) if last else Min(field)
    return Subquery(qs.order_by().values("family_id").annotate(v=agg).values("v"))


def council_families(*, user) -> QuerySet[Family]:
    """The families of the user's agency as lead, among those the user sees."""
    return Family.objects.filter(
        id__in=case_selectors.lead_families(user=user, status=None).order_by().values("id")
    )


def in_period(families: QuerySet[Family], start: date, end: date) -> QuerySet[Family]:
    """Families open at some time between `start` and `end`."""
    return families.filter(opened_on__lte=end).filter(
        Q(closed_on__isnull=True) | Q(closed_on__gte=start)
    )


def median_days(needs: QuerySet[Need], *, by: str | None) -> dict:
    """The median of whole days from identification to achievement of `needs`, per value of
    `by` (a column of the need; None: all together, under the key None). Window functions rank
    the days within each group; the middle one or two rows are averaged in SQL."""
    group = F(by) if by else Value(0)
    ranked = needs.annotate(
        grp=group,
        days=DaysBetween(F("achieved_on"), F("identified_on")),
        rn=Window(
            RowNumber(),
            partition_by=[group],
            order_by=[DaysBetween(F("achieved_on"), F("identified_on")).asc(), F("id").asc()],
        ),
        total=Window(Count("id"), partition_by=[group]),
    ).values("grp", "days", "rn", "total")
    sql, params = ranked.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.grp, AVG(r.days) FROM ({sql}) r"
            f" WHERE 2 * r.rn >= r.total AND 2 * r.rn <= r.total + 2 GROUP BY r.grp",
            params,
        )
        rows = cursor.fetchall()
    return {(grp if by else None): float(value) for grp, value in rows if value is not None}


# --- caseload ------------------------------------------------------------------------------------


def caseload_figures(*, user, start: date, end: date) -> dict:
    """Families by status, level of need, key worker and agency involvement; contacts and
    interventions per agency and month of the period."""
    families = in_period(council_families(user=user), start, end)
    scope = families.values("id")
    by_status = dict(
        families.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    by_level = dict(
        families.order_by()
        .values_list("level_of_need")
        .annotate(n=Count("id"))
        .values_list("level_of_need", "n")
    )
    key_workers = list(
        families.order_by()
        .values("key_worker_id", "key_worker__first_name", "key_worker__last_name")
        .annotate(
            open=Count("id", filter=Q(status="open")),
            closed=Count("id", filter=Q(status="closed")),
        )
        .order_by("key_worker__last_name", "key_worker__first_name", "key_worker_id")
    )
    involvement = list(
        Involvement.objects.filter(family_id__in=scope, started_on__lte=end)
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gte=start))
        .order_by()
        .values("agency__name")
        .annotate(families=Count("family_id", distinct=True))
        .order_by("-families", "agency__name")
    )
    seen = access.restricted_entries_q(user)
    contacts = list(
        Contact.objects.filter(
            family_id__in=scope,
            occurred_at__date__gte=start,
            occurred_at__date__lte=end,
        )
        .filter(seen)
        .order_by()
        .values("agency__name", month=TruncMonth("occurred_at"))
        .annotate(n=Count("id"))
    )
    interventions = list(
        Intervention.objects.filter(family_id__in=scope, started_on__gte=start, started_on__lte=end)
        .filter(seen)
        .order_by()
        .values("agency__name", month=TruncMonth("started_on"))
        .annotate(n=Count("id"))
    )
    activity: dict[tuple[str, date], dict] = {}
    for rows, what in ((contacts, "contacts"), (interventions, "interventions")):
        for row in rows:
            month = row["month"]
            month = month.date() if hasattr(month, "date") else month
            cell = activity.setdefault(
                (row["agency__name"], month), {"contacts": 0, "interventions": 0}
            )
            cell[what] += row["n"]
    return {
        "families": sum(by_status.values()),
        "by_status": [(s, by_status.get(s, 0)) for s in ("open", "closed")],
        "by_level": [
            (level, by_level.get(level, 0)) for level in (1, 2, 3, 4, None) if level in by_level
        ],
        "by_key_worker": [
            {
                "name": " ".join(
                    p for p in (r["key_worker__first_name"], r["key_worker__last_name"]) if p
                )
                or (
                    "No key worker" if r["key_worker_id"] is None else f"User {r['key_worker_id']}"
                ),
                "open": r["open"],
                "closed": r["closed"],
            }
            for r in key_workers
        ],
        "by_agency": [(r["agency__name"], r["families"]) for r in involvement],
        "activity": [
            {"agency": agency, "month": month, **counts}
            for (agency, month), counts in sorted(
                activity.items(), key=lambda kv: (kv[0][1], kv[0][0])
            )
        ],
    }


# --- outcomes ------------------------------------------------------------------------------------


def outcome_figures(*, user, start: date, end: date, framework: ClaimFramework) -> dict:
    """Per headline outcome of the framework: needs identified by the end of the period, in
    progress then, achieved by then, achieved and sustained (achieved at least the framework's
    weeks before the end); the median days from identification to achievement; and per month
    of the period, needs identified and achieved."""
    families = in_period(council_families(user=user), start, end)
    needs = Need.objects.filter(family_id__in=families.values("id"), identified_on__lte=end)
    achieved_q = Q(status="achieved", achieved_on__lte=end)
    sustained_by = end - timedelta(weeks=framework.sustained_weeks)
    rows = {
        r["outcome_id"]: r
        for r in needs.order_by()
        .values("outcome_id")
        .annotate(
            identified=Count("id"),
            in_progress=Count("id", filter=~achieved_q & ~Q(status="closed")),
            achieved=Count("id", filter=achieved_q),
            sustained=Count("id", filter=achieved_q & Q(achieved_on__lte=sustained_by)),
        )
    }
    achieved = needs.filter(achieved_q)
    medians = median_days(achieved, by="outcome_id")
    overall_median = median_days(achieved, by=None).get(None)
    outcomes = HeadlineOutcome.objects.filter(
        framework_version=framework.version, active=True
    ).order_by("position")
    table = []
    for outcome in outcomes:
        row = rows.get(outcome.id, {})
        table.append(
            {
                "code": outcome.code,
                "label": outcome.label,
                "identified": row.get("identified", 0),
                "in_progress": row.get("in_progress", 0),
                "achieved": row.get("achieved", 0),
                "sustained": row.get("sustained", 0),
                "median_days": medians.get(outcome.id),
            }
        )
    identified_by_month = dict(
        needs.filter(identified_on__gte=start)
        .order_by()
        .values_list(TruncMonth("identified_on"))
        .annotate(n=Count("id"))
    )
    achieved_by_month = dict(
        achieved.filter(achieved_on__gte=start)
        .order_by()
        .values_list(TruncMonth("achieved_on"))
        .annotate(n=Count("id"))
    )
    trend = [
        {
            "month": month,
            "identified": identified_by_month.get(month, 0),
            "achieved": achieved_by_month.get(month, 0),
        }
        for month in months_between(start, end)
    ]
    totals = {
        key: sum(r[key] for r in table)
        for key in ("identified", "in_progress", "achieved", "sustained")
    }
    return {
        "outcomes": table,
        "totals": {**totals, "median_days": overall_median},
        "trend": trend,
        "sustained_weeks": framework.sustained_weeks,
    }


# --- results claims ------------------------------------------------------------------------------

COND_CHILD, COND_OUTCOMES, COND_KEY_WORKER, COND_ASSESSMENT, COND_PLAN, COND_ACHIEVED = (
    "a",
    "b",
    "c",
    "d",
    "e",
    "f",
)
CONDITIONS = {
    COND_CHILD: "A dependent child or an expectant parent",
    COND_OUTCOMES: "Needs under enough headline outcomes",
    COND_KEY_WORKER: "A key worker",
    COND_ASSESSMENT: "A whole-family assessment",
    COND_PLAN: "Every need in the plan",
    COND_ACHIEVED: "Every need achieved and sustained",
}


def claim_rows(*, user, on: date, framework: ClaimFramework) -> QuerySet[Family]:
    """Every family of the user's agency as lead (open or closed), by reference, each annotated
    in ONE statement with what the claim rule is judged from as at `on` (`claim_verdict`), and
    with the same figures over the whole record as it stands, for the date from which a family
    would be claimable if nothing changes."""
    child_cutoff = years_before(on, framework.dependent_child_under_years)
    persons = Person.objects.filter(family_id=OuterRef("pk"))
    needs = Need.objects.filter(family_id=OuterRef("pk"))
    needs_at = needs.filter(identified_on__lte=on)
    linked = PlanAction.needs.through.objects.filter(need_id=OuterRef("id"))
    unlinked = needs.filter(~Exists(linked))
    achieved_at = Q(status="achieved", achieved_on__lte=on)
    assessments = Assessment.objects.filter(family_id=OuterRef("pk"))
    outcomes_at = (
        needs_at.order_by().values("family_id").annotate(n=Count("outcome_id", distinct=True))
    )
    outcomes_all = (
        needs.order_by().values("family_id").annotate(n=Count("outcome_id", distinct=True))
    )
    zero = Value(0)
    return (
        council_families(user=user)
        .select_related("key_worker")
        .only(
            "id",
            "reference",
            "name",
            "status",
            "key_worker_id",
            "key_worker__first_name",
            "key_worker__last_name",
            "key_worker__username",
        )
        .annotate(
            children=_count(persons.filter(date_of_birth__gt=child_cutoff, date_of_birth__lte=on)),
            expectant=_count(
                persons.filter(
                    expected_birth_on__gt=on,
                    expected_birth_on__lte=on + timedelta(days=framework.pregnancy_days),
                )
            ),
            youngest_born=_first(persons.filter(date_of_birth__lte=on), "date_of_birth", last=True),
            born_after=_first(persons.filter(date_of_birth__gt=on), "date_of_birth"),
            latest_expected=_first(persons, "expected_birth_on", last=True),
            outcomes=Coalesce(Subquery(outcomes_at.values("n"), output_field=IntegerField()), zero),
            outcomes_all=Coalesce(
                Subquery(outcomes_all.values("n"), output_field=IntegerField()), zero
            ),
            needs_at=_count(needs_at),
            unlinked_at=_count(unlinked.filter(identified_on__lte=on)),
            unlinked_all=_count(unlinked),
            unachieved_at=_count(needs_at.exclude(achieved_at)),
            unachieved_all=_count(needs.exclude(status="achieved")),
            latest_achieved_at=_first(needs_at.filter(achieved_at), "achieved_on", last=True),
            latest_achieved_all=_first(needs.filter(status="achieved"), "achieved_on", last=True),
            latest_identified_all=_first(needs, "identified_on", last=True),
            assessed_on=_first(assessments.filter(completed_on__lte=on), "completed_on", last=True),
            first_assessed_on=_first(assessments, "completed_on"),
        )
        .order_by("reference")
    )


@dataclass(frozen=True)
class Verdict:
    eligible: bool
    condition: str | None  # the first unmet condition, "a"-"f"
    reason: str  # empty when eligible, else that condition in plain words
    claimable_from: date | None  # where only time stands in the way


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def claim_verdict(row, *, on: date, framework: ClaimFramework) -> Verdict:
    """The 2022 framework's rule, conditions (a) to (f) in order, on one row of `claim_rows`."""
    weeks = framework.sustained_weeks
    sustained_by = on - timedelta(weeks=weeks)
    first = None
    if not row.children and not row.expectant:
        first = (
            COND_CHILD,
            f"No dependent child (a member under {framework.dependent_child_under_years} on"
            f" {_day(on)}) and no expectant parent",
        )
    elif row.outcomes < framework.min_outcomes:
        first = (
            COND_OUTCOMES,
            f"Needs under {_plural(row.outcomes, 'headline outcome', 'headline outcomes')}"
            f" by {_day(on)}: at least {framework.min_outcomes} are needed",
        )
    elif not row.key_worker_id:
        first = (COND_KEY_WORKER, "No key worker")
    elif row.assessed_on is None:
        first = (
            COND_ASSESSMENT,
            f"No whole-family assessment completed on or before {_day(on)}"
            + (
                f" (the first was completed on {_day(row.first_assessed_on)})"
                if row.first_assessed_on
                else ""
            ),
        )
    elif row.unlinked_at:
        first = (
            COND_PLAN,
            f"{_plural(row.unlinked_at, 'need is', 'needs are')} not linked to any plan action",
        )
    elif row.unachieved_at:
        first = (
            COND_ACHIEVED,
            f"{_plural(row.unachieved_at, 'need was', 'needs were')} not achieved by {_day(on)}",
        )
    elif row.latest_achieved_at and row.latest_achieved_at > sustained_by:
        first = (
            COND_ACHIEVED,
            f"A need was achieved on {_day(row.latest_achieved_at)}, less than {weeks} weeks"
            f" before {_day(on)}",
        )
    if first is None:
        return Verdict(True, None, "", None)
    return Verdict(False, first[0], first[1], _claimable_from(row, on=on, framework=framework))


def _claimable_from(row, *, on: date, framework: ClaimFramework) -> date | None:
    """The first day after `on` from which the family would meet the rule if its record does not
    change (every need it has now achieved, in the plan, under enough outcomes, assessed, with a
    key worker, and a dependent child or expectant parent then); None when time alone will not
    do it."""
    if (
        not row.key_worker_id
        or row.first_assessed_on is None
        or row.outcomes_all < framework.min_outcomes
        or row.unlinked_all
        or row.unachieved_all
    ):
        return None
    candidates = [on + timedelta(days=1), row.first_assessed_on]
    if row.latest_achieved_all:
        candidates.append(row.latest_achieved_all + timedelta(weeks=framework.sustained_weeks))
    if row.latest_identified_all:
        candidates.append(row.latest_identified_all)
    when = max(candidates)
    # A member born after `on` is a dependent child from their birth, not before.
    child = (
        row.youngest_born is not None
        and row.youngest_born > years_before(when, framework.dependent_child_under_years)
    ) or (row.born_after is not None and row.born_after <= when)
    expecting = row.latest_expected is not None and (
        when < row.latest_expected <= when + timedelta(days=framework.pregnancy_days)
    )
    if child or expecting:
        return when
    return row.born_after if row.born_after is not None and row.born_after > when else None


def claim_evidence(*, user, family_ids: list[int], on: date) -> dict[int, dict]:
    """Spot-check evidence for the families `family_ids` (eligible ones), as at `on`, in four
    statements whatever their number: needs with outcome and dates, the latest assessment by
    then, the plan (actions with owner and the needs they cover), the team's agencies, and a
    chronology extract (the last CHRONOLOGY_EXTRACT entries by then that the user sees)."""
    out: dict[int, dict] = {
        fid: {"needs": [], "assessment": None, "actions": [], "agencies": [], "chronology": []}
        for fid in family_ids
    }
    if not family_ids:
        return out
    for need in (
        Need.objects.filter(family_id__in=family_ids, identified_on__lte=on)
        .order_by("family_id", "identified_on", "id")
        .values(
            "family_id",
            "id",
            "outcome__code",
            "outcome__label",
            "descriptor",
            "identified_on",
            "achieved_on",
        )
        .iterator(chunk_size=2000)
    ):
        out[need["family_id"]]["needs"].append(need)
    latest = Assessment.objects.filter(family_id=OuterRef("family_id"), completed_on__lte=on)
    for assessment in (
        Assessment.objects.filter(family_id__in=family_ids, completed_on__lte=on)
        .filter(id=Subquery(latest.order_by("-completed_on", "-id").values("id")[:1]))
        .values("family_id", "completed_on", "summary", "agency__name")
        .iterator(chunk_size=2000)
    ):
        out[assessment["family_id"]]["assessment"] = assessment
    for action in (
        PlanAction.objects.filter(family_id__in=family_ids)
        .annotate(needs_covered=Count("needs"))
        .order_by("family_id", "due_on", "id")
        .values(
            "family_id", "description", "owner_agency__name", "status", "due_on", "needs_covered"
        )
        .iterator(chunk_size=2000)
    ):
        out[action["family_id"]]["actions"].append(action)
    for involvement in (
        Involvement.objects.filter(family_id__in=family_ids, started_on__lte=on)
        .order_by("family_id", "agency__name")
        .values("family_id", "agency__name", "started_on", "ended_on")
        .iterator(chunk_size=2000)
    ):
        out[involvement["family_id"]]["agencies"].append(involvement)
    extract = (
        ChronologyEntry.objects.filter(family_id__in=family_ids, at__date__lte=on)
        .filter(access.restricted_entries_q(user))
        .annotate(
            rn=Window(
                RowNumber(),
                partition_by=[F("family_id")],
                order_by=[F("at").desc(), F("id").desc()],
            )
        )
        .filter(rn__lte=CHRONOLOGY_EXTRACT)
        .order_by("family_id", "-at", "-id")
        .values("family_id", "at", "type", "agency__name", "summary")
    )
    for entry in extract.iterator(chunk_size=2000):
        out[entry["family_id"]]["chronology"].append(entry)
    return out


CHRONOLOGY_EXTRACT = 8


# --- one family's summary ------------------------------------------------------------------------


def family_summary(*, user, family_id: int, start: date | None, end: date | None) -> dict:
    """What the family page shows the user, and its chronology (within the period when one is
    given): the same selectors as the page and the API, so only what the user may see. 404
    (Http404) when the family is not visible to the user."""
    family = case_selectors.family_get(user=user, family_id=family_id)
    family = case_selectors.family_detail_prefetch(family, sharing_bases=False)
    chronology = case_selectors.chronology_list(user=user, family=family).order_by("at", "id")
    interventions = case_selectors.intervention_list(user=user, family=family)
    contacts = case_selectors.contact_list(user=user, family=family)
    if start is not None:
        chronology = chronology.filter(at__date__gte=start)
        interventions = interventions.filter(started_on__gte=start)
        contacts = contacts.filter(occurred_at__date__gte=start)
    if end is not None:
        chronology = chronology.filter(at__date__lte=end)
        interventions = interventions.filter(started_on__lte=end)
        contacts = contacts.filter(occurred_at__date__lte=end)
    return {
        "family": family,
        "members": family.detail_members,
        "team": family.active_team,
        "needs": family.detail_needs,
        "actions": list(case_selectors.plan_action_list_for_page(family=family)),
        "assessments": list(case_selectors.assessment_list_for_page(family=family)),
        "interventions": list(interventions.order_by("started_on", "id")),
        "contacts": list(contacts.order_by("occurred_at", "id")),
        "chronology": chronology,
    }


# --- the access log, and one person's subject access export ---------------------------------------

FOOTING_LABELS = dict(AccessFooting.choices)
REFUSED = "None: refused"
NOT_RECORDED = "Not recorded"


def footing_label(footing: str, outcome: str) -> str:
    """What an access event's footing says in words: a refused attempt had none."""
    if outcome == "denied":
        return REFUSED
    return FOOTING_LABELS.get(footing or "", NOT_RECORDED)


def basis_label(kind: str | None, given_on: date | None) -> str:
    """A lawful basis by its kind and date, e.g. "Consent recorded 3 Mar 2026"."""
    if not kind:
        return ""
    label = BasisKind(kind).label if kind in BasisKind.values else kind
    return f"{label} recorded {given_on.day} {given_on:%b %Y}" if given_on else label


def family_access_events(*, family: Family) -> QuerySet[AccessEvent]:
    """Every access event on the family (refused attempts included), newest first. Only from the
    family's creation: an attempt on its id before it existed was not about it."""
    return AccessEvent.objects.filter(family_id=family.id, at__gte=family.created_at).order_by(
        "-at", "-id"
    )


def access_event_rows(events: QuerySet[AccessEvent]) -> QuerySet[AccessEvent]:
    """`events` with what a row of the access log shows, in the same statement: the person's
    name, their agency's name, the family's reference and the basis's kind and date (`basis_label`
    makes its words)."""

    def first(queryset, field):
        return Subquery(queryset.values(field)[:1])

    basis = SharingBasis.objects.filter(id=OuterRef("basis_id"))
    return events.annotate(
        user_username=F("user__username"),
        user_first_name=F("user__first_name"),
        user_last_name=F("user__last_name"),
        agency_name=first(Agency.objects.filter(id=OuterRef("agency_id")), "name"),
        family_reference=first(Family.objects.filter(id=OuterRef("family_id")), "reference"),
        basis_kind=first(basis, "basis"),
        basis_given_on=first(basis, "given_on"),
    )


def access_event_user_name(event) -> str:
    full = f"{event.user_first_name} {event.user_last_name}".strip()
    return full or event.user_username


def subject_access(*, person_id: int, family_id: int) -> dict:
    """Everything held on one member of a family, read whole: their details; the needs about
    them or the whole family and the plan actions for those (not another member's own); every
    intervention, contact and chronology entry of the family, restricted ones included (the
    person is their subject), each marked when it names them; the lawful bases, the disclosure
    history (who had access, on what footing, from when to when) and every access event. The
    caller has asked `access.may_request_subject_access` (the report service, at the build)."""
    family = Family.objects.select_related("lead_agency", "key_worker").get(id=family_id)
    person = Person.objects.get(id=person_id, family_id=family.id)
    needs = (
        Need.objects.filter(family=family)
        .filter(Q(person_id=person.id) | Q(person__isnull=True))
        .select_related("outcome", "agency")
        .order_by("identified_on", "id")
    )
    needs_through = PlanAction.needs.through.objects.filter(planaction_id=OuterRef("id"))
    actions = (
        PlanAction.objects.filter(family=family)
        .filter(Exists(needs_through.filter(need__in=needs)) | ~Exists(needs_through))
        .select_related("owner_agency")
        .order_by("due_on", "id")
    )

    def names_them(model):
        through = model.persons.through
        column = f"{model._meta.model_name}_id"
        return Exists(through.objects.filter(**{column: OuterRef("id")}, person_id=person.id))

    interventions = (
        Intervention.objects.filter(family=family)
        .annotate(about_them=names_them(Intervention))
        .select_related("agency")
        .order_by("started_on", "id")
    )
    contacts = (
        Contact.objects.filter(family=family)
        .annotate(about_them=names_them(Contact))
        .select_related("agency")
        .order_by("occurred_at", "id")
    )
    chronology = case_selectors.chronology_qs().filter(family=family).order_by("at", "id")
    given_by = SharingBasis.given_by.through.objects.filter(
        sharingbasis_id=OuterRef("id"), person_id=person.id
    )
    bases = (
        SharingBasis.objects.filter(family=family)
        .annotate(given_by_them=Exists(given_by))
        .prefetch_related("agencies")
        .order_by("given_on", "id")
    )
    periods = (
        AccessPeriod.objects.filter(family=family)
        .select_related("agency", "user", "basis")
        .order_by("started_at", "id")
    )
    events = access_event_rows(family_access_events(family=family)).order_by("at", "id")
    return {
        "family": family,
        "person": person,
        "needs": list(needs),
        "actions": list(actions),
        "interventions": interventions,
        "contacts": contacts,
        "chronology": chronology,
        "bases": list(bases),
        "periods": list(periods),
        "events": events,
    }
