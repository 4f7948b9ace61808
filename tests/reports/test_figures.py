"""For a seeded council, every figure of the caseload and outcomes reports, in the CSV and in
the PDF's extracted text, equals the one this test works out on its own from the API (the
families list and detail, each family's team, contacts and interventions), read as the same
manager."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from cases.models import Family, Need
from tests import factories as f
from tests.reports.conftest import api_all, module_reports

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 12, 31)
OUTCOMES = ["education", "health", "housing", "crime", "financial_stability"]


def _seed():
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Riverside Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police")
    manager = f.staff_make(agency=early_help, role=Role.MANAGER)
    key_workers = [f.staff_make(agency=early_help, role=Role.KEY_WORKER) for _ in range(3)]
    teacher = f.staff_make(agency=school, role=Role.PRACTITIONER)
    for i in range(9):
        kw = key_workers[i % 3]
        family = f.family_make(by=kw, name=f"Household {i}")
        f.involvement_make(family=family, by=kw, agency=school, practitioner=teacher.user)
        agencies = [school]
        if i % 2:
            f.involvement_make(family=family, by=kw, agency=police)
            agencies.append(police)
        f.consent_make(family=family, by=kw, agencies=agencies)
        Family.objects.filter(id=family.id).update(
            level_of_need=[1, 2, 3, 4, None][i % 5],
            opened_on=date(2025, 11, 1),
        )
        for j in range(i % 4 + 1):
            need = case_services.need_create(
                family=family, by=kw, outcome=f.outcome(OUTCOMES[(i + j) % 5]), descriptor="N"
            )
            found = date(2026, 1 + (i + j) % 6, 3 + j)
            kind = (i + 2 * j) % 4
            achieved = found + timedelta(days=10 * (i + j + 1)) if kind in (0, 1) else None
            Need.objects.filter(id=need.id).update(
                identified_on=found,
                status={0: "achieved", 1: "achieved", 2: "in_progress", 3: "closed"}[kind],
                achieved_on=achieved,
            )
        for j in range(i % 3 + 1):
            month = 1 + (i + j) % 10
            case_services.contact_create(
                family=family,
                by=teacher if j % 2 else kw,
                occurred_at=datetime(2026, month, 14, 11, 0, tzinfo=UTC),
                method="phone",
                summary="Call",
                visibility="restricted" if j == 2 else "team",
            )
            case_services.intervention_create(
                family=family,
                by=kw if j % 2 else teacher,
                kind="parenting",
                title="Course",
                started_on=date(2026, month, 10),
            )
        if i == 8:
            Family.objects.filter(id=family.id).update(status="closed", closed_on=date(2026, 10, 1))
    # A family of another council, and one of this council opened after the period.
    other = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Elsewhere")
    f.family_make(by=f.staff_make(agency=other, role=Role.KEY_WORKER), name="Elsewhere")
    late = f.family_make(by=key_workers[0], name="Opened later")
    Family.objects.filter(id=late.id).update(opened_on=date(2027, 1, 5))
    return manager


def _expected(client, agency_name: str) -> dict:
    """The figures, from the API alone."""
    families = [
        fam
        for fam in api_all(client, "/api/v1/families/?page_size=200")
        if fam["lead_agency_name"] == agency_name and date.fromisoformat(fam["opened_on"]) <= END
    ]
    status, level, key_worker = Counter(), Counter(), defaultdict(Counter)
    agencies = defaultdict(set)
    activity = defaultdict(Counter)
    needs = []
    for fam in families:
        detail = client.get(f"/api/v1/families/{fam['id']}/").json()
        status[detail["status"]] += 1
        level[detail["level_of_need"]] += 1
        key_worker[detail["key_worker_name"]][detail["status"]] += 1
        for team in api_all(client, f"/api/v1/families/{fam['id']}/team/"):
            ended = team["ended_on"] and date.fromisoformat(team["ended_on"]) < START
            if date.fromisoformat(team["started_on"]) <= END and not ended:
                agencies[team["agency_name"]].add(fam["id"])
        for contact in api_all(client, f"/api/v1/families/{fam['id']}/contacts/"):
            when = timezone.localtime(datetime.fromisoformat(contact["occurred_at"])).date()
            if START <= when <= END:
                activity[(contact["agency_name"], when.strftime("%Y-%m"))]["contacts"] += 1
        for intervention in api_all(client, f"/api/v1/families/{fam['id']}/interventions/"):
            when = date.fromisoformat(intervention["started_on"])
            if START <= when <= END:
                activity[(intervention["agency_name"], when.strftime("%Y-%m"))][
                    "interventions"
                ] += 1
        needs += [n for n in detail["needs"] if date.fromisoformat(n["identified_on"]) <= END]
    per_outcome = {}
    for code in [*OUTCOMES, "all"]:
        mine = [n for n in needs if code == "all" or n["outcome"] == code]
        achieved = [
            n
            for n in mine
            if n["status"] == "achieved" and date.fromisoformat(n["achieved_on"]) <= END
        ]
        days = [
            (date.fromisoformat(n["achieved_on"]) - date.fromisoformat(n["identified_on"])).days
            for n in achieved
        ]
        sustained = END - timedelta(weeks=26)
        per_outcome[code] = {
            "identified": len(mine),
            "in_progress": sum(1 for n in mine if n not in achieved and n["status"] != "closed"),
            "achieved": len(achieved),
            "sustained": sum(
                1 for n in achieved if date.fromisoformat(n["achieved_on"]) <= sustained
            ),
            "median_days_to_achieve": _median(statistics.median(days)) if days else "",
        }
    trend = Counter()
    for n in needs:
        found = date.fromisoformat(n["identified_on"])
        if found >= START:
            trend[(found.strftime("%Y-%m"), "identified")] += 1
        if n["status"] == "achieved" and START <= date.fromisoformat(n["achieved_on"]) <= END:
            trend[(n["achieved_on"][:7], "achieved")] += 1
    return {
        "families": len(families),
        "status": status,
        "level": level,
        "key_worker": key_worker,
        "agencies": {name: len(ids) for name, ids in agencies.items()},
        "activity": activity,
        "outcomes": per_outcome,
        "trend": trend,
    }


def _median(value) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


@pytest.fixture(scope="module")
def figures(django_db_setup, django_db_blocker, tmp_path_factory):
    with module_reports(django_db_blocker, tmp_path_factory.mktemp("reports")) as reports_for:
        manager = _seed()
        reports = reports_for(manager.user)
        period = {"period_start": START.isoformat(), "period_end": END.isoformat()}
        yield {
            "expected": _expected(reports.client, manager.agency.name),
            "caseload_csv": reports.csv(kind="caseload", **period),
            "caseload_pdf": reports.pdf_text(kind="caseload", **period),
            "outcomes_csv": reports.csv(kind="outcomes", **period),
            "outcomes_pdf": reports.pdf_text(kind="outcomes", **period),
        }


def _csv(rows, section) -> dict:
    return {
        (r["item"], r["month"], r["measure"]): r["value"] for r in rows if r["section"] == section
    }


def _has_row(text: str, *cells) -> bool:
    return "\n" + "\n".join(str(c) for c in cells) + "\n" in text


def test_caseload_figures(figures):
    e, rows, text = figures["expected"], figures["caseload_csv"], figures["caseload_pdf"]
    # The scenario is what it says: a closed family, two agencies involved, activity.
    assert e["families"] == 9 and e["status"]["closed"] == 1
    assert len(e["agencies"]) == 3 and len(e["activity"]) > 5
    assert _csv(rows, "families") == {("all", "", "families"): str(e["families"])}
    assert f"Families open at some time in the period: {e['families']}" in text
    assert _csv(rows, "families_by_status") == {
        (s, "", "families"): str(e["status"][s]) for s in ("open", "closed")
    }
    for s in ("open", "closed"):
        assert _has_row(text, s.capitalize(), e["status"][s])
    levels = {
        ("Level " + str(k) if k else "Not recorded", "", "families"): str(v)
        for k, v in e["level"].items()
    }
    assert _csv(rows, "families_by_level_of_need") == levels
    for (label, _, _), n in levels.items():
        assert _has_row(text, label, n)
    by_kw = _csv(rows, "families_by_key_worker")
    assert by_kw == {
        (name, "", s): str(counts[s])
        for name, counts in e["key_worker"].items()
        for s in ("open", "closed")
    }
    for name, counts in e["key_worker"].items():
        assert _has_row(text, name, counts["open"], counts["closed"])
    assert _csv(rows, "families_by_agency_involved") == {
        (name, "", "families"): str(n) for name, n in e["agencies"].items()
    }
    for name, n in e["agencies"].items():
        assert _has_row(text, name, n)
    activity = _csv(rows, "activity")
    assert activity == {
        (agency, month, what): str(counts[what])
        for (agency, month), counts in e["activity"].items()
        for what in ("contacts", "interventions")
    }
    for (agency, month), counts in e["activity"].items():
        name = date.fromisoformat(month + "-01").strftime("%B %Y")
        assert _has_row(text, name, agency, counts["contacts"], counts["interventions"])


def test_outcomes_figures(figures):
    e, rows, text = figures["expected"], figures["outcomes_csv"], figures["outcomes_pdf"]
    got = _csv(rows, "outcome")
    for code, figs in e["outcomes"].items():
        for measure, value in figs.items():
            assert got[(code, "", measure)] == str(value), (code, measure)
    assert e["outcomes"]["all"]["achieved"] > 0 and e["outcomes"]["all"]["in_progress"] > 0
    labels = {
        "education": "Getting a good education",
        "health": "Improved mental and physical health",
        "housing": "Secure housing",
        "crime": "Crime prevention and tackling crime",
        "financial_stability": "Financial stability",
        "all": "All outcomes",
    }
    for code, figs in e["outcomes"].items():
        cells = [figs[m] for m in ("identified", "in_progress", "achieved", "sustained")]
        median = figs["median_days_to_achieve"]
        assert _has_row(text, labels[code], *cells, *([median] if median != "" else [])), code
    trend = _csv(rows, "trend")
    for month in [f"2026-{m:02d}" for m in range(1, 13)]:
        for what in ("identified", "achieved"):
            assert trend[("all", month, what)] == str(e["trend"][(month, what)])
        name = date.fromisoformat(month + "-01").strftime("%B %Y")
        assert _has_row(
            text, name, e["trend"][(month, "identified")], e["trend"][(month, "achieved")]
        )
    assert "OFFICIAL-SENSITIVE" in text
