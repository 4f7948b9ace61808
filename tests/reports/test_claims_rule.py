"""The results-claim rule, family by family: hand-written families, one per condition and edge,
each judged as at ON through the API (the claims CSV and the PDF's text), with its verdict, the
first unmet condition in plain words and, where only time stands in the way, the date from
which it would be claimable."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from cases.models import Family, Need
from tests import factories as f
from tests.reports.conftest import module_reports

pytestmark = pytest.mark.django_db

ON = date(2025, 3, 31)
SUSTAINED = ON - timedelta(weeks=26)  # 30 September 2024: achieved on or before → sustained
START = date(2024, 4, 1)
CHILD = ("child", date(2015, 6, 1), None)
ADULT = ("parent", date(1988, 2, 2), None)


def need(outcome, *, found=date(2024, 1, 10), achieved=SUSTAINED, status=None, linked=True):
    return {
        "outcome": outcome,
        "found": found,
        "achieved": achieved,
        "status": status or ("achieved" if achieved else "in_progress"),
        "linked": linked,
    }


THREE = [need("education"), need("health"), need("housing")]


@dataclass
class Case:
    name: str
    eligible: bool
    condition: str = ""  # the first unmet condition, a-f
    words: str = ""  # in the reason
    claimable_from: date | None = None
    members: list = field(default_factory=lambda: [ADULT, CHILD])
    needs: list = field(default_factory=lambda: list(THREE))
    assessed: date | None = date(2024, 2, 1)
    key_worker: bool = True
    closed: bool = False


CASES = [
    Case("eligible: every condition met", True),
    Case("eligible although closed", True, closed=True),
    Case(
        "two headline outcomes, not three",
        False,
        "b",
        "Needs under 2 headline outcomes by 31 March 2025: at least 3 are needed",
        needs=[need("education"), need("health"), need("health")],
    ),
    Case(
        "a need achieved 25 weeks before the date",
        False,
        "f",
        "A need was achieved on 7 October 2024, less than 26 weeks before 31 March 2025",
        claimable_from=date(2024, 10, 7) + timedelta(weeks=26),
        needs=[
            need("education"),
            need("health"),
            need("housing", achieved=ON - timedelta(weeks=25)),
        ],
    ),
    Case(
        "a need achieved exactly 26 weeks before the date",
        True,
        needs=[need("education"), need("health"), need("housing", achieved=SUSTAINED)],
    ),
    Case(
        "a need found mid-case, after the assessment, achieved and sustained",
        True,
        needs=[*THREE, need("crime", found=date(2024, 5, 20), achieved=date(2024, 8, 1))],
    ),
    Case(
        "a need found mid-case and achieved too recently",
        False,
        "f",
        "less than 26 weeks before 31 March 2025",
        claimable_from=date(2024, 12, 1) + timedelta(weeks=26),
        needs=[*THREE, need("crime", found=date(2024, 9, 1), achieved=date(2024, 12, 1))],
    ),
    Case(
        "no whole-family assessment",
        False,
        "d",
        "No whole-family assessment completed on or before 31 March 2025",
        assessed=None,
    ),
    Case(
        "the assessment completed after the date",
        False,
        "d",
        "(the first was completed on 15 April 2025)",
        claimable_from=date(2025, 4, 15),
        assessed=date(2025, 4, 15),
    ),
    Case(
        "the plan misses a need",
        False,
        "e",
        "1 need is not linked to any plan action",
        needs=[need("education"), need("health"), need("housing", linked=False)],
    ),
    Case(
        "no dependent child but an expectant parent",
        True,
        members=[("parent", date(1998, 1, 1), date(2025, 6, 1))],
    ),
    Case(
        "a child turning 18 on the date",
        False,
        "a",
        "No dependent child (a member under 18 on 31 March 2025) and no expectant parent",
        members=[ADULT, ("child", date(2007, 3, 31), None)],
    ),
    Case(
        "a child turning 18 the day after the date",
        True,
        members=[ADULT, ("child", date(2007, 4, 1), None)],
    ),
    Case(
        "adults only",
        False,
        "a",
        "No dependent child",
        members=[ADULT, ("partner", date(1986, 5, 5), None)],
    ),
    Case(
        "a baby expected before the date (no child recorded since)",
        False,
        "a",
        "and no expectant parent",
        members=[("parent", date(1998, 1, 1), date(2025, 1, 10))],
    ),
    Case("no key worker", False, "c", "No key worker", key_worker=False),
    Case(
        "no key worker and no assessment: the first unmet is the key worker",
        False,
        "c",
        "No key worker",
        key_worker=False,
        assessed=None,
    ),
    Case(
        "a need still in progress",
        False,
        "f",
        "1 need was not achieved by 31 March 2025",
        needs=[*THREE[:2], need("housing", achieved=None)],
    ),
    Case(
        "a need achieved only after the date",
        False,
        "f",
        "1 need was not achieved by 31 March 2025",
        claimable_from=date(2025, 5, 1) + timedelta(weeks=26),
        needs=[*THREE[:2], need("housing", achieved=date(2025, 5, 1))],
    ),
    Case(
        "a need closed without an outcome",
        False,
        "f",
        "1 need was not achieved by 31 March 2025",
        needs=[*THREE[:2], need("housing", achieved=None, status="closed")],
    ),
    Case(
        "a need identified after the date does not count yet",
        True,
        needs=[*THREE, need("crime", found=date(2025, 4, 10), achieved=None)],
    ),
]


def _make(case: Case, *, key_worker, manager, lead_agency) -> Family:
    by = key_worker if case.key_worker else manager
    family = f.family_make(by=by, name=case.name[:60])
    assert (family.key_worker_id is not None) == case.key_worker
    for relationship, born, expected in case.members:
        f.PersonFactory(
            family=family,
            relationship=relationship,
            date_of_birth=born,
            expected_birth_on=expected,
        )
    linked = []
    for spec in case.needs:
        made = case_services.need_create(
            family=family, by=by, outcome=f.outcome(spec["outcome"]), descriptor=spec["outcome"]
        )
        # Dates from the past: the service records a need as found today.
        Need.objects.filter(id=made.id).update(
            identified_on=spec["found"], status=spec["status"], achieved_on=spec["achieved"]
        )
        if spec["linked"]:
            linked.append(made)
    if linked:
        case_services.plan_action_create(
            family=family,
            by=by,
            description="Family plan",
            owner_agency=lead_agency,
            due_on=date(2024, 6, 1),
            needs=linked,
        )
    if case.assessed:
        case_services.assessment_create(
            family=family, by=by, completed_on=case.assessed, summary="Whole-family assessment"
        )
    if case.closed:
        Family.objects.filter(id=family.id).update(status="closed", closed_on=date(2025, 2, 1))
    return family


@pytest.fixture(scope="module")
def judged(django_db_setup, django_db_blocker, tmp_path_factory):
    with module_reports(django_db_blocker, tmp_path_factory.mktemp("reports")) as reports_for:
        yield _judge(reports_for)


def _judge(reports_for):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help Claims")
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    manager = f.staff_make(agency=early_help, role=Role.MANAGER)
    families = {
        case.name: _make(case, key_worker=key_worker, manager=manager, lead_agency=early_help)
        for case in CASES
    }
    # Another council's family is not in this council's claims.
    other = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Elsewhere Early Help")
    f.family_make(by=f.staff_make(agency=other, role=Role.KEY_WORKER), name="Elsewhere")
    reports = reports_for(manager.user)
    body = {"kind": "claims", "period_start": START.isoformat(), "period_end": ON.isoformat()}
    rows = {row["family_reference"]: row for row in reports.csv(**body)}
    return families, rows, reports.pdf_text(**body)


def test_at_least_fifteen_hand_written_families():
    assert len(CASES) >= 15
    assert {c.condition for c in CASES if not c.eligible} == set("abcdef")


def test_one_csv_row_per_family_of_the_council(judged):
    families, rows, _ = judged
    assert set(rows) == {family.reference for family in families.values()}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verdict_reason_and_date(judged, case: Case):
    families, rows, text = judged
    family = families[case.name]
    row = rows[family.reference]
    assert row["eligible"] == ("yes" if case.eligible else "no")
    if case.eligible:
        assert row["reason"] == ""
        assert row["first_unmet_condition"] == ""
        assert row["claimable_from"] == ""
        assert "education: education (identified" in row["evidence_needs"]
        assert row["evidence_plan"].startswith("assessment ")
    else:
        assert row["first_unmet_condition"] == case.condition
        assert case.words in row["reason"], row["reason"]
        assert row["evidence_needs"] == ""
    expected = case.claimable_from.isoformat() if case.claimable_from else ""
    assert row["claimable_from"] == expected
    # The PDF says the same: the family's row of the table, with its verdict and reason.
    cells = pdf_row(text, family.reference)
    assert cells[1] == case.name[:40].strip()
    assert cells[2] == ("yes" if case.eligible else "no")
    if not case.eligible:
        assert cells[3] == f"({case.condition}) {row['reason']}", cells
    if case.claimable_from:
        day = case.claimable_from
        assert cells[-1] == f"{day.day} {day:%B %Y}", cells


def pdf_row(text: str, reference: str) -> list[str]:
    """The cells of a family's row in the PDF's table of every family, as extracted (one line
    each, a long reason possibly wrapped onto more)."""
    lines = [ln.strip() for ln in text.splitlines()]
    at = lines.index("Every family")
    start = lines.index(reference, at)
    end = start + 1
    while end < len(lines) and not re.fullmatch(r"TA\d{6}|OFFICIAL-SENSITIVE", lines[end]):
        end += 1
    return lines[start:end]


def test_the_pdf_has_its_furniture_and_a_summary(judged):
    families, rows, text = judged
    assert text.count("OFFICIAL-SENSITIVE") >= 2 * text.count("Page ")
    eligible = sum(1 for c in CASES if c.eligible)
    assert f"\nEligible\n{eligible}\n" in text
    assert f"\nFamilies judged\n{len(CASES)}\n" in text
    assert "Spot-check evidence for each eligible family" in text
