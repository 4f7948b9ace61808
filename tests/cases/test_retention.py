"""Retention: a family closed longer than RETENTION_CLOSED_YEARS (6) has its personal details
replaced (cases/retention.py, decision 0022), and nothing else changes.

Time moves by the date the run is given, never by sleeping: the family is closed today through
the API, and the run is told it is 6 years and a day later (or a day less). What is checked goes
through the ways people read the record: the API and the family's pages with real sign-in, the
reports' files built through the reports API, `manage.py verify_audit`; and, so that nothing
survives where no page shows it, every text column of every table of the database.
"""

from __future__ import annotations

import csv
import io
import os
import threading
from datetime import date, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, models, transaction
from django.utils import timezone

from agencies.roles import Role
from audit.services import access_events_seal
from cases import retention
from cases import services as case_services
from cases.models import ChronologyEntry, Family, Need, Person
from consent import services as consent_services
from reports.models import ReportJob
from tests import factories as f
from tests.consent.test_lock_order import _another_waits_for_a_lock
from tests.reports.conftest import (  # noqa: F401 - the two fixtures: reports as in tests/reports
    Reports,
    framework_ensure,
    pdf_text,
    reports_in_process,
    reports_storage,
)

API = "/api/v1/"
# Every piece of personal data the family is given below; none may survive the run.
NAME, ADDRESS, POSTCODE = "Okafor household", "12 Larch Road, Peckham", "SE15 4AB"
CHILD_GIVEN, PARENT_GIVEN, SURNAME = "Tobiloba", "Adaeze", "Okafor"
NHS = "9434765919"
NOTE = "Zephyrine"  # a word each free text carries
PERSONAL = [NAME, "Larch Road", POSTCODE, CHILD_GIVEN, PARENT_GIVEN, SURNAME, NHS, NOTE]
CHILD_BORN, PARENT_BORN = date(2015, 4, 3), date(1988, 11, 20)
YEARS = 6


def later(day: date, years: int) -> date:
    return day.replace(year=day.year + years)


def _record(borough) -> Family:
    """The borough's family given personal data in every kind of field, through the services
    (and so with its field history): a renamed household, two members, needs under three
    outcomes achieved, a plan, an assessment, an intervention, a contact, emergency access."""
    kw, family = borough.key_worker, borough.family
    family = case_services.family_update(
        family_id=family.id,
        by=kw,
        expected_version=family.version,
        name=NAME,
        address=ADDRESS,
        postcode=POSTCODE,
        key_worker_id=kw.user_id,
    )
    child = case_services.person_create(
        family=family,
        by=kw,
        given_name=CHILD_GIVEN,
        family_name=SURNAME,
        date_of_birth=CHILD_BORN,
        relationship="child",
        nhs_number=NHS,
    )
    case_services.person_create(
        family=family,
        by=kw,
        given_name=PARENT_GIVEN,
        family_name=SURNAME,
        date_of_birth=PARENT_BORN,
        relationship="parent",
        parental_responsibility=True,
    )
    needs = []
    for code in ("education", "health", "family_relationships"):
        need = case_services.need_create(
            family=family,
            by=kw,
            outcome=f.outcome(code),
            descriptor=f"{CHILD_GIVEN} misses school ({NOTE})",
            person=child,
            evidence=f"{NOTE}'s attendance record",
        )
        need = case_services.need_update(
            need_id=need.id,
            by=kw,
            expected_version=need.version,
            status="achieved",
            achieved_on=timezone.localdate(),
        )
        needs.append(need)
    case_services.plan_action_create(
        family=family,
        by=kw,
        description=f"Walk {CHILD_GIVEN} to school ({NOTE})",
        owner_agency=borough.early_help,
        due_on=timezone.localdate() + timedelta(days=7),
        needs=needs,
    )
    case_services.assessment_create(
        family=family,
        by=kw,
        completed_on=timezone.localdate(),
        summary=f"{PARENT_GIVEN} {SURNAME} and {NOTE}",
    )
    case_services.intervention_create(
        family=family,
        by=kw,
        kind="parenting",
        title=f"Parenting course for {PARENT_GIVEN} ({NOTE})",
        started_on=timezone.localdate(),
        outcome=f"{NOTE} completed it",
        persons=[child],
    )
    # A partner records a contact: the key worker is alerted, the alert quoting the summary.
    case_services.contact_create(
        family=family,
        by=borough.partner,
        occurred_at=timezone.now() - timedelta(hours=1),
        method="phone",
        summary=f"Spoke with {PARENT_GIVEN} {SURNAME} about {NOTE}",
        persons=[child],
    )
    consent_services.emergency_access_grant(
        family_id=family.id, by=borough.outsider, reason=f"Police asked about {NOTE}"
    )
    # A Team Around the Family review, and the school's referral the front door joined to the
    # family: both hold the family's personal data too.
    case_services.review_create(
        family_id=family.id,
        by=kw,
        held_on=timezone.localdate(),
        attendees=[borough.early_help, borough.school],
        decisions=f"{PARENT_GIVEN} agreed the plan ({NOTE})",
        plan_changes=f"{NOTE}: a walking bus",
        next_review_on=timezone.localdate() + timedelta(days=42),
    )
    from referrals import services as referral_services

    referral = referral_services.referral_create(
        by=borough.partner,
        household={"name": NAME, "postcode": POSTCODE, "address": ADDRESS},
        people=[
            {
                "given_name": CHILD_GIVEN,
                "family_name": SURNAME,
                "date_of_birth": CHILD_BORN,
                "relationship": "child",
                "nhs_number": NHS,
            }
        ],
        concerns=[{"outcome": "education", "descriptor": f"{CHILD_GIVEN} absent ({NOTE})"}],
        consent={
            "given_by": f"{PARENT_GIVEN} {SURNAME}",
            "method": "verbal",
            "given_on": "2026-01-05",
        },
        urgency="routine",
    )
    referral_services.referral_decide(
        referral_id=referral.id,
        by=kw,
        decision="accept",
        reason=f"Known to us: {SURNAME} household ({NOTE})",
        family_id=family.id,
    )
    _candidate_of(family, borough)
    _candidate_of(family, borough, referral=referral)
    return Family.objects.get(id=family.id)


def _candidate_of(family: Family, borough, referral=None) -> None:
    """A data-matching candidate, as a run saves one (identification.services._candidates_build;
    its members, indicators and links name them): one that found the family already known or,
    given `referral`, one referred to the front door whose referral joined the family."""
    import importlib

    from django.apps import apps as live_apps

    from identification.models import Candidate, IndicatorFramework, MatchRun

    if not IndicatorFramework.objects.filter(version="2022").exists():
        importlib.import_module("identification.migrations.0002_framework_2022").load(
            live_apps, None
        )
    manager = f.staff_make(agency=borough.early_help, role=Role.MANAGER)
    run = MatchRun.objects.create(
        agency=manager.agency,
        started_by=manager.user,
        framework=IndicatorFramework.objects.get(version="2022"),
        threshold=0.95,
        status="done",
    )
    person = f"{CHILD_GIVEN} {SURNAME}"
    Candidate.objects.create(
        run=run,
        agency_id=run.agency_id,
        rank=1,
        score=3.0,
        household="H1",
        name=NAME,
        postcode=POSTCODE,
        address=ADDRESS,
        outcomes=["education", "health", "crime"],
        known_family=None if referral else family,
        referral=referral,
        decision="refer" if referral else "already_known",
        reason=f"Already open to {PARENT_GIVEN} ({NOTE})",
        explanation={
            "members": [
                {"given_name": CHILD_GIVEN, "family_name": SURNAME, "date_of_birth": "2015-04-03"}
            ],
            "indicators": [
                {
                    "source_agency": "Hill Primary",
                    "indicator": "EDU_ABSENCE",
                    "label": "Persistent absence",
                    "outcome": "education",
                    "observed_on": "2026-01-05",
                    "person": person,
                    "source_record_id": f"{SURNAME}-{NHS}",
                    "match_weight": 12.5,
                }
            ],
            "links": [
                {
                    "person": person,
                    "sources": ["Hill Primary", "Case record"],
                    "match_weight": 12.5,
                    "match_probability": 0.9998,
                    "fields": {"Name": 8.1},
                }
            ],
        },
    )


def _close(client, family: Family) -> Family:
    response = client.post(
        f"{API}families/{family.id}/close/",
        {"reason": "outcomes_met", "outcome_summary": f"{PARENT_GIVEN} and {NOTE}: outcomes met"},
        format="json",
        HTTP_IF_MATCH=f'"{family.version}"',
    )
    assert response.status_code == 200, response.content[:300]
    family = Family.objects.get(id=family.id)
    assert family.closed_on == timezone.localdate()
    return family


@pytest.fixture
def closed(borough, client_for):
    """The family with its personal data, closed today through the API by its key worker."""
    framework_ensure()
    family = _record(borough)
    return _close(client_for(borough.key_worker.user), family)


def _texts_holding(words: list[str]) -> list[str]:
    """Every text value of every table (history tables included) holding one of `words`:
    "table.column" for each."""
    found = []
    for model in apps.get_models(include_auto_created=True):
        fields = [
            fld.attname
            for fld in model._meta.concrete_fields
            if isinstance(fld, models.CharField | models.TextField | models.JSONField)
        ]
        for name in fields:
            for value in model.objects.values_list(name, flat=True).iterator():
                text = str(value) if value is not None else ""
                if any(word.lower() in text.lower() for word in words):
                    found.append(f"{model._meta.db_table}.{name}")
                    break
    return sorted(set(found))


def _reports(borough, capture) -> dict[str, list[dict]]:
    """The outcomes, caseload and claims reports' CSVs as the lead agency's manager, built
    through the reports API, each a list of rows."""
    reports = Reports(_api(borough.manager.user), capture)
    today = timezone.localdate()
    period = {"period_start": str(today - timedelta(days=30)), "period_end": str(today)}
    out = {}
    for kind in ("outcomes", "caseload", "claims"):
        data = reports.download(reports.build(kind=kind, format="csv", **period))
        out[kind] = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    return out


def _api(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
    return client


# Columns of the claims CSV that are the record's words (the household's name, the spot check's
# extracts of needs, plan and chronology): replaced by design. Every other column is a figure,
# a date, a code or a verdict, and must come out the same.
CLAIM_TEXT_COLUMNS = {"family_name", "evidence_needs", "evidence_plan", "evidence_chronology"}


def _figures(report: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {
        kind: [
            {k: v for k, v in row.items() if kind != "claims" or k not in CLAIM_TEXT_COLUMNS}
            for row in rows
        ]
        for kind, rows in report.items()
    }


# --- who is due ---------------------------------------------------------------------------------


def test_only_a_family_closed_longer_than_the_period_is_due(closed, borough):
    closed_on = closed.closed_on
    still_open = f.family_make(by=borough.key_worker, name="Open household")
    day_short = later(closed_on, YEARS) - timedelta(days=1)
    exactly = later(closed_on, YEARS)
    day_over = later(closed_on, YEARS) + timedelta(days=1)

    assert retention.families_pseudonymise_due(today=day_short) == 0
    assert retention.families_pseudonymise_due(today=exactly) == 0
    assert Family.objects.get(id=closed.id).name == NAME
    # Decades later the open family is still not due.
    assert retention.families_pseudonymise_due(today=later(day_over, 30)) == 1
    assert Family.objects.get(id=closed.id).name == retention.HOUSEHOLD
    assert Family.objects.get(id=still_open.id).name == "Open household"


def test_the_period_is_a_setting(closed, settings):
    settings.RETENTION_CLOSED_YEARS = 2
    assert retention.families_pseudonymise_due(today=later(closed.closed_on, 2)) == 0
    assert retention.families_pseudonymise_due(today=later(closed.closed_on, 3)) == 1


def test_the_task_is_on_beat_and_runs_on_today(closed):
    from django.conf import settings

    from cases.tasks import families_pseudonymise_due
    from consent.embedded import beat_plan

    assert "cases.tasks.families_pseudonymise_due" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
    assert "retention" in {name for _, name, _ in beat_plan()[1]}
    assert families_pseudonymise_due.run() == 0  # closed today: not due
    # Closed seven years ago (the date set as a closure then would have set it).
    Family.objects.filter(id=closed.id).update(closed_on=later(timezone.localdate(), -7))
    assert families_pseudonymise_due.run() == 1
    assert Family.objects.get(id=closed.id).name == retention.HOUSEHOLD


# --- what goes, what stays -----------------------------------------------------------------------


def test_personal_data_goes_everywhere_and_the_figures_stay(
    closed, borough, django_capture_on_commit_callbacks, tmp_path
):
    assert _texts_holding(PERSONAL)  # the check sees the data where it is
    # Reports naming the family, built before the run: a family summary and a claims report.
    capture = django_capture_on_commit_callbacks
    kw_reports = Reports(_api(borough.key_worker.user), capture)
    summary = kw_reports.build(kind="family_summary", format="pdf", family=closed.id)
    assert NAME in pdf_text(kw_reports.download(summary))
    before = _reports(borough, capture)
    assert any(row["family_name"] == NAME for row in before["claims"])
    assert len([p for p in (tmp_path / "reports").rglob("*") if p.is_file()]) == 4

    with capture(execute=True):
        done = retention.families_pseudonymise_due(
            today=later(closed.closed_on, YEARS) + timedelta(days=1)
        )
    assert done == 1

    # No table holds any of it any more: record, history, chronology, alerts, consent, reports.
    assert _texts_holding(PERSONAL) == []
    # The report files that named the family are gone (its summary, the claims report); their
    # jobs say why. The outcomes and caseload reports name no family: kept, and hold none of it.
    kept = [p for p in (tmp_path / "reports").rglob("*") if p.is_file()]
    assert sorted(p.name.split("-")[0] for p in kept) == ["caseload", "outcomes"]
    for path in kept:
        assert not [word for word in PERSONAL if word in path.read_text()], path.name
    response = _api(borough.key_worker.user).get(f"{API}reports/{summary['id']}/download/")
    assert response.status_code == 409
    assert ReportJob.objects.get(id=summary["id"]).error.startswith("This report named a family")

    # The figures, built again through the API, are the same.
    after = _reports(borough, capture)
    assert _figures(after) == _figures(before)
    assert any(row["family_name"] == retention.HOUSEHOLD for row in after["claims"])
    assert after["claims"][0]["dependent_children"] == "1"  # the date of birth is kept

    # What is kept: ids, codes, dates, statuses, links.
    child = Person.objects.get(family=closed, relationship="child")
    assert (child.given_name, child.family_name, child.nhs_number) == (f"Member {child.id}", "", "")
    assert child.date_of_birth == CHILD_BORN
    family = Family.objects.get(id=closed.id)
    assert (family.reference, family.status, family.closed_on) == (
        closed.reference,
        "closed",
        closed.closed_on,
    )
    assert (
        sorted(Need.objects.filter(family=family).values_list("status", flat=True))
        == ["achieved"] * 3 + ["identified"]  # and the referral's concern, joined
    )
    entry = ChronologyEntry.objects.get(family=family, type=retention.RETENTION_EVENT)
    assert entry.summary == "Personal details removed: closed more than 6 years"


def test_the_access_log_stays_whole(closed, borough, client_for):
    client_for(borough.key_worker.user).get(f"{API}families/{closed.id}/")
    access_events_seal()
    out = io.StringIO()
    call_command("verify_audit", stdout=out)
    verified_before = out.getvalue()
    retention.families_pseudonymise_due(today=later(closed.closed_on, YEARS + 1))
    out = io.StringIO()
    call_command("verify_audit", stdout=out)  # raises CommandError when the chain is broken
    assert out.getvalue() == verified_before
    assert "events verified" in verified_before


def _state(family_id: int) -> dict:
    """Every row of the family and of its history, as values."""
    out = {}
    for model in apps.get_models():
        names = {fld.attname for fld in model._meta.concrete_fields}
        if "family_id" in names:
            rows = model.objects.filter(family_id=family_id)
        elif model in (Family, Family.history.model):
            rows = model.objects.filter(id=family_id)
        else:
            continue
        out[model._meta.db_table] = sorted(map(repr, rows.values_list()))
    return out


def test_running_twice_changes_nothing(closed):
    day = later(closed.closed_on, YEARS) + timedelta(days=1)
    assert retention.families_pseudonymise_due(today=day) == 1
    once = _state(closed.id)
    assert retention.families_pseudonymise_due(today=day) == 0
    assert retention.families_pseudonymise_due(today=day + timedelta(days=400)) == 0
    assert retention.family_pseudonymise(family_id=closed.id, today=day) is False
    assert _state(closed.id) == once


def test_a_family_reopened_after_it_was_chosen_is_left(closed, borough, client_for):
    """The run picks the family, then a key worker reopens it before the run takes its lock:
    under the lock the run sees it open and leaves it."""
    day = later(closed.closed_on, YEARS) + timedelta(days=1)
    assert retention.families_due(today=day, limit=10) == [closed.id]
    response = client_for(borough.key_worker.user).post(
        f"{API}families/{closed.id}/reopen/",
        {"reason": "Moved back to the area"},
        format="json",
        HTTP_IF_MATCH=f'"{closed.version}"',
    )
    assert response.status_code == 200
    assert retention.family_pseudonymise(family_id=closed.id, today=day) is False
    assert Family.objects.get(id=closed.id).name == NAME


def test_closed_again_after_pseudonymised_is_done_again(closed, borough, client_for):
    """Reopened after the run, given a new member, closed again: that closure counts afresh."""
    day = later(closed.closed_on, YEARS) + timedelta(days=1)
    retention.families_pseudonymise_due(today=day)
    kw = client_for(borough.key_worker.user)
    family = Family.objects.get(id=closed.id)
    assert (
        kw.post(
            f"{API}families/{family.id}/reopen/",
            {"reason": "Moved back to the area"},
            format="json",
            HTTP_IF_MATCH=f'"{family.version}"',
        ).status_code
        == 200
    )
    case_services.person_create(
        family=family,
        by=borough.key_worker,
        given_name="Newcomer",
        family_name=SURNAME,
        relationship="child",
    )
    family = _close(kw, Family.objects.get(id=family.id))
    assert retention.families_pseudonymise_due(today=later(family.closed_on, YEARS)) == 0
    assert retention.families_pseudonymise_due(today=later(family.closed_on, YEARS + 1)) == 1
    assert _texts_holding(["Newcomer", SURNAME]) == []


def test_a_name_typed_into_a_pseudonymised_family_goes_at_the_next_run(closed, borough, client_for):
    """A closed family's details can still be edited; an edit after the run moves its version
    on, and the next run removes what was typed."""
    day = later(closed.closed_on, YEARS) + timedelta(days=1)
    retention.families_pseudonymise_due(today=day)
    family = Family.objects.get(id=closed.id)
    response = client_for(borough.key_worker.user).patch(
        f"{API}families/{family.id}/",
        {"name": NAME},
        format="json",
        HTTP_IF_MATCH=f'"{family.version}"',
    )
    assert response.status_code == 200
    assert retention.families_pseudonymise_due(today=day + timedelta(days=1)) == 1
    assert _texts_holding([NAME]) == []
    marks = ChronologyEntry.objects.filter(family=family, type=retention.RETENTION_EVENT)
    assert [m.summary for m in marks] == ["Personal details removed: closed more than 6 years"] * 2


# --- through the API and the pages ---------------------------------------------------------------

FAMILY_READS = [
    "",
    "members/",
    "team/",
    "needs/",
    "assessments/",
    "actions/",
    "interventions/",
    "contacts/",
    "chronology/",
    "history/",
    "sharing/",
    "disclosures/",
]
FAMILY_PAGES = ["", "history/"]


def test_the_api_and_pages_show_no_personal_data(closed, borough, client_for, client):
    api = client_for(borough.key_worker.user)
    base = f"{API}families/{closed.id}/"
    before = {path: api.get(base + path) for path in FAMILY_READS}
    assert all(r.status_code == 200 for r in before.values()), {
        p: r.status_code for p, r in before.items()
    }
    assert any(CHILD_GIVEN in r.content.decode() for r in before.values())

    retention.families_pseudonymise_due(today=later(closed.closed_on, YEARS) + timedelta(days=1))

    response = client.post(
        "/sign-in/", {"username": borough.key_worker.user.username, "password": f.PASSWORD}
    )
    assert response.status_code == 302, response.content[:300]
    shown = {f"API {path}": api.get(base + path) for path in FAMILY_READS}
    shown |= {f"page {path}": client.get(f"/families/{closed.id}/{path}") for path in FAMILY_PAGES}
    shown["alerts"] = api.get(f"{API}alerts/")
    shown["families list"] = api.get(f"{API}families/?status=closed")
    for what, response in shown.items():
        assert response.status_code == 200, what
        text = response.content.decode()
        leaked = [word for word in PERSONAL if word.lower() in text.lower()]
        assert not leaked, (what, leaked)
    assert closed.reference in shown["page "].content.decode()
    assert "Personal details removed" in shown["API chronology/"].content.decode()


# --- a run racing a reopen (PostgreSQL) ----------------------------------------------------------


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs PostgreSQL (row locks between real concurrent transactions)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["run", "reopen"])
def test_a_run_racing_a_reopen(borough, first):
    """The run and the key worker's reopen (HTTP, with the version the key worker read) queue on
    the family's row lock, held meanwhile by another transaction, one behind the other. Reopen
    first: the family is open, its data whole, and the run leaves it. Run first: the family is
    pseudonymised and still closed, and the reopen is refused as stale (412), so the form read
    before the run cannot write the old details back."""
    assert connection.vendor == "postgresql"
    family = f.family_make(by=borough.key_worker, name=NAME)
    family = _close(_api(borough.key_worker.user), family)
    day = later(family.closed_on, YEARS) + timedelta(days=1)
    answers: dict[str, object] = {}

    def reopen():
        try:
            answers["reopen"] = (
                _api(borough.key_worker.user)
                .post(
                    f"{API}families/{family.id}/reopen/",
                    {"reason": "Moved back to the area"},
                    format="json",
                    HTTP_IF_MATCH=f'"{family.version}"',
                )
                .status_code
            )
        finally:
            connection.close()

    def run():
        try:
            answers["run"] = retention.family_pseudonymise(family_id=family.id, today=day)
        finally:
            connection.close()

    order = [run, reopen] if first == "run" else [reopen, run]
    threads = [threading.Thread(target=fn) for fn in order]
    with transaction.atomic():
        Family.objects.select_for_update().get(id=family.id)  # the lock both will wait for
        for waiting, thread in enumerate(threads, start=1):
            thread.start()
            assert _another_waits_for_a_lock(count=waiting), f"{thread} never waited on the lock"
    for thread in threads:
        thread.join(timeout=30)
    now = Family.objects.get(id=family.id)
    if first == "run":
        assert (answers["run"], answers["reopen"]) == (True, 412)
        assert (now.status, now.name) == ("closed", retention.HOUSEHOLD)
    else:
        assert (answers["reopen"], answers["run"]) == (200, False)
        assert (now.status, now.name) == ("open", NAME)


def test_a_role_outside_sees_nothing_new(closed, borough, client_for):
    """The pseudonymised family stays visible to whom it was (the lead agency) and hidden from
    an outsider: the run changes no grant."""
    retention.families_pseudonymise_due(today=later(closed.closed_on, YEARS + 1))
    housing = f.staff_make(agency=borough.housing, role=Role.MANAGER)
    assert client_for(housing.user).get(f"{API}families/{closed.id}/").status_code == 404
    assert client_for(borough.manager.user).get(f"{API}families/{closed.id}/").status_code == 200


def test_statements_per_family_do_not_grow_with_its_record(closed, borough):
    """One family's run costs the same statements for a small record as for one with more
    members, notes, history and candidates: each UPDATE covers all of a table's rows of the
    family."""
    from django.test.utils import CaptureQueriesContext

    small = f.family_make(by=borough.key_worker, name="Small household")
    _candidate_of(small, borough)  # one data-matching candidate; the record below has two
    small = _close(_api(borough.key_worker.user), small)
    day = later(closed.closed_on, YEARS) + timedelta(days=1)
    with CaptureQueriesContext(connection) as few:
        assert retention.family_pseudonymise(family_id=small.id, today=day)
    with CaptureQueriesContext(connection) as many:
        assert retention.family_pseudonymise(family_id=closed.id, today=day)
    assert len(many) == len(few), [q["sql"][:80] for q in many]
