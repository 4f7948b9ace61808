"""Identification end to end through the API with real token auth: three agencies upload (a
bad file loads nothing and says why, row by row); a lead-agency manager's run finds the
planted household and explains its links; "refer" makes it a family; partners never see
another agency's upload nor any candidate (404); every view of a candidate is in the access
log; with time moved past the retention, raw uploads are gone and candidates and audit stay."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from agencies.models import AgencyKind
from agencies.roles import Role
from audit.models import AccessEvent
from cases.models import Family
from identification import services, synthetic
from identification.models import DEFAULT_PURPOSE, Candidate, Dataset, SourceRow
from tests import factories as f

PERIOD = {"observed_from": "2025-11-01", "observed_to": "2026-10-31"}
# The planted household: three agencies, three headline outcomes, written three ways.
PLANTED = {
    "school": [("SCH-P1", "Tom", "Kowalski", "2016-03-04", "LS6 2QP", "12 Acacia Road",
                "", "", "", "school_attendance", "2026-05-01")],
    "police": [("POL-P1", "Kate", "Kowalski", "1989-11-07", "ls62qp", "12 Acacia Rd",
                "", "", "", "domestic_abuse_notification", "2026-06-12")],
    "health": [("HEA-P1", "Katherine", "Kowalski", "1989-07-11", "LS6 2QP", "12 Acacia Road",
                "9434765919", "", "", "mental_health", "2026-02-20")],
}  # fmt: skip


def _csv(agency: str, council) -> bytes:
    rows = [dict(zip(synthetic.CSV_COLUMNS, values, strict=True)) for values in PLANTED[agency]]
    return synthetic.rows_csv(council.rows[agency] + rows).encode()


PURPOSE = "Identifying families for the Supporting Families programme"


def _upload(client, content: bytes, name="data.csv", purpose: str | None = PURPOSE, **extra):
    """An upload as the contract has it; `purpose` None: without one (the default is recorded)."""
    return client.post(
        "/api/v1/identification/datasets/",
        {
            "file": SimpleUploadedFile(name, content, content_type="text/csv"),
            "legal_gateway": "dea_2017_psd",
            **({} if purpose is None else {"purpose": purpose}),
            **PERIOD,
            **extra,
        },
        format="multipart",
    )


def _documented(path: str, method: str, status: str) -> set[str]:
    """The fields the OpenAPI schema (drf-spectacular, as served) gives an answer."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    answer = schema["paths"][path][method]["responses"][status]["content"]["application/json"]
    ref = answer["schema"]["$ref"].rsplit("/", 1)[-1]
    return set(schema["components"]["schemas"][ref]["properties"])


@pytest.fixture
def council_agencies(db, framework):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    agencies = {
        "school": f.agency_make(kind=AgencyKind.SCHOOL, name="Hill School"),
        "police": f.agency_make(kind=AgencyKind.POLICE, name="Police"),
        "health": f.agency_make(kind=AgencyKind.HEALTH, name="Health"),
    }
    return {
        "early_help": early_help,
        "manager": f.staff_make(agency=early_help, role=Role.MANAGER),
        "key_worker": f.staff_make(agency=early_help, role=Role.KEY_WORKER),
        "admins": {
            "school": f.staff_make(agency=agencies["school"], role=Role.AGENCY_ADMIN),
            "police": f.staff_make(agency=agencies["police"], role=Role.ANALYST),
            "health": f.staff_make(agency=agencies["health"], role=Role.AGENCY_ADMIN),
        },
        "partner": f.staff_make(agency=agencies["school"], role=Role.PRACTITIONER),
    }


def test_upload_run_explain_refer_and_retention(
    council_agencies, client_for, django_capture_on_commit_callbacks
):
    c = council_agencies
    council = synthetic.council_generate(seed=5, households=40)
    datasets = {}
    for agency, admin in c["admins"].items():
        # Health uploads without a purpose, as the API contract allows: the programme's is kept.
        purpose = None if agency == "health" else PURPOSE
        response = _upload(client_for(admin.user), _csv(agency, council), purpose=purpose)
        assert response.status_code == 201, response.json()
        assert set(response.json()) == _documented(
            "/api/v1/identification/datasets/", "post", "201"
        )
        datasets[agency] = response.json()["id"]
        assert response.json()["rows"] == len(council.rows[agency]) + 1
        recorded = Dataset.objects.get(id=datasets[agency]).purpose
        assert recorded == (purpose or DEFAULT_PURPOSE)

    # A bad file: every error named by row and field, and nothing loaded.
    before = SourceRow.objects.count()
    bad = (
        b"source_record_id,given_name,family_name,date_of_birth,postcode,address,nhs_number,"
        b"upn,ni_number,indicator,observed_on\n"
        b"A1,Ann,Lee,1990-01-01,LS6 2QP,1 Elm Road,,,,asb,2026-01-01\n"
        b"A2,,Lee,31/02/1990,NOT A CODE,1 Elm Road,123,,,flying,2026-01-01\n"
    )
    response = _upload(client_for(c["admins"]["police"].user), bad)
    assert response.status_code == 400
    errors = {(e["row"], e["field"]) for e in response.json()["errors"]}
    assert errors == {
        (3, "given_name"), (3, "date_of_birth"), (3, "postcode"), (3, "nhs_number"),
        (3, "indicator"),
    }  # fmt: skip
    assert SourceRow.objects.count() == before

    # Uploads are their agency's: another agency's is not there for them (404), nor listed.
    school_admin = client_for(c["admins"]["school"].user)
    assert (
        school_admin.get(f"/api/v1/identification/datasets/{datasets['police']}/").status_code
        == 404
    )
    listed = school_admin.get("/api/v1/identification/datasets/").json()["results"]
    assert {d["id"] for d in listed} == {datasets["school"]}
    partner = client_for(c["partner"].user)
    assert partner.get(f"/api/v1/identification/datasets/{datasets['school']}/").status_code == 404
    # Only lead-agency managers run the matching.
    assert school_admin.post("/api/v1/identification/runs/", {}).status_code == 403

    manager = client_for(c["manager"].user)
    with django_capture_on_commit_callbacks(execute=True):
        response = manager.post("/api/v1/identification/runs/", {}, format="json")
    assert response.status_code == 202
    run = manager.get(f"/api/v1/identification/runs/{response.json()['id']}/").json()
    assert run["status"] == "done", run
    assert run["progress"] == 100 and run["candidates"] > 0

    queue = manager.get("/api/v1/identification/candidates/").json()["results"]
    assert [c["rank"] for c in queue] == sorted(c["rank"] for c in queue)
    planted = [c for c in queue if c["name"] == "Kowalski household"]
    assert len(planted) == 1
    candidate = manager.get(f"/api/v1/identification/candidates/{planted[0]['id']}/").json()
    assert sorted(candidate["outcomes"]) == ["domestic_abuse", "education", "health"]
    sources = {i["source_agency"] for i in candidate["indicators"]}
    assert sources == {"Hill School", "Police", "Health"}
    # Kate Kowalski (police) and Katherine Kowalski (health): one person, and why.
    links = [link for link in candidate["links"] if set(link["sources"]) == {"Police", "Health"}]
    assert links, candidate
    link = links[0]
    assert link["match_weight"] > 0
    assert link["fields"]["Date of birth"] > 0  # day and month swapped still counts for
    assert link["fields"]["Given name"] > 0  # Kate is a familiar form of Katherine
    assert candidate["known_family"] is None

    # Partners and key workers see no candidate: not even that one exists.
    for who in (c["partner"], c["key_worker"], c["admins"]["school"]):
        client = client_for(who.user)
        assert client.get("/api/v1/identification/candidates/").status_code == 404
        assert (
            client.get(f"/api/v1/identification/candidates/{candidate['id']}/").status_code == 404
        )
        assert (
            client.post(
                f"/api/v1/identification/candidates/{candidate['id']}/decision/",
                {"decision": "refer", "reason": "x"},
                format="json",
            ).status_code
            == 404
        )

    # A decision needs its reason; "refer" makes the family, with its members.
    url = f"/api/v1/identification/candidates/{candidate['id']}/decision/"
    response = manager.post(url, {"decision": "refer"}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    families_before = Family.objects.count()
    response = manager.post(
        url, {"decision": "refer", "reason": "Three outcomes; no open case"}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert set(response.json()) == _documented(
        "/api/v1/identification/candidates/{candidate_id}/decision/", "post", "200"
    )
    # "refer" makes a referral to the front door (no family yet: the front door decides), from
    # data matching, without the family's consent and saying why, with the household's members
    # and a concern for each headline outcome the indicators cover.
    referral_id = response.json()["referral"]
    referral = manager.get(f"/api/v1/referrals/{referral_id}/")
    assert referral.status_code == 200, referral.json()
    body = referral.json()
    assert body["source"] == "identification" and body["status"] == "submitted"
    assert body["consent_given_by"] in ("", None) and "data matching" in body["no_consent_reason"]
    members = {(p["given_name"], p["date_of_birth"]) for p in body["people"]}
    assert ("Tom", "2016-03-04") in members and len(members) == 2
    assert len({c["outcome"] for c in body["concerns"]}) >= 3
    queue = manager.get("/api/v1/referrals/").json()
    assert referral_id in [r["id"] for r in queue["results"]]
    assert Family.objects.count() == families_before
    again = manager.post(url, {"decision": "not_now", "reason": "again"}, format="json")
    assert again.status_code == 409

    # Every view of a candidate is in the access log, the refused ones too.
    events = AccessEvent.objects.filter(object_type="candidate", object_id=candidate["id"])
    assert events.filter(user_id=c["manager"].user_id, outcome="allowed").count() >= 2
    assert events.filter(user_id=c["partner"].user_id, outcome="denied").exists()

    # Retention: past the configured period the raw rows go; runs, candidates, audit stay.
    audit_count = AccessEvent.objects.count()
    later = date.today() + timedelta(days=91)
    assert services.datasets_retention(today=date.today() + timedelta(days=30))["rows"] == 0
    result = services.datasets_retention(today=later)
    assert result["datasets"] == 3 and result["rows"] > 0
    assert SourceRow.objects.count() == 0
    assert Dataset.objects.filter(raw_deleted_at__isnull=False).count() == 3
    assert Candidate.objects.filter(id=candidate["id"]).exists()
    assert AccessEvent.objects.count() >= audit_count
    again = manager.get(f"/api/v1/identification/candidates/{candidate['id']}/").json()
    assert again["indicators"] == candidate["indicators"]


def test_indicators_are_framework_data(framework, client_for, db):
    user = f.staff_make(role=Role.PRACTITIONER).user
    answer = client_for(user).get("/api/v1/identification/indicators/?page_size=200").json()
    assert answer["next"] is None  # every code on one page of 200
    indicators = answer["results"]
    assert {"code": "asb", "label": "Anti-social behaviour", "outcome": "crime",
            "framework_version": "2022"} in indicators  # fmt: skip
    assert framework.min_outcomes == 3
