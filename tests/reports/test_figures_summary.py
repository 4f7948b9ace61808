"""For a seeded family, every entry of its summary, in the CSV and in the PDF's extracted text,
equals what the API shows the person who asked for it (the family's detail, assessments, plan,
interventions, contacts and chronology, the agencies' names): a partner practitioner of another
agency, for a period, and for contrast the key worker, for the whole record. The restricted
entries of other agencies are not in the partner's summary at all; they are in the key
worker's."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from django.utils import timezone

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import services as case_services
from cases.models import (
    ActionStatus,
    ContactMethod,
    Family,
    Involvement,
    Need,
    NeedStatus,
    Relationship,
)
from cases.views import CHRONOLOGY_TYPES
from tests import factories as f
from tests.reports.conftest import (
    api_all,
    module_reports,
    pdf_lines,
    without_repeated_headers,
    words,
)

pytestmark = pytest.mark.django_db

# Restricted entries, by who recorded them, and what only some may read of them.
KEY_WORKER_SECRET = "Disclosed a worry about the father"
POLICE_SECRET = "Police welfare visit after a call-out"
POLICE_SECRET_TITLE = "Police diversion referral"
SCHOOL_SECRET = "Pupil asked to speak to the school nurse"


def _local(days_ago: int, hour: int = 11) -> datetime:
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime.combine(day, time(hour, 15)))


def _seed() -> dict:
    today = timezone.localdate()
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Southbank Early Help")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Southbank Academy")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Southbank Police")
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Southbank Health Visiting")
    kw = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    teacher = f.staff_make(agency=school, role=Role.PRACTITIONER)
    officer = f.staff_make(agency=police, role=Role.PRACTITIONER)
    nurse = f.staff_make(agency=health, role=Role.PRACTITIONER)
    family = f.family_make(by=kw, name="Quill household")
    Family.objects.filter(id=family.id).update(opened_on=today - timedelta(days=400))
    parent = f.parent_make(family=family, by=kw, given_name="Morgan")
    for given, relationship, born, expected in (
        ("Riley", "child", date(2016, 4, 2), None),
        ("Sam", "child", date(2011, 11, 30), None),
        ("Alex", "partner", date(1994, 7, 7), today + timedelta(days=60)),
        ("Nan", "grandparent", None, None),
    ):
        case_services.person_create(
            family=family,
            by=kw,
            given_name=given,
            family_name="Quill",
            date_of_birth=born,
            relationship=relationship,
            expected_birth_on=expected,
        )
    teams = {
        "school": case_services.involvement_create(
            family=family, by=kw, agency=school, practitioner_id=teacher.user_id, role="Teacher"
        ),
        "police": case_services.involvement_create(
            family=family, by=kw, agency=police, practitioner_id=officer.user_id
        ),
        "health": case_services.involvement_create(family=family, by=kw, agency=health),
    }
    f.consent_make(family=family, by=kw, agencies=[school, police, health], giver=parent)
    needs = []
    for by, outcome, descriptor, days, status, achieved in (
        (kw, "education", "Attendance below 85 per cent", 300, "achieved", 120),
        (kw, "health", "Parent's low mood", 250, "in_progress", None),
        (teacher, "education", "Reading age behind", 90, "identified", None),
        (kw, "housing", "Rent arrears", 200, "closed", None),
    ):
        need = case_services.need_create(
            family=family, by=by, outcome=f.outcome(outcome), descriptor=descriptor
        )
        Need.objects.filter(id=need.id).update(
            identified_on=today - timedelta(days=days),
            status=status,
            achieved_on=today - timedelta(days=achieved) if achieved else None,
        )
        needs.append(need)
    for days, summary in ((300, "First whole-family assessment"), (100, "Review assessment")):
        case_services.assessment_create(
            family=family, by=kw, completed_on=today - timedelta(days=days), summary=summary
        )
    for by, owner, description, due, status, covers in (
        (kw, early_help, "Weekly family support visits", 30, "in_progress", needs[:2]),
        (teacher, school, "Reading support at home", 14, "open", needs[2:3]),
        (teacher, school, "Daily attendance check", -60, "done", needs[:1]),
        (officer, police, "Neighbourhood officer to visit", 7, "open", []),
    ):
        case_services.plan_action_create(
            family=family,
            by=by,
            description=description,
            owner_agency=owner,
            due_on=today + timedelta(days=due),
            needs=covers,
            status=status,
        )
    interventions = {}
    for key, by, title, days, ended, visibility, outcome in (
        ("early", kw, "Early parenting course", 250, 220, "team", "Completed"),
        ("eve", kw, "Family group conference", 201, 199, "team", ""),
        ("dawn", kw, "Money advice", 200, None, "team", ""),
        ("parenting", kw, "Parenting course", 90, None, "team", ""),
        ("police", officer, POLICE_SECRET_TITLE, 60, None, "restricted", ""),
        ("school_secret", teacher, "Nurture group", 50, None, "restricted", ""),
        ("school", teacher, "Attendance mentor", 30, 10, "team", "Attendance up to 93 per cent"),
    ):
        interventions[key] = case_services.intervention_create(
            family=family,
            by=by,
            kind="parenting" if by is kw else "other",
            title=title,
            started_on=today - timedelta(days=days),
            ended_on=today - timedelta(days=ended) if ended else None,
            visibility=visibility,
            outcome=outcome,
        )
    contacts = {}
    for key, by, days, method, summary, visibility in (
        ("early", kw, 260, "home_visit", "Home visit before the period", "team"),
        # Each side of the period's first midnight (the partner's period starts 200 days ago).
        ("eve", kw, (201, 23), "phone", "Late call the day before the period", "team"),
        ("dawn", kw, (200, 0), "phone", "Early call on the period's first day", "team"),
        ("kw", kw, 80, "home_visit", "Home visit with both parents", "team"),
        ("kw_secret", kw, 70, "phone", KEY_WORKER_SECRET, "restricted"),
        ("police_secret", officer, 40, "home_visit", POLICE_SECRET, "restricted"),
        ("police", officer, 35, "phone", "Call about the neighbour dispute", "team"),
        ("school_secret", teacher, 20, "school", SCHOOL_SECRET, "restricted"),
        ("school", teacher, 5, "school", "Meeting with the class teacher", "team"),
    ):
        contacts[key] = case_services.contact_create(
            family=family,
            by=by,
            occurred_at=_local(*days) if isinstance(days, tuple) else _local(days),
            method=method,
            summary=summary,
            visibility=visibility,
        )
    # Health left the team a while ago: out of the team, its arrival and departure in the
    # chronology.
    case_services.involvement_end(involvement=teams["health"], by=kw)
    Involvement.objects.filter(family=family).update(started_on=today - timedelta(days=380))
    Involvement.objects.filter(id=teams["health"].id).update(ended_on=today - timedelta(days=3))
    return {
        "family": family,
        "key_worker": kw,
        "partner": teacher,
        "nurse": nurse,
        "contacts": contacts,
        "interventions": interventions,
    }


# --- what the API shows each person ------------------------------------------------------------


def _at(value: str) -> datetime:
    return timezone.localtime(datetime.fromisoformat(value))


def _d(value):
    return datetime.fromisoformat(value).date() if value else None


def _day(d) -> str:
    return "" if d is None else f"{d.day} {d:%B %Y}"


def _api(client, family_id: int, start=None, end=None) -> dict:
    """The family as the API shows the client's user, entries within the period (if any)."""
    base = f"/api/v1/families/{family_id}/"
    detail = client.get(base).json()
    names = {a["id"]: a["name"] for a in api_all(client, "/api/v1/agencies/?page_size=200")}

    def within(day) -> bool:
        return (start is None or day >= start) and (end is None or day <= end)

    interventions = api_all(client, base + "interventions/?page_size=200")
    contacts = api_all(client, base + "contacts/?page_size=200")
    chronology = api_all(client, base + "chronology/?page_size=200")
    return {
        "detail": detail,
        "names": names,
        "assessments": sorted(
            api_all(client, base + "assessments/?page_size=200"),
            key=lambda a: (a["completed_on"], a["id"]),
            reverse=True,
        ),
        "actions": sorted(
            api_all(client, base + "actions/?page_size=200"),
            key=lambda a: (names[a["owner_agency"]], a["due_on"], a["id"]),
        ),
        "interventions": sorted(
            (i for i in interventions if within(_d(i["started_on"]))),
            key=lambda i: (i["started_on"], i["id"]),
        ),
        "contacts": sorted(
            (c for c in contacts if within(_at(c["occurred_at"]).date())),
            key=lambda c: (_at(c["occurred_at"]), c["id"]),
        ),
        "chronology": sorted(
            (c for c in chronology if within(_at(c["at"]).date())),
            key=lambda c: (_at(c["at"]), c["id"]),
        ),
        # Everything the person sees, whatever the period: what the period left out.
        "all_contacts": contacts,
        "all_interventions": interventions,
        "all_chronology": chronology,
    }


def _restricted(entry) -> str:
    return " (restricted)" if entry["visibility"] == "restricted" else ""


def _expected_csv(api: dict) -> list[list[str]]:
    detail, names = api["detail"], api["names"]
    rows = []
    for m in detail["members"]:
        expected = f", expected birth {m['expected_birth_on']}" if m["expected_birth_on"] else ""
        rows.append(
            [
                "member",
                m["date_of_birth"] or "",
                "",
                m["relationship"],
                f"{m['given_name']} {m['family_name']}{expected}",
            ]
        )
    for t in detail["team"]:
        rows.append(
            ["team", t["started_on"], t["agency_name"], t["role"], t["practitioner_name"] or ""]
        )
    for n in detail["needs"]:
        achieved = f", achieved {n['achieved_on']})" if n["achieved_on"] else ")"
        rows.append(
            [
                "need",
                n["identified_on"],
                "",
                n["outcome"],
                f"{n['descriptor']} ({n['status']}{achieved}",
            ]
        )
    for a in api["assessments"]:
        rows.append(
            ["assessment", a["completed_on"], names[a["agency"]], "assessment", a["summary"]]
        )
    for a in api["actions"]:
        rows.append(
            ["plan_action", a["due_on"], names[a["owner_agency"]], a["status"], a["description"]]
        )
    for i in api["interventions"]:
        outcome = f": {i['outcome']}" if i["outcome"] else ""
        rows.append(
            [
                "intervention",
                i["started_on"],
                i["agency_name"],
                i["kind"],
                f"{i['title']}{_restricted(i)}{outcome}",
            ]
        )
    for c in api["contacts"]:
        rows.append(
            [
                "contact",
                _at(c["occurred_at"]).isoformat(),
                c["agency_name"],
                c["method"],
                f"{c['summary']}{_restricted(c)}",
            ]
        )
    for c in api["chronology"]:
        rows.append(
            [
                "chronology",
                _at(c["at"]).isoformat(),
                c["agency_name"] or "",
                c["type"],
                c["summary"],
            ]
        )
    return rows


SECTIONS = [
    ("Household", ["Name", "Relationship", "Date of birth", "Expected birth"]),
    ("Team around the family", ["Agency", "Practitioner", "Role", "Since"]),
    ("Needs", ["Outcome", "Need", "Status", "Identified", "Achieved"]),
    ("Assessments", ["Completed", "Agency", "Summary"]),
    ("Plan", ["Action", "Owner", "Due", "Status"]),
    ("Interventions", ["Started", "Ended", "Agency", "Intervention", "Outcome"]),
    ("Contacts", ["When", "Agency", "How", "Summary"]),
    ("Chronology", ["When", "Agency", "Type", "Entry"]),
]


def _expected_pdf(api: dict) -> dict[str, list]:
    """Each section's table rows, as the PDF lays them out (an empty cell shows nothing)."""
    detail, names = api["detail"], api["names"]
    return {
        "Household": [
            (
                f"{m['given_name']} {m['family_name']}",
                Relationship(m["relationship"]).label,
                _day(_d(m["date_of_birth"])),
                _day(_d(m["expected_birth_on"])),
            )
            for m in detail["members"]
        ],
        "Team around the family": [
            (t["agency_name"], t["practitioner_name"] or "", t["role"], _day(_d(t["started_on"])))
            for t in detail["team"]
        ],
        "Needs": [
            (
                n["outcome_label"],
                n["descriptor"],
                NeedStatus(n["status"]).label,
                _day(_d(n["identified_on"])),
                _day(_d(n["achieved_on"])),
            )
            for n in detail["needs"]
        ],
        "Assessments": [
            (_day(_d(a["completed_on"])), names[a["agency"]], a["summary"])
            for a in api["assessments"]
        ],
        "Plan": [
            (
                a["description"],
                names[a["owner_agency"]],
                _day(_d(a["due_on"])),
                ActionStatus(a["status"]).label,
            )
            for a in api["actions"]
        ],
        "Interventions": [
            (
                _day(_d(i["started_on"])),
                _day(_d(i["ended_on"])),
                i["agency_name"],
                f"{i['title']}{_restricted(i)}",
                i["outcome"],
            )
            for i in api["interventions"]
        ],
        "Contacts": [
            (
                f"{_at(c['occurred_at']):%Y-%m-%d %H:%M}",
                c["agency_name"],
                ContactMethod(c["method"]).label,
                f"{c['summary']}{_restricted(c)}",
            )
            for c in api["contacts"]
        ],
        "Chronology": [
            (
                f"{_at(c['at']):%Y-%m-%d %H:%M}",
                c["agency_name"] or "",
                CHRONOLOGY_TYPES.get(c["type"], c["type"]),
                c["summary"],
            )
            for c in api["chronology"]
        ],
    }


def _pdf_sections(text: str) -> dict[str, list[str]]:
    """The lines of each section of the summary PDF, its heading left out."""
    lines = pdf_lines(text, "Family summary")
    at = [lines.index(SECTIONS[0][0])]
    for heading, _ in SECTIONS[1:]:
        at.append(lines.index(heading, at[-1] + 1))
    at.append(len(lines))
    sections = {heading: lines[at[n] + 1 : at[n + 1]] for n, (heading, _) in enumerate(SECTIONS)}
    # The chart of chronology entries by type stands between the contacts and the chronology.
    contacts = sections["Contacts"]
    sections["Contacts"] = contacts[: contacts.index("Chronology entries by type")]
    return sections


@pytest.fixture(scope="module")
def summaries(django_db_setup, django_db_blocker, tmp_path_factory):
    with module_reports(django_db_blocker, tmp_path_factory.mktemp("reports")) as reports_for:
        seed = _seed()
        family = seed["family"]
        end = timezone.localdate()
        start = end - timedelta(days=200)
        out = {"seed": seed, "start": start, "end": end}
        for who, period in (("partner", (start, end)), ("key_worker", (None, None))):
            reports = reports_for(seed[who].user)
            body = {"kind": "family_summary", "family": family.id}
            if period[0]:
                body |= {"period_start": start.isoformat(), "period_end": end.isoformat()}
            out[who] = {
                "api": _api(reports.client, family.id, *period),
                "csv": reports.csv(**body),
                "pdf": reports.pdf_text(**body),
            }
        # A practitioner whose agency has left the team sees neither the family nor its summary.
        nurse = reports_for(seed["nurse"].user)
        out["nurse"] = {
            "detail": nurse.client.get(f"/api/v1/families/{family.id}/").status_code,
            "summary": nurse.ask(kind="family_summary", format="csv", family=family.id).status_code,
        }
        yield out


def test_the_scenario(summaries):
    seed, partner, key_worker = summaries["seed"], summaries["partner"], summaries["key_worker"]
    contacts = {k: c.id for k, c in seed["contacts"].items()}
    interventions = {k: i.id for k, i in seed["interventions"].items()}
    partner_sees = {c["id"] for c in partner["api"]["all_contacts"]}
    key_worker_sees = {c["id"] for c in key_worker["api"]["all_contacts"]}
    # Restricted entries of the key worker and the police: not the partner's to see; the
    # school's own restricted entries are.
    assert contacts["kw_secret"] not in partner_sees and contacts["police_secret"] not in (
        partner_sees
    )
    assert contacts["school_secret"] in partner_sees
    assert set(contacts.values()) == key_worker_sees
    partner_interventions = {i["id"] for i in partner["api"]["all_interventions"]}
    assert interventions["police"] not in partner_interventions
    assert interventions["school_secret"] in partner_interventions
    assert {i["id"] for i in key_worker["api"]["all_interventions"]} == set(interventions.values())
    # The period leaves entries out of the partner's summary; the key worker's has them all.
    assert len(partner["api"]["contacts"]) < len(partner["api"]["all_contacts"])
    assert len(partner["api"]["interventions"]) < len(partner["api"]["all_interventions"])
    assert len(partner["api"]["chronology"]) < len(partner["api"]["all_chronology"])
    start = summaries["start"]
    assert {i["started_on"] for i in partner["api"]["interventions"]} >= {start.isoformat()}
    assert {_at(c["occurred_at"]).date() for c in partner["api"]["contacts"]} >= {start}
    assert len(key_worker["api"]["chronology"]) == len(key_worker["api"]["all_chronology"])
    detail = partner["api"]["detail"]
    assert len(detail["members"]) == 5 and len(detail["needs"]) == 4
    assert len(detail["team"]) == 3  # the lead agency, the school, the police: health has left
    assert summaries["nurse"] == {"detail": 404, "summary": 404}


@pytest.mark.parametrize("who", ["partner", "key_worker"])
def test_the_csv_is_what_the_api_shows(summaries, who):
    mine = summaries[who]
    rows = [[r["section"], r["date"], r["agency"], r["type"], r["detail"]] for r in mine["csv"]]
    assert rows == _expected_csv(mine["api"])


@pytest.mark.parametrize("who", ["partner", "key_worker"])
def test_the_pdf_is_what_the_api_shows(summaries, who):
    mine = summaries[who]
    text, family = mine["pdf"], mine["api"]["detail"]
    assert f"\n{family['reference']} {family['name']}\n" in text
    if who == "partner":
        period = f"{_day(summaries['start'])} to {_day(summaries['end'])}"
        assert f"Lead agency: {family['lead_agency_name']}; chronology {period}" in text
    else:
        assert f"\nLead agency: {family['lead_agency_name']}\n" in text
    sections = _pdf_sections(text)
    expected = _expected_pdf(mine["api"])
    for heading, header in SECTIONS:
        rows = expected[heading]
        cells = [str(c) for row in rows for c in row if c != ""]
        want = [*header, *cells] if rows else ["None."]
        got = without_repeated_headers(sections[heading], [header])
        assert words(got) == words(want), heading


def test_restricted_entries_only_for_those_who_may_see_them(summaries):
    partner, key_worker = summaries["partner"], summaries["key_worker"]
    hidden = [
        KEY_WORKER_SECRET,
        POLICE_SECRET,
        POLICE_SECRET_TITLE,
        "Southbank Police recorded a restricted",
        "Southbank Early Help recorded a restricted",
    ]
    for who, sees in ((partner, False), (key_worker, True)):
        csv_text = "\n".join(" ".join(r.values()) for r in who["csv"])
        pdf_text = words(who["pdf"].splitlines())
        for secret in hidden:
            assert (secret in csv_text) == sees, secret
            assert (secret in pdf_text) == sees, secret
        # The school's own restricted entries are in both.
        assert f"{SCHOOL_SECRET} (restricted)" in csv_text
        assert f"{SCHOOL_SECRET} (restricted)" in pdf_text
        assert "Nurture group (restricted)" in csv_text and "Nurture group (restricted)" in (
            pdf_text
        )
