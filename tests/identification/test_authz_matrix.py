"""Who may do what in identification, as a generated matrix: role (and agency) × endpoint or
page × method, through HTTP with real auth. The expected answers are written here from the
rule (uploads: an agency's admins and analysts, their agency's only; runs and candidates: the
lead agency's managers; anyone else 404 for what they may not know exists, 403 for what they
see but may not do); the queries the lists make do not grow with their rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind
from identification import services
from identification.models import Candidate, Dataset, MatchRun
from tests import factories as f

CSV = (
    "source_record_id,given_name,family_name,date_of_birth,postcode,address,nhs_number,upn,"
    "ni_number,indicator,observed_on\n"
    "X1,Ann,Lee,1990-01-01,LS6 2QP,1 Elm Road,,,,asb,2026-01-01\n"
)
# (who, agency): the people of the matrix
PEOPLE = [
    ("manager", "early_help"),
    ("key_worker", "early_help"),
    ("practitioner", "early_help"),
    ("dpo", "early_help"),
    ("agency_admin", "school"),
    ("analyst", "school"),
    ("practitioner", "school"),
    ("manager", "school"),
    ("agency_admin", "police"),
]


def _expected(role: str, agency: str, what: str) -> int:
    lead_manager = role == "manager" and agency == "early_help"
    uploader = role in ("agency_admin", "analyst")
    if what == "datasets list":
        return 200
    if what == "own dataset":  # the school's dataset
        return 200 if lead_manager or (uploader and agency == "school") else 404
    if what == "upload":
        return 201 if uploader else 403
    if what == "start run":
        return 202 if lead_manager else 403
    if what in ("run", "candidates", "candidate", "decision"):
        return {"decision": 200}.get(what, 200) if lead_manager else 404
    if what in ("page home",):
        return 200 if lead_manager or uploader else 404
    if what == "page upload":
        return 200 if uploader else 403
    if what in ("page run", "page candidates", "page candidate"):
        return 200 if lead_manager else 404
    raise AssertionError(what)


@pytest.fixture
def world(db, framework):
    agencies = {
        "early_help": f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help"),
        "school": f.agency_make(kind=AgencyKind.SCHOOL, name="School"),
        "police": f.agency_make(kind=AgencyKind.POLICE, name="Police"),
    }
    people = {
        (role, agency): f.staff_make(agency=agencies[agency], role=role) for role, agency in PEOPLE
    }
    from datetime import date

    from django.core.files.uploadedfile import SimpleUploadedFile

    dataset = services.dataset_upload(
        by=people[("agency_admin", "school")],
        file=SimpleUploadedFile("x.csv", CSV.encode()),
        legal_gateway="public_task",
        purpose="Supporting Families",
        observed_from=date(2025, 11, 1),
        observed_to=date(2026, 10, 31),
    )
    manager = people[("manager", "early_help")]
    run = MatchRun.objects.create(
        agency=manager.agency, started_by=manager.user, framework=framework, threshold=0.95,
        status="done",
    )  # fmt: skip
    return agencies, people, dataset, run


def _candidate(run) -> Candidate:
    return Candidate.objects.create(
        run=run, agency_id=run.agency_id, rank=1, score=3.0, household="H1",
        name="Lee household", postcode="LS6 2QP", address="1 Elm Road",
        outcomes=["crime", "health", "housing"],
        explanation={"members": [], "indicators": [], "links": []},
    )  # fmt: skip


WHATS = [
    "datasets list", "own dataset", "upload", "start run", "run", "candidates", "candidate",
    "decision", "page home", "page upload", "page run", "page candidates", "page candidate",
]  # fmt: skip


@pytest.mark.parametrize("role,agency", PEOPLE)
def test_matrix(world, client_for, role, agency, monkeypatch):
    """Every endpoint and page for one person (one world per person, not per cell: the
    world's upload and staff are the slow part)."""
    wrong = []
    for what in WHATS:
        status, expected = _cell(world, client_for, role, agency, what, monkeypatch)
        if status != expected:
            wrong.append(f"{what}: {status}, expected {expected}")
    assert not wrong, wrong


def _cell(world, client_for, role, agency, what, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from identification import tasks

    monkeypatch.setattr(tasks.match_run, "delay_on_commit", lambda *a, **k: None)
    _, people, dataset, run = world
    candidate = _candidate(run)
    staff = people[(role, agency)]
    api = client_for(staff.user)
    page = Client()
    page.force_login(staff.user)
    base = "/api/v1/identification"
    calls = {
        "datasets list": lambda: api.get(f"{base}/datasets/"),
        "own dataset": lambda: api.get(f"{base}/datasets/{dataset.id}/"),
        "upload": lambda: api.post(
            f"{base}/datasets/",
            {
                "file": SimpleUploadedFile("x.csv", CSV.encode()),
                "legal_gateway": "public_task",
                "purpose": "p",
                "observed_from": "2025-11-01",
                "observed_to": "2026-10-31",
            },
            format="multipart",
        ),  # fmt: skip
        "start run": lambda: api.post(f"{base}/runs/", {}, format="json"),
        "run": lambda: api.get(f"{base}/runs/{run.id}/"),
        "candidates": lambda: api.get(f"{base}/candidates/"),
        "candidate": lambda: api.get(f"{base}/candidates/{candidate.id}/"),
        "decision": lambda: api.post(
            f"{base}/candidates/{candidate.id}/decision/",
            {"decision": "not_now", "reason": "r"},
            format="json",
        ),
        "page home": lambda: page.get("/identification/"),
        "page upload": lambda: page.get("/identification/upload/"),
        "page run": lambda: page.get(f"/identification/runs/{run.id}/"),
        "page candidates": lambda: page.get("/identification/candidates/"),
        "page candidate": lambda: page.get(f"/identification/candidates/{candidate.id}/"),
    }
    response = calls[what]()
    if what == "datasets list":
        ids = {d["id"] for d in response.json()["results"]}
        sees = _expected(role, agency, "own dataset") == 200
        assert ids == ({dataset.id} if sees else set())
    if what == "upload" and response.status_code == 201:
        Dataset.objects.filter(id=response.json()["id"]).delete()
    return response.status_code, _expected(role, agency, what)


def test_the_lists_queries_do_not_grow(world, client_for):
    _, people, dataset, run = world
    manager = client_for(people[("manager", "early_help")].user)
    counts = []
    for _ in range(2):
        for _ in range(5):
            _candidate(run)
            Dataset.objects.create(
                agency=dataset.agency, uploaded_by=dataset.uploaded_by,
                legal_gateway=dataset.legal_gateway, purpose="p",
                observed_from=dataset.observed_from, observed_to=dataset.observed_to,
                delete_after=dataset.delete_after,
            )  # fmt: skip
        with CaptureQueriesContext(connection) as candidates_queries:
            assert manager.get("/api/v1/identification/candidates/").status_code == 200
        with CaptureQueriesContext(connection) as datasets_queries:
            assert manager.get("/api/v1/identification/datasets/").status_code == 200
        counts.append((len(candidates_queries), len(datasets_queries)))
    assert counts[0] == counts[1], counts


def test_an_analyst_lands_on_identification(world):
    from django.test import Client

    _, people, _, _ = world
    client = Client()
    client.force_login(people[("analyst", "school")].user)
    response = client.get("/home/")
    assert response.status_code == 302 and response.url == "/identification/"
