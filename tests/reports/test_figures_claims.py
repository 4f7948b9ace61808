"""For a seeded council, every figure of the results-claims report, in the CSV and in the PDF's
extracted text, equals the one this test works out on its own from the API (the families list,
each family's detail, plan, assessments, team and chronology, the agencies), read as the same
manager: each family's verdict, its first unmet condition and the figures of its reason, the
date from which it would be claimable where only time stands in the way, the totals, and the
spot-check evidence of each eligible family.

The rule, as at the date judged: (a) a dependent child (a member under 18 on that date) or an
expectant parent; (b) needs under at least three different headline outcomes; (c) a key worker;
(d) a whole-family assessment completed on or before that date; (e) every need linked to at
least one plan action; (f) every need achieved, each at least 26 weeks before that date. Only
needs identified by the date count. The claimable-from date is found by judging the record as
it stands on every day after the date, not by any formula of the report's."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from cases.models import Family, Involvement, Need
from tests import factories as f
from tests.reports.conftest import (
    api_all,
    module_reports,
    pdf_lines,
    without_repeated_headers,
    words,
)

pytestmark = pytest.mark.django_db

ON = date(2025, 9, 30)  # the period's end: every family is judged as at this date
START = date(2024, 10, 1)
UNDER_YEARS, MIN_OUTCOMES, SUSTAINED_WEEKS = 18, 3, 26
PREGNANCY = timedelta(days=280)  # an expectant parent: a birth expected within a pregnancy
HORIZON = timedelta(days=3 * 365)  # how far after ON the claimable-from date is looked for
EXTRACT = 8  # a spot check's chronology extract: the latest entries by the date
OPENED = date(2024, 8, 1)
ADULT = ("parent", date(1988, 2, 2), None)
CHILD = ("child", date(2014, 6, 1), None)
TYPE_LABELS = {
    "assessment.completed": "Assessment",
    "contact.recorded": "Contact",
    "intervention.recorded": "Intervention",
}


def need(outcome, *, found=date(2024, 9, 1), achieved=date(2025, 1, 15), status=None, link=True):
    return {
        "outcome": outcome,
        "found": found,
        "achieved": achieved,
        "status": status or ("achieved" if achieved else "in_progress"),
        "link": link,
    }


THREE = [need("education"), need("health"), need("housing")]


@dataclass
class Spec:
    name: str
    members: list = field(default_factory=lambda: [ADULT, CHILD])
    needs: list = field(default_factory=lambda: list(THREE))
    assessed: list = field(default_factory=lambda: [date(2024, 9, 20)])
    key_worker: bool = True
    closed: bool = False


SPECS = [
    Spec(  # eligible; the richest record (team, plan and chronology: see _enrich)
        "Ash household",
        members=[ADULT, CHILD, ("child", date(2011, 3, 3), None)],
        needs=[*THREE, need("crime", found=date(2025, 10, 5), achieved=None, link=False)],
        assessed=[date(2024, 9, 20), date(2025, 1, 10), date(2025, 11, 1)],
    ),
    Spec(  # eligible although closed: an expectant parent, four outcomes, one need achieved
        # exactly 26 weeks before the date
        "Birch household",
        members=[("parent", date(1996, 5, 5), date(2026, 1, 15))],
        needs=[
            *THREE,
            need("financial_stability", achieved=ON - timedelta(weeks=SUSTAINED_WEEKS)),
        ],
        closed=True,
    ),
    Spec(  # eligible: the child turns 18 the day after the date
        "Cedar household", members=[ADULT, ("child", date(2007, 10, 1), None)]
    ),
    Spec("Damson household", members=[ADULT, ("partner", date(1987, 7, 7), None)]),  # (a)
    Spec(  # (a): the child turns 18 on the date
        "Elder household", members=[ADULT, ("child", date(2007, 9, 30), None)]
    ),
    Spec(  # (a): the baby was expected before the date and no child is recorded by then
        "Fig household", members=[("parent", date(1995, 1, 1), date(2025, 8, 1))]
    ),
    Spec(  # (a) on the date; a baby born since: claimable from the birth
        "Gorse household", members=[ADULT, ("child", date(2025, 10, 12), None)]
    ),
    Spec(  # (b): two outcomes
        "Hazel household", needs=[need("education"), need("health"), need("health")]
    ),
    Spec(  # (b) on the date; a third outcome found and achieved since
        "Holly household",
        needs=[
            need("education"),
            need("health"),
            need("housing", found=date(2025, 10, 10), achieved=date(2025, 10, 20)),
        ],
    ),
    Spec("Juniper household", key_worker=False, assessed=[]),  # (c), before (d)
    Spec("Laurel household", assessed=[]),  # (d)
    Spec("Maple household", assessed=[date(2025, 10, 20)]),  # (d): assessed after the date
    Spec(  # (e): two needs outside the plan
        "Oak household",
        needs=[need("education"), need("health", link=False), need("housing", link=False)],
    ),
    Spec(  # (f): a need achieved less than 26 weeks before the date
        "Pine household", needs=[*THREE[:2], need("housing", achieved=date(2025, 6, 1))]
    ),
    Spec(  # (f): a need achieved one day short of 26 weeks before the date
        "Poplar household",
        needs=[
            *THREE[:2],
            need("housing", achieved=ON - timedelta(weeks=SUSTAINED_WEEKS, days=-1)),
        ],
    ),
    Spec(  # (f): two needs still in progress
        "Rowan household",
        needs=[need("education"), need("health", achieved=None), need("housing", achieved=None)],
    ),
    Spec(  # (f): a need achieved only after the date
        "Spruce household", needs=[*THREE[:2], need("housing", achieved=date(2025, 12, 1))]
    ),
    Spec(  # (f) recent, and the only child turns 18 before it is sustained: never claimable
        "Willow household",
        members=[ADULT, ("child", date(2008, 1, 15), None)],
        needs=[*THREE[:2], need("housing", achieved=date(2025, 8, 1))],
    ),
    Spec(  # (f): a need closed without an outcome
        "Yew household", needs=[*THREE[:2], need("housing", achieved=None, status="closed")]
    ),
]


# --- the seed ----------------------------------------------------------------------------------


def _seed():
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Northfield Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Northfield Primary School")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Northfield Police")
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Northfield Health Visiting")
    manager = f.staff_make(agency=early_help, role=Role.MANAGER)
    key_workers = [f.staff_make(agency=early_help, role=Role.KEY_WORKER) for _ in range(2)]
    staff = {
        "school": f.staff_make(agency=school, role=Role.PRACTITIONER),
        "police": f.staff_make(agency=police, role=Role.PRACTITIONER),
        "health": f.staff_make(agency=health, role=Role.PRACTITIONER),
    }
    for n, spec in enumerate(SPECS):
        kw = key_workers[n % 2]
        family = _make(spec, by=kw if spec.key_worker else manager, lead=early_help)
        if spec.name == "Ash household":
            _enrich(family, kw=kw, staff=staff)
        if spec.closed:
            Family.objects.filter(id=family.id).update(status="closed", closed_on=date(2025, 7, 1))
    # Another council's family, on which this council's agency works: the manager sees it, but
    # it is not this council's to claim.
    other = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Southfield Early Help")
    other_kw = f.staff_make(agency=other, role=Role.KEY_WORKER)
    elsewhere = _make(Spec("Elsewhere household"), by=other_kw, lead=other)
    f.involvement_make(family=elsewhere, by=other_kw, agency=early_help)
    f.consent_make(family=elsewhere, by=other_kw, agencies=[early_help])
    return manager


def _make(spec: Spec, *, by, lead) -> Family:
    family = f.family_make(by=by, name=spec.name)
    assert (family.key_worker_id is not None) == spec.key_worker
    Family.objects.filter(id=family.id).update(opened_on=OPENED)
    Involvement.objects.filter(family=family, agency=lead).update(started_on=OPENED)
    for relationship, born, expected in spec.members:
        f.PersonFactory(
            family=family,
            relationship=relationship,
            date_of_birth=born,
            expected_birth_on=expected,
        )
    linked = []
    for n, spec_need in enumerate(spec.needs):
        made = case_services.need_create(
            family=family,
            by=by,
            outcome=f.outcome(spec_need["outcome"]),
            descriptor=f"{spec_need['outcome'].replace('_', ' ').capitalize()} need {n + 1}",
        )
        Need.objects.filter(id=made.id).update(
            identified_on=spec_need["found"],
            status=spec_need["status"],
            achieved_on=spec_need["achieved"],
        )
        if spec_need["link"]:
            linked.append(made)
    if linked:
        case_services.plan_action_create(
            family=family,
            by=by,
            description="Family plan",
            owner_agency=lead,
            due_on=date(2025, 2, 1),
            needs=linked,
        )
    for day in spec.assessed:
        case_services.assessment_create(
            family=family, by=by, completed_on=day, summary="Whole-family assessment"
        )
    return family


def _enrich(family: Family, *, kw, staff):
    """A team of three partners (police left before the date, health joined after it), a plan
    of three actions, and more chronology by the date than the extract shows."""
    teams = {}
    for key in ("school", "police", "health"):
        agency = staff[key].agency
        teams[key] = f.involvement_make(family=family, by=kw, agency=agency)
    f.consent_make(family=family, by=kw, agencies=[staff[k].agency for k in teams])
    needs = {n.outcome.code: n for n in family.needs.select_related("outcome")}
    case_services.plan_action_create(
        family=family,
        by=staff["school"],
        description="Attendance support",
        owner_agency=staff["school"].agency,
        due_on=date(2025, 3, 1),
        needs=[needs["education"]],
        status="in_progress",
    )
    case_services.plan_action_create(
        family=family,
        by=staff["police"],
        description="Safety planning",
        owner_agency=staff["police"].agency,
        due_on=date(2024, 12, 1),
        needs=[needs["health"], needs["housing"]],
        status="done",
    )
    for n in range(10):
        by = [kw, staff["school"], staff["police"]][n % 3]
        case_services.contact_create(
            family=family,
            by=by,
            occurred_at=datetime(2025, 1 + n % 8, 3 + n, 10, 0, tzinfo=UTC),
            method="phone" if n % 2 else "home_visit",
            summary=f"Contact {n + 1}",
            visibility="restricted" if n % 3 == 2 else "team",
        )
    case_services.intervention_create(
        family=family, by=kw, kind="parenting", title="Parenting course", started_on=ON
    )
    # Each side of midnight in London on the date (British Summer Time: UTC+1).
    for hour, summary in ((22, "Late call on the date"), (23, "Call after midnight")):
        case_services.contact_create(
            family=family,
            by=kw,
            occurred_at=datetime(2025, 9, 30, hour, 30, tzinfo=UTC),
            method="phone",
            summary=summary,
        )
    case_services.contact_create(
        family=family,
        by=staff["school"],
        occurred_at=datetime(2025, 10, 14, 9, 0, tzinfo=UTC),
        method="school",
        summary="After the date",
    )
    for key, started, ended in (
        ("school", date(2024, 9, 1), None),
        ("police", date(2024, 9, 1), date(2025, 5, 1)),
        ("health", date(2025, 10, 15), None),
    ):
        if ended:
            case_services.involvement_end(involvement=teams[key], by=kw)
        Involvement.objects.filter(id=teams[key].id).update(started_on=started, ended_on=ended)


# --- the figures, from the API alone ---------------------------------------------------------


def _d(value) -> date | None:
    return date.fromisoformat(value) if value else None


def _day(d: date | None) -> str:
    return "" if d is None else f"{d.day} {d:%B %Y}"


def _eighteenth(born: date) -> date:
    try:
        return born.replace(year=born.year + UNDER_YEARS)
    except ValueError:  # born on 29 February: of age on 1 March
        return date(born.year + UNDER_YEARS, 3, 1)


@dataclass
class Record:
    """One family as the API shows it to the manager."""

    detail: dict
    actions: list
    assessments: list
    team: list
    chronology: list

    def children(self, day: date) -> list:
        return [
            m
            for m in self.detail["members"]
            if m["date_of_birth"]
            and _d(m["date_of_birth"]) <= day < _eighteenth(_d(m["date_of_birth"]))
        ]

    def expectant(self, day: date) -> list:
        return [
            m
            for m in self.detail["members"]
            if m["expected_birth_on"] and day < _d(m["expected_birth_on"]) <= day + PREGNANCY
        ]

    def needs(self, day: date) -> list:
        return sorted(
            (n for n in self.detail["needs"] if _d(n["identified_on"]) <= day),
            key=lambda n: (n["identified_on"], n["id"]),
        )

    def outcomes(self, day: date) -> set:
        return {n["outcome"] for n in self.needs(day)}

    def assessed(self, day: date) -> list:
        """Assessments completed by `day`, the latest first."""
        done = [a for a in self.assessments if _d(a["completed_on"]) <= day]
        return sorted(done, key=lambda a: (a["completed_on"], a["id"]), reverse=True)

    def unlinked(self, day: date) -> list:
        linked = {nid for a in self.actions for nid in a["needs"]}
        return [n for n in self.needs(day) if n["id"] not in linked]

    def unachieved(self, day: date) -> list:
        return [
            n for n in self.needs(day) if n["status"] != "achieved" or _d(n["achieved_on"]) > day
        ]

    def first_unmet(self, day: date) -> str | None:
        """The rule as at `day`: the first condition not met, None when all are."""
        if not self.children(day) and not self.expectant(day):
            return "a"
        if len(self.outcomes(day)) < MIN_OUTCOMES:
            return "b"
        if not self.detail["key_worker"]:
            return "c"
        if not self.assessed(day):
            return "d"
        if self.unlinked(day):
            return "e"
        sustained_by = day - timedelta(weeks=SUSTAINED_WEEKS)
        if self.unachieved(day) or any(
            _d(n["achieved_on"]) > sustained_by for n in self.needs(day)
        ):
            return "f"
        return None

    def claimable_from(self, day: date) -> date | None:
        """The first day after `day` on which the record as it stands meets the rule."""
        when = day + timedelta(days=1)
        while when <= day + HORIZON:
            if self.first_unmet(when) is None:
                return when
            when += timedelta(days=1)
        return None

    def reason_figures(self, condition: str, day: date) -> list[str]:
        """The figures the reason for `condition` must state, in order."""
        needs = self.needs(day)
        if condition == "a":
            return [str(UNDER_YEARS), _day(day)]
        if condition == "b":
            return [str(len(self.outcomes(day))), _day(day), str(MIN_OUTCOMES)]
        if condition == "c":
            return []
        if condition == "d":
            later = sorted(_d(a["completed_on"]) for a in self.assessments)
            return [_day(day)] + ([_day(later[0])] if later else [])
        if condition == "e":
            return [str(len(self.unlinked(day)))]
        if self.unachieved(day):
            return [str(len(self.unachieved(day))), _day(day)]
        latest = max(_d(n["achieved_on"]) for n in needs)
        return [_day(latest), str(SUSTAINED_WEEKS), _day(day)]


def _expected(client) -> dict:
    me = client.get("/api/v1/me/").json()
    agency_names = {a["id"]: a["name"] for a in api_all(client, "/api/v1/agencies/?page_size=200")}
    visible = api_all(client, "/api/v1/families/?page_size=200")
    others = [fam["reference"] for fam in visible if fam["lead_agency"] != me["agency"]["id"]]
    families = {}
    for fam in sorted(visible, key=lambda fam: fam["reference"]):
        if fam["lead_agency"] != me["agency"]["id"]:
            continue
        base = f"/api/v1/families/{fam['id']}/"
        record = Record(
            detail=client.get(base).json(),
            actions=api_all(client, base + "actions/?page_size=200"),
            assessments=api_all(client, base + "assessments/?page_size=200"),
            team=api_all(client, base + "team/?page_size=200"),
            chronology=api_all(client, base + "chronology/?page_size=200"),
        )
        condition = record.first_unmet(ON)
        families[fam["reference"]] = {
            "record": record,
            "condition": condition,
            "claimable_from": record.claimable_from(ON) if condition else None,
            "reason_figures": record.reason_figures(condition, ON) if condition else [],
            "evidence": None if condition else _evidence(record, agency_names),
        }
    return {"families": families, "others": others, "agency_names": agency_names}


def _evidence(record: Record, agency_names: dict) -> dict:
    """What a spot check of an eligible family is shown, as at ON."""
    chronology = sorted(
        (
            {**c, "local": timezone.localtime(datetime.fromisoformat(c["at"]))}
            for c in record.chronology
        ),
        key=lambda c: (c["local"], c["id"]),
        reverse=True,
    )
    latest = record.assessed(ON)[0]
    return {
        "needs": record.needs(ON),
        "assessment": {**latest, "agency_name": agency_names[latest["agency"]]},
        "actions": sorted(record.actions, key=lambda a: (a["due_on"], a["id"])),
        "team": sorted(t["agency_name"] for t in record.team if _d(t["started_on"]) <= ON),
        "chronology": [c for c in chronology if c["local"].date() <= ON][:EXTRACT],
    }


@pytest.fixture(scope="module")
def claims(django_db_setup, django_db_blocker, tmp_path_factory):
    with module_reports(django_db_blocker, tmp_path_factory.mktemp("reports")) as reports_for:
        manager = _seed()
        reports = reports_for(manager.user)
        body = {"kind": "claims", "period_start": START.isoformat(), "period_end": ON.isoformat()}
        yield {
            "expected": _expected(reports.client),
            "csv": reports.csv(**body),
            "pdf": reports.pdf_text(**body),
        }


# --- the comparisons ---------------------------------------------------------------------------

_DATE = r"\d{1,2} (?:January|February|March|April|May|June|July|August|September|October"
_DATE += r"|November|December) \d{4}"


def _figures(text: str) -> list[str]:
    """The dates and numbers a sentence states, in order."""
    return re.findall(rf"{_DATE}|\d+", text)


def test_the_scenario_has_every_case(claims):
    families = claims["expected"]["families"]
    assert len(families) == len(SPECS)
    conditions = Counter(e["condition"] for e in families.values())
    assert conditions[None] >= 3 and set(conditions) - {None} == set("abcdef")
    with_date = {e["condition"] for e in families.values() if e["claimable_from"]}
    assert {"a", "b", "d", "f"} <= with_date
    assert any(
        e["condition"] is None and e["record"].detail["status"] == "closed"
        for e in families.values()
    )
    assert claims["expected"]["others"], "a family of another council that the manager sees"
    # The richest eligible family has more chronology by the date than the extract holds (some
    # of it restricted, which the manager sees), and a team that changed around the date.
    ash = next(e for e in families.values() if e["record"].detail["name"] == "Ash household")
    by_then = [
        c
        for c in ash["record"].chronology
        if timezone.localtime(datetime.fromisoformat(c["at"])).date() <= ON
    ]
    assert len(by_then) > EXTRACT == len(ash["evidence"]["chronology"])
    assert any("restricted" in c["summary"] for c in ash["evidence"]["chronology"])
    assert len(ash["record"].team) == 4 and len(ash["evidence"]["team"]) == 3


def test_every_family_of_the_council_in_the_csv(claims):
    families, rows = claims["expected"]["families"], claims["csv"]
    assert [r["family_reference"] for r in rows] == list(families)
    assert not set(claims["expected"]["others"]) & {r["family_reference"] for r in rows}


def test_each_csv_row(claims):
    families = claims["expected"]["families"]
    for row in claims["csv"]:
        e = families[row["family_reference"]]
        record, condition = e["record"], e["condition"]
        detail = record.detail
        latest = record.assessed(ON)
        figures = {k: v for k, v in row.items() if k != "reason" and not k.startswith("evidence")}
        assert figures == {
            "family_reference": detail["reference"],
            "family_name": detail["name"],
            "status": detail["status"],
            "eligible": "no" if condition else "yes",
            "first_unmet_condition": condition or "",
            "claimable_from": e["claimable_from"].isoformat() if e["claimable_from"] else "",
            "key_worker": detail["key_worker_name"] or "",
            "dependent_children": str(len(record.children(ON))),
            "expectant_parents": str(len(record.expectant(ON))),
            "headline_outcomes": str(len(record.outcomes(ON))),
            "needs": str(len(record.needs(ON))),
            "assessment_completed_on": latest[0]["completed_on"] if latest else "",
        }, detail["name"]
        if condition:
            assert row["reason"] and _figures(row["reason"]) == e["reason_figures"], row["reason"]
        else:
            assert row["reason"] == ""
        assert [row[f"evidence_{k}"] for k in ("needs", "plan", "team", "chronology")] == (
            _csv_evidence(e["evidence"], claims["expected"]["agency_names"])
        ), detail["name"]


def _csv_evidence(e, agency_names) -> list[str]:
    if e is None:
        return ["", "", "", ""]
    return [
        "; ".join(
            f"{n['outcome']}: {n['descriptor']} (identified {n['identified_on']},"
            f" achieved {n['achieved_on']})"
            for n in e["needs"]
        ),
        "; ".join(
            [f"assessment {e['assessment']['completed_on']}"]
            + [
                f"{a['description']} ({agency_names[a['owner_agency']]}, {a['status']},"
                f" {len(a['needs'])} needs)"
                for a in e["actions"]
            ]
        ),
        "; ".join(e["team"]),
        "; ".join(
            f"{c['local']:%Y-%m-%d} {c['agency_name'] or ''}: {c['summary']}"
            for c in e["chronology"]
        ),
    ]


def test_the_pdf_totals(claims):
    families, text = claims["expected"]["families"], claims["pdf"]
    conditions = Counter(e["condition"] for e in families.values())
    eligible = conditions[None]
    assert _has_row(text, "Families judged", len(families))
    assert _has_row(text, "Eligible", eligible)
    assert _has_row(text, "Not eligible", len(families) - eligible)
    time_only = sum(1 for e in families.values() if e["claimable_from"])
    assert _has_row(text, "Not eligible, only time stands in the way", time_only)
    for c in "abcdef":
        found = re.findall(rf"\nFirst unmet: \({c}\) [^\n]+\n(\d+)\n", text)
        assert found == [str(conditions[c])], c
    # The CSV's rows add up to the same totals.
    rows = claims["csv"]
    assert sum(r["eligible"] == "yes" for r in rows) == eligible
    assert Counter(r["first_unmet_condition"] for r in rows if r["eligible"] == "no") == Counter(
        {c: n for c, n in conditions.items() if c}
    )


def test_each_family_in_the_pdf(claims):
    families, text = claims["expected"]["families"], claims["pdf"]
    rows = {r["family_reference"]: r for r in claims["csv"]}
    lines = pdf_lines(text, "Results claims")
    table = lines[lines.index("Every family") :]
    table = table[: table.index("Spot-check evidence for each eligible family")]
    refs = [ln for ln in table if re.fullmatch(r"TA\d{6}", ln)]
    assert refs == list(families)
    for ref, e in families.items():
        at = table.index(ref)
        end = next((i for i in range(at + 1, len(table)) if table[i] in families), len(table))
        cells = table[at:end]
        expected = [ref, e["record"].detail["name"], "no" if e["condition"] else "yes"]
        if e["condition"]:
            expected.append(f"({e['condition']}) {rows[ref]['reason']}")
        if e["claimable_from"]:
            expected.append(_day(e["claimable_from"]))
        assert words(cells) == words(expected), cells


def test_the_spot_check_evidence_in_the_pdf(claims):
    expected = claims["expected"]
    families, names = expected["families"], expected["agency_names"]
    lines = pdf_lines(claims["pdf"], "Results claims")
    lines = lines[lines.index("Spot-check evidence for each eligible family") + 1 :]
    eligible = [(ref, e) for ref, e in families.items() if e["condition"] is None]
    headings = [f"{ref} {e['record'].detail['name']}" for ref, e in eligible]
    assert [ln for ln in lines if ln in headings] == headings
    for n, (ref, e) in enumerate(eligible):
        end = lines.index(headings[n + 1]) if n + 1 < len(headings) else len(lines)
        block = lines[lines.index(headings[n]) : end]
        assert words(without_repeated_headers(block, HEADERS)) == words(
            _pdf_evidence(ref, e, names)
        ), ref


HEADERS = [
    ["Outcome", "Need", "Identified", "Achieved"],
    ["Plan action", "Owner", "Status", "Needs covered"],
    ["Chronology (latest)", "Agency", "Entry"],
]


def _pdf_evidence(ref, e, names) -> list[str]:
    record, ev = e["record"], e["evidence"]
    detail = record.detail
    out = [
        f"{ref} {detail['name']}",
        f"Eligibility: {len(record.children(ON))} dependent child(ren),"
        f" {len(record.expectant(ON))} expectant parent(s); needs under"
        f" {len(record.outcomes(ON))} headline outcomes; key worker {detail['key_worker_name']}.",
        f"Whole-family approach: assessment completed {_day(_d(ev['assessment']['completed_on']))}"
        f" ({ev['assessment']['agency_name']}); team: {', '.join(ev['team']) or 'none'}.",
    ]
    tables = [
        [
            (n["outcome_label"], n["descriptor"], n["identified_on"], n["achieved_on"])
            for n in ev["needs"]
        ],
        [
            (a["description"], names[a["owner_agency"]], a["status"], len(a["needs"]))
            for a in ev["actions"]
        ],
        [
            (
                f"{c['local']:%Y-%m-%d}",
                c["agency_name"] or "",
                f"{TYPE_LABELS[c['type']]}: {c['summary']}",
            )
            for c in ev["chronology"]
        ],
    ]
    for header, rows in zip(HEADERS, tables, strict=True):
        out += [*header, *(str(c) for row in rows for c in row if c != "")] if rows else ["None."]
    return out


def _has_row(text: str, *cells) -> bool:
    return "\n" + "\n".join(str(c) for c in cells) + "\n" in text
