"""What each kind of report holds, written as PDF or CSV with the same figures.

A builder takes the job, the requester (whose sight the report has) and the open output file,
reads its figures through reports.selectors and reports its progress (0-1) as it goes. The CSV
is written row by row as the rows are read; the PDF lays out the same rows.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date

from django.utils import timezone

from cases.views import CHRONOLOGY_TYPES
from reports import pdf, selectors
from reports.models import ReportFormat, ReportJob, ReportKind

Progress = Callable[[float], None]


def _day(d: date | None) -> str:
    return "" if d is None else f"{d.day} {d:%B %Y}"


def _plan_table(actions) -> Iterator:
    """A family's plan actions as a table: what, owner agency, due date, status."""
    return pdf.table(
        ["Action", "Owner", "Due", "Status"],
        [
            (
                pdf.text(a.description),
                pdf.text(a.owner_agency.name),
                _day(a.due_on),
                a.get_status_display(),
            )
            for a in actions
        ],
        widths=[380, 170, 90, 80],
    )


def _iso(d) -> str:
    return "" if d is None else d.isoformat()


def _month(d: date) -> str:
    return f"{d:%B %Y}"


def _median(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _safe(value) -> str:
    """A text cell a spreadsheet will not read as a formula."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _person_name(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def _meta(job: ReportJob, user, title: str, subtitle: str, lines=()) -> pdf.Meta:
    return pdf.Meta(
        title=title,
        subtitle=subtitle,
        agency=job.agency.name,
        requested_by=_person_name(user),
        generated_at=timezone.localtime(),
        lines=tuple(lines),
    )


def _period(job: ReportJob) -> str:
    return f"{_day(job.period_start)} to {_day(job.period_end)}"


class _Csv:
    def __init__(self, out):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text)

    def row(self, *values) -> None:
        self.writer.writerow([v if isinstance(v, int | float) else _safe(v) for v in values])

    def close(self) -> None:
        self.text.flush()
        self.text.detach()


# --- caseload --------------------------------------------------------------------------------


def build_caseload(job: ReportJob, user, out, progress: Progress) -> None:
    data = selectors.caseload_figures(user=user, start=job.period_start, end=job.period_end)
    progress(0.6)
    levels = [
        ("Level " + str(level) if level else "Not recorded", n) for level, n in data["by_level"]
    ]
    if job.format == ReportFormat.CSV:
        w = _Csv(out)
        w.row("section", "item", "month", "measure", "value")
        w.row("families", "all", "", "families", data["families"])
        for status, n in data["by_status"]:
            w.row("families_by_status", status, "", "families", n)
        for label, n in levels:
            w.row("families_by_level_of_need", label, "", "families", n)
        for row in data["by_key_worker"]:
            w.row("families_by_key_worker", row["name"], "", "open", row["open"])
            w.row("families_by_key_worker", row["name"], "", "closed", row["closed"])
        for agency, n in data["by_agency"]:
            w.row("families_by_agency_involved", agency, "", "families", n)
        for row in data["activity"]:
            for measure in ("contacts", "interventions"):
                w.row(
                    "activity", row["agency"], row["month"].strftime("%Y-%m"), measure, row[measure]
                )
        w.close()
        return
    story = [
        pdf.heading("Families"),
        pdf.para(f"Families open at some time in the period: {data['families']}"),
        *pdf.table(["Status", "Families"], [(s.capitalize(), n) for s, n in data["by_status"]]),
        pdf.bar_chart(
            "Families by level of need",
            [label for label, _ in levels],
            [("Families", [n for _, n in levels])],
        ),
        *pdf.table(["Level of need", "Families"], levels),
        pdf.heading("Families by key worker"),
        *pdf.table(
            ["Key worker", "Open", "Closed"],
            [(r["name"], r["open"], r["closed"]) for r in data["by_key_worker"]],
        ),
        pdf.heading("Agencies involved"),
        *pdf.table(["Agency", "Families"], data["by_agency"]),
        pdf.heading("Contacts and interventions per agency and month"),
        *pdf.table(
            ["Month", "Agency", "Contacts", "Interventions"],
            [
                (_month(r["month"]), pdf.text(r["agency"]), r["contacts"], r["interventions"])
                for r in data["activity"]
            ],
            widths=[80, 300, 80, 80],
        ),
    ]
    pdf.write(out, _meta(job, user, "Caseload report", _period(job)), story)


# --- outcomes --------------------------------------------------------------------------------


def build_outcomes(job: ReportJob, user, out, progress: Progress) -> None:
    framework = selectors.framework_for(job.period_end)
    data = selectors.outcome_figures(
        user=user, start=job.period_start, end=job.period_end, framework=framework
    )
    progress(0.6)
    weeks = data["sustained_weeks"]
    if job.format == ReportFormat.CSV:
        w = _Csv(out)
        w.row("section", "item", "month", "measure", "value")
        for row in [*data["outcomes"], {"code": "all", **data["totals"]}]:
            for measure in ("identified", "in_progress", "achieved", "sustained"):
                w.row("outcome", row["code"], "", measure, row[measure])
            w.row("outcome", row["code"], "", "median_days_to_achieve", _median(row["median_days"]))
        for row in data["trend"]:
            for measure in ("identified", "achieved"):
                w.row("trend", "all", row["month"].strftime("%Y-%m"), measure, row[measure])
        w.close()
        return
    totals = data["totals"]
    story = [
        pdf.heading("Needs by headline outcome"),
        pdf.para(
            f"Needs identified by {_day(job.period_end)} in families open during the period;"
            f" in progress and achieved as at that date; sustained: achieved at least {weeks}"
            " weeks before it. Median: whole days from identification to achievement."
        ),
        *pdf.table(
            [
                "Headline outcome",
                "Identified",
                "In progress",
                "Achieved",
                "Sustained",
                "Median days",
            ],
            [
                (
                    pdf.text(r["label"]),
                    r["identified"],
                    r["in_progress"],
                    r["achieved"],
                    r["sustained"],
                    _median(r["median_days"]),
                )
                for r in data["outcomes"]
            ]
            + [
                (
                    "All outcomes",
                    totals["identified"],
                    totals["in_progress"],
                    totals["achieved"],
                    totals["sustained"],
                    _median(totals["median_days"]),
                )
            ],
            widths=[300, 80, 80, 80, 80, 80],
        ),
        pdf.bar_chart(
            "Needs identified and achieved by headline outcome",
            [r["code"].replace("_", " ") for r in data["outcomes"]],
            [
                ("Identified", [r["identified"] for r in data["outcomes"]]),
                ("Achieved", [r["achieved"] for r in data["outcomes"]]),
                ("Sustained", [r["sustained"] for r in data["outcomes"]]),
            ],
        ),
        pdf.heading("Trend by month"),
        *pdf.table(
            ["Month", "Needs identified", "Needs achieved"],
            [(_month(r["month"]), r["identified"], r["achieved"]) for r in data["trend"]],
        ),
        pdf.bar_chart(
            "Needs identified and achieved by month",
            [r["month"].strftime("%b %Y") for r in data["trend"]],
            [
                ("Identified", [r["identified"] for r in data["trend"]]),
                ("Achieved", [r["achieved"] for r in data["trend"]]),
            ],
        ),
    ]
    meta = _meta(job, user, "Outcomes report", _period(job), [f"Framework: {framework.label}"])
    pdf.write(out, meta, story)


# --- results claims --------------------------------------------------------------------------

CLAIM_COLUMNS = [
    "family_reference",
    "family_name",
    "status",
    "eligible",
    "reason",
    "first_unmet_condition",
    "claimable_from",
    "key_worker",
    "dependent_children",
    "expectant_parents",
    "headline_outcomes",
    "needs",
    "assessment_completed_on",
    "evidence_needs",
    "evidence_plan",
    "evidence_team",
    "evidence_chronology",
]


def build_claims(job: ReportJob, user, out, progress: Progress) -> None:
    on = job.period_end
    framework = selectors.framework_for(on)
    rows = selectors.claim_rows(user=user, on=on, framework=framework)
    total = rows.count() or 1
    judged = []
    for n, row in enumerate(rows.iterator(chunk_size=2000), start=1):
        verdict = selectors.claim_verdict(row, on=on, framework=framework)
        judged.append(
            (
                row.id,
                row.reference,
                row.name,
                row.status,
                _person_name(row.key_worker) if row.key_worker_id else "",
                row.children,
                row.expectant,
                row.outcomes,
                row.needs_at,
                row.assessed_on,
                verdict,
            )
        )
        if n % 500 == 0:
            progress(0.5 * n / total)
    progress(0.5)
    eligible_ids = [j[0] for j in judged if j[-1].eligible]
    evidence = selectors.claim_evidence(user=user, family_ids=eligible_ids, on=on)
    progress(0.6)
    if job.format == ReportFormat.CSV:
        w = _Csv(out)
        w.row(*CLAIM_COLUMNS)
        for n, (
            fid,
            ref,
            name,
            status,
            kw,
            children,
            expectant,
            outcomes,
            needs,
            assessed,
            v,
        ) in enumerate(judged, start=1):
            e = evidence.get(fid)
            w.row(
                ref,
                name,
                status,
                "yes" if v.eligible else "no",
                v.reason,
                v.condition or "",
                _iso(v.claimable_from),
                kw,
                children,
                expectant,
                outcomes,
                needs,
                _iso(assessed),
                _evidence_needs(e),
                _evidence_plan(e),
                _evidence_team(e),
                _evidence_chronology(e),
            )
            if n % 2000 == 0:
                progress(0.6 + 0.4 * n / len(judged))
        w.close()
        return
    story = _claims_story(job, framework, judged, evidence, progress)
    meta = _meta(
        job,
        user,
        "Results claims",
        f"Families judged as at {_day(on)}",
        [
            f"Framework: {framework.label}",
            f"Period: {_period(job)}",
            "Each family is judged against the rule: (a) a dependent child (a member under"
            f" {framework.dependent_child_under_years} on the date) or an expectant parent;"
            f" (b) needs under at least {framework.min_outcomes} different headline outcomes;"
            " (c) a key worker; (d) a whole-family assessment completed on or before the date;"
            " (e) every need linked to at least one plan action; (f) every need achieved, each"
            f" at least {framework.sustained_weeks} weeks before the date.",
        ],
    )
    pdf.write(out, meta, story)


def _evidence_needs(e) -> str:
    if not e:
        return ""
    return "; ".join(
        f"{n['outcome__code']}: {n['descriptor']} (identified {_iso(n['identified_on'])},"
        f" achieved {_iso(n['achieved_on'])})"
        for n in e["needs"]
    )


def _evidence_plan(e) -> str:
    if not e:
        return ""
    assessment = e["assessment"]
    parts = [f"assessment {_iso(assessment['completed_on'])}"] if assessment else []
    parts += [
        f"{a['description']} ({a['owner_agency__name']}, {a['status']}, {a['needs_covered']} needs)"
        for a in e["actions"]
    ]
    return "; ".join(parts)


def _evidence_team(e) -> str:
    return "; ".join(i["agency__name"] for i in e["agencies"]) if e else ""


def _evidence_chronology(e) -> str:
    if not e:
        return ""
    return "; ".join(
        f"{timezone.localtime(c['at']):%Y-%m-%d} {c['agency__name'] or ''}: {c['summary']}"
        for c in e["chronology"]
    )


def _claims_story(job, framework, judged, evidence, progress: Progress) -> Iterator:
    """The claims PDF's flowables, made as pdf.write lays them out: a summary, every family,
    then each eligible family's evidence (its progress is the layout's)."""
    on = job.period_end
    verdicts = [j[-1] for j in judged]
    eligible = sum(1 for v in verdicts if v.eligible)
    by_condition = Counter(v.condition for v in verdicts if not v.eligible)
    time_only = sum(1 for v in verdicts if v.claimable_from is not None)
    summary_rows = [
        ("Families judged", len(judged)),
        ("Eligible", eligible),
        ("Not eligible", len(judged) - eligible),
        ("Not eligible, only time stands in the way", time_only),
    ] + [
        (f"First unmet: ({c}) {selectors.CONDITIONS[c]}", by_condition.get(c, 0))
        for c in selectors.CONDITIONS
    ]
    yield pdf.heading("Summary")
    yield from pdf.table(["", "Families"], summary_rows, widths=[400, 80])
    yield pdf.bar_chart(
        "Families by verdict",
        ["Eligible"] + [f"({c}) unmet" for c in selectors.CONDITIONS],
        [("Families", [eligible] + [by_condition.get(c, 0) for c in selectors.CONDITIONS])],
    )
    yield pdf.PageBreak()
    yield pdf.heading("Every family")
    yield from pdf.table(
        ["Reference", "Household", "Eligible", "First unmet condition", "Claimable from"],
        (
            (
                ref,
                name[:40],
                "yes" if v.eligible else "no",
                "" if v.eligible else pdf.text(f"({v.condition}) {v.reason}"),
                _day(v.claimable_from),
            )
            for (_, ref, name, *_rest, v) in judged
        ),
        widths=[60, 150, 45, 440, 80],
    )
    progress(0.7)
    eligible_rows = [j for j in judged if j[-1].eligible]
    if eligible_rows:
        yield pdf.PageBreak()
        yield pdf.heading("Spot-check evidence for each eligible family")
    for n, (fid, ref, name, _status, kw, children, expectant, outcomes, *_rest) in enumerate(
        eligible_rows, start=1
    ):
        yield from _evidence_story(evidence[fid], ref, name, kw, children, expectant, outcomes, on)
        if n % 200 == 0:
            progress(0.7 + 0.2 * n / len(eligible_rows))
    progress(0.9)


def _evidence_story(e, ref, name, kw, children, expectant, outcomes, on) -> list:
    assessment = e["assessment"]
    parts = [
        pdf.heading(f"{ref} {name}", 2),
        pdf.para(
            f"Eligibility: {children} dependent child(ren), {expectant} expectant parent(s);"
            f" needs under {outcomes} headline outcomes; key worker {kw}."
        ),
        pdf.para(
            "Whole-family approach: "
            + (
                f"assessment completed {_day(assessment['completed_on'])}"
                f" ({assessment['agency__name']}); "
                if assessment
                else ""
            )
            + "team: "
            + (", ".join(i["agency__name"] for i in e["agencies"]) or "none")
            + "."
        ),
        *pdf.table(
            ["Outcome", "Need", "Identified", "Achieved"],
            [
                (
                    pdf.text(n["outcome__label"]),
                    pdf.text(n["descriptor"]),
                    _iso(n["identified_on"]),
                    _iso(n["achieved_on"]),
                )
                for n in e["needs"]
            ],
            widths=[200, 330, 90, 90],
        ),
        *pdf.table(
            ["Plan action", "Owner", "Status", "Needs covered"],
            [
                (
                    pdf.text(a["description"]),
                    pdf.text(a["owner_agency__name"]),
                    a["status"],
                    a["needs_covered"],
                )
                for a in e["actions"]
            ],
            widths=[380, 180, 70, 80],
        ),
        *pdf.table(
            ["Chronology (latest)", "Agency", "Entry"],
            [
                (
                    f"{timezone.localtime(c['at']):%Y-%m-%d}",
                    pdf.text(c["agency__name"] or ""),
                    pdf.text(f"{CHRONOLOGY_TYPES.get(c['type'], c['type'])}: {c['summary']}"),
                )
                for c in e["chronology"]
            ],
            widths=[90, 160, 460],
        ),
    ]
    return parts


# --- one family's summary --------------------------------------------------------------------


def build_family_summary(job: ReportJob, user, out, progress: Progress) -> None:
    data = selectors.family_summary(
        user=user, family_id=job.family_id, start=job.period_start, end=job.period_end
    )
    family = data["family"]
    progress(0.3)
    chronology = data["chronology"].iterator(chunk_size=1000)
    if job.format == ReportFormat.CSV:
        w = _Csv(out)
        w.row("section", "date", "agency", "type", "detail")
        for p in data["members"]:
            w.row(
                "member",
                _iso(p.date_of_birth),
                "",
                p.relationship,
                f"{p.given_name} {p.family_name}"
                + (f", expected birth {_iso(p.expected_birth_on)}" if p.expected_birth_on else ""),
            )
        for i in data["team"]:
            w.row("team", _iso(i.started_on), i.agency.name, i.role, _team_name(i))
        for n in data["needs"]:
            w.row(
                "need",
                _iso(n.identified_on),
                "",
                n.outcome.code,
                f"{n.descriptor} ({n.status}"
                + (f", achieved {_iso(n.achieved_on)})" if n.achieved_on else ")"),
            )
        for a in data["assessments"]:
            w.row("assessment", _iso(a.completed_on), a.agency.name, "assessment", a.summary)
        for a in data["actions"]:
            w.row("plan_action", _iso(a.due_on), a.owner_agency.name, a.status, a.description)
        for i in data["interventions"]:
            w.row(
                "intervention",
                _iso(i.started_on),
                i.agency.name,
                i.kind,
                f"{i.title}{' (restricted)' if i.visibility == 'restricted' else ''}"
                + (f": {i.outcome}" if i.outcome else ""),
            )
        for c in data["contacts"]:
            w.row(
                "contact",
                timezone.localtime(c.occurred_at).isoformat(),
                c.agency.name,
                c.method,
                f"{c.summary}{' (restricted)' if c.visibility == 'restricted' else ''}",
            )
        for c in chronology:
            w.row(
                "chronology",
                timezone.localtime(c.at).isoformat(),
                c.agency_name or "",
                c.type,
                c.summary,
            )
        w.close()
        return
    story = [
        pdf.heading("Household"),
        *pdf.table(
            ["Name", "Relationship", "Date of birth", "Expected birth"],
            [
                (
                    pdf.text(f"{p.given_name} {p.family_name}"),
                    p.get_relationship_display(),
                    _day(p.date_of_birth),
                    _day(p.expected_birth_on),
                )
                for p in data["members"]
            ],
        ),
        pdf.heading("Team around the family"),
        *pdf.table(
            ["Agency", "Practitioner", "Role", "Since"],
            [
                (
                    pdf.text(i.agency.name),
                    pdf.text(_team_name(i)),
                    pdf.text(i.role),
                    _day(i.started_on),
                )
                for i in data["team"]
            ],
        ),
        pdf.heading("Needs"),
        *pdf.table(
            ["Outcome", "Need", "Status", "Identified", "Achieved"],
            [
                (
                    pdf.text(n.outcome.label),
                    pdf.text(n.descriptor),
                    n.get_status_display(),
                    _day(n.identified_on),
                    _day(n.achieved_on),
                )
                for n in data["needs"]
            ],
            widths=[180, 300, 80, 90, 90],
        ),
        pdf.heading("Assessments"),
        *pdf.table(
            ["Completed", "Agency", "Summary"],
            [
                (_day(a.completed_on), pdf.text(a.agency.name), pdf.text(a.summary[:1500]))
                for a in data["assessments"]
            ],
            widths=[90, 150, 500],
        ),
        pdf.heading("Plan"),
        *_plan_table(data["actions"]),
    ]
    story += [
        pdf.heading("Interventions"),
        *pdf.table(
            ["Started", "Ended", "Agency", "Intervention", "Outcome"],
            [
                (
                    _day(i.started_on),
                    _day(i.ended_on),
                    pdf.text(i.agency.name),
                    pdf.text(f"{i.title}{' (restricted)' if i.visibility == 'restricted' else ''}"),
                    pdf.text(i.outcome),
                )
                for i in data["interventions"]
            ],
            widths=[80, 80, 140, 250, 200],
        ),
        pdf.heading("Contacts"),
        *pdf.table(
            ["When", "Agency", "How", "Summary"],
            [
                (
                    f"{timezone.localtime(c.occurred_at):%Y-%m-%d %H:%M}",
                    pdf.text(c.agency.name),
                    c.get_method_display(),
                    pdf.text(
                        f"{c.summary}{' (restricted)' if c.visibility == 'restricted' else ''}"
                    ),
                )
                for c in data["contacts"]
            ],
            widths=[90, 140, 100, 420],
        ),
    ]
    kinds = Counter()
    entries = []
    for c in chronology:
        kinds[CHRONOLOGY_TYPES.get(c.type, c.type)] += 1
        entries.append(
            (
                f"{timezone.localtime(c.at):%Y-%m-%d %H:%M}",
                pdf.text(c.agency_name or ""),
                CHRONOLOGY_TYPES.get(c.type, c.type),
                pdf.text(c.summary),
            )
        )
    progress(0.6)
    story += [
        pdf.bar_chart(
            "Chronology entries by type", list(kinds), [("Entries", list(kinds.values()))]
        ),
        pdf.heading("Chronology"),
        *pdf.table(["When", "Agency", "Type", "Entry"], entries, widths=[90, 150, 110, 390]),
    ]
    period = (
        f"; chronology {_day(job.period_start) or 'from the start'} to"
        f" {_day(job.period_end) or 'today'}"
        if job.period_start or job.period_end
        else ""
    )
    meta = _meta(
        job,
        user,
        "Family summary",
        f"{family.reference} {family.name}",
        [
            f"Lead agency: {family.lead_agency.name}{period}",
            "Contains only what the requester may see.",
        ],
    )
    pdf.write(out, meta, story)


def _team_name(involvement) -> str:
    p = involvement.practitioner
    return (p.get_full_name() or p.username) if p is not None else ""


# --- one person's subject access export -----------------------------------------------------


def _when(moment) -> str:
    return "" if moment is None else f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _yes(value: bool) -> str:
    return "Yes" if value else "No"


def _restricted(entry) -> str:
    return "Restricted" if entry.visibility == "restricted" else "Team"


def build_subject_access(job: ReportJob, user, out, progress: Progress) -> None:
    """Everything held on one member of a family (reports.selectors.subject_access), as a PDF:
    their details, the needs and plan about them, the family's interventions, contacts and
    chronology (restricted entries included, each marked), the lawful bases, the disclosure
    history and every access to the family's record, with the footing and basis the access log
    shows (reports.selectors.access_event_rows)."""
    data = selectors.subject_access(person_id=job.person_id, family_id=job.family_id)
    family, person = data["family"], data["person"]
    progress(0.2)
    key_worker = family.key_worker
    story = [
        pdf.heading("The person"),
        *pdf.table(
            ["Detail", "Held"],
            [
                ("Name", pdf.text(f"{person.given_name} {person.family_name}")),
                ("Relationship in the household", person.get_relationship_display()),
                ("Date of birth", _day(person.date_of_birth) or "Not recorded"),
                ("Expected birth of a baby", _day(person.expected_birth_on) or "None recorded"),
                ("NHS number", person.nhs_number or "Not recorded"),
                ("Unique pupil number", person.upn or "Not recorded"),
                ("National Insurance number", person.ni_number or "Not recorded"),
                ("Parental responsibility", _yes(person.parental_responsibility)),
                ("Competent to consent", _yes(person.competent_to_consent)),
                ("Recorded on", _day(timezone.localtime(person.created_at).date())),
            ],
            widths=[200, 500],
        ),
        pdf.heading("The family's record"),
        *pdf.table(
            ["Detail", "Held"],
            [
                ("Reference", family.reference),
                ("Household", pdf.text(family.name)),
                ("Address", pdf.text(family.address or "Not recorded")),
                ("Postcode", family.postcode),
                ("Status", family.get_status_display()),
                ("Opened", _day(family.opened_on)),
                ("Lead agency", pdf.text(family.lead_agency.name)),
                ("Key worker", pdf.text(_person_name(key_worker) or "None allocated")),
            ],
            widths=[200, 500],
        ),
        pdf.heading("Needs about them or the whole family"),
        *pdf.table(
            ["Outcome", "Need", "About", "Status", "Identified", "Achieved", "Recorded by"],
            [
                (
                    pdf.text(n.outcome.label),
                    pdf.text(n.descriptor),
                    "Them" if n.person_id == person.id else "The whole family",
                    n.get_status_display(),
                    _day(n.identified_on),
                    _day(n.achieved_on),
                    pdf.text(n.agency.name),
                )
                for n in data["needs"]
            ],
            widths=[130, 200, 70, 70, 75, 75, 120],
        ),
        pdf.heading("Plan actions for those needs"),
        *_plan_table(data["actions"]),
        pdf.heading("Interventions with the family"),
        *pdf.table(
            ["Started", "Ended", "Agency", "Intervention", "Outcome", "Names them", "Seen by"],
            (
                (
                    _day(i.started_on),
                    _day(i.ended_on),
                    pdf.text(i.agency.name),
                    pdf.text(f"{i.get_kind_display()}: {i.title}"),
                    pdf.text(i.outcome),
                    _yes(i.about_them),
                    _restricted(i),
                )
                for i in data["interventions"].iterator(chunk_size=1000)
            ),
            widths=[70, 70, 120, 200, 140, 55, 60],
        ),
        pdf.heading("Contacts with the family"),
        *pdf.table(
            ["When", "Agency", "How", "Summary", "Names them", "Seen by"],
            (
                (
                    _when(c.occurred_at),
                    pdf.text(c.agency.name),
                    c.get_method_display(),
                    pdf.text(c.summary),
                    _yes(c.about_them),
                    _restricted(c),
                )
                for c in data["contacts"].iterator(chunk_size=1000)
            ),
            widths=[80, 120, 90, 320, 55, 60],
        ),
    ]
    progress(0.4)
    story += [
        pdf.heading("The family's chronology"),
        *pdf.table(
            ["When", "Agency", "Type", "Entry", "Seen by"],
            (
                (
                    _when(c.at),
                    pdf.text(c.agency_name or ""),
                    CHRONOLOGY_TYPES.get(c.type, c.type),
                    pdf.text(c.summary),
                    _restricted(c),
                )
                for c in data["chronology"].iterator(chunk_size=1000)
            ),
            widths=[80, 130, 110, 340, 60],
        ),
        pdf.heading("Lawful bases for sharing the record"),
        *pdf.table(
            ["Basis", "Agencies", "Given by them", "Until", "Withdrawn"],
            [
                (
                    pdf.text(selectors.basis_label(b.basis, b.given_on)),
                    pdf.text(", ".join(a.name for a in b.agencies.all())),
                    _yes(b.given_by_them),
                    _day(b.expires_on) or (f"Review {_day(b.review_on)}" if b.review_on else ""),
                    _when(b.withdrawn_at),
                )
                for b in data["bases"]
            ],
            widths=[200, 280, 70, 90, 80],
        ),
        pdf.heading("Who the record was disclosed to"),
        pdf.para(
            "Each agency (or person) that could see the family's record, on what footing and"
            " under which basis, from when to when."
        ),
        *pdf.table(
            ["Agency", "Person", "Footing", "Basis", "From", "To"],
            [
                (
                    pdf.text(p.agency.name if p.agency_id else ""),
                    pdf.text(_person_name(p.user) if p.user_id else ""),
                    p.get_footing_display(),
                    pdf.text(
                        selectors.basis_label(p.basis.basis, p.basis.given_on) if p.basis_id else ""
                    ),
                    _when(p.started_at),
                    _when(p.ended_at) or "Still has access",
                )
                for p in data["periods"]
            ],
            widths=[130, 110, 140, 160, 80, 80],
        ),
    ]
    progress(0.6)
    events = data["events"]
    story += [
        pdf.heading("Every access to the family's record"),
        pdf.para(
            "Who read or changed the record (or saw the family in a list), when, from which"
            " agency, on what footing and under which basis; refused attempts included."
        ),
        *pdf.table(
            ["When", "Who", "Agency", "Action", "What", "Footing", "Basis", "Outcome"],
            (
                (
                    f"{timezone.localtime(e.at):%Y-%m-%d %H:%M:%S}",
                    pdf.text(selectors.access_event_user_name(e)),
                    pdf.text(e.agency_name or ""),
                    e.action,
                    pdf.text(f"{e.method} {e.path}"),
                    pdf.text(selectors.footing_label(e.footing, e.outcome)),
                    pdf.text(selectors.basis_label(e.basis_kind, e.basis_given_on)),
                    e.outcome,
                )
                for e in events.iterator(chunk_size=2000)
            ),
            widths=[80, 90, 100, 40, 160, 90, 110, 50],
        ),
    ]
    meta = _meta(
        job,
        user,
        "Subject access export",
        f"{person.given_name} {person.family_name}, {family.reference}",
        [
            f"Household: {family.name}. Lead agency: {family.lead_agency.name}.",
            "Everything Team Around holds on this person, every access to their family's record"
            " and every agency it was disclosed to. Restricted entries are included: the person"
            " is their subject.",
            "Before disclosing it, review the information about other people in it (other"
            " members of the household, third parties named in the record's text) and withhold"
            " what the law says to withhold.",
        ],
    )
    pdf.write(out, meta, story)


BUILDERS = {
    ReportKind.CASELOAD: build_caseload,
    ReportKind.OUTCOMES: build_outcomes,
    ReportKind.CLAIMS: build_claims,
    ReportKind.FAMILY_SUMMARY: build_family_summary,
    ReportKind.SUBJECT_ACCESS: build_subject_access,
}
