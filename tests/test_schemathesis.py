"""The API fuzzed against its own OpenAPI schema: Schemathesis's `st run`, as CI runs it, against
the app served live (tests/web/live.py: `python -m core.serve` on a database of its own, seeded
with a small borough), with the schema loaded from the app's own `/api/v1/schema/`.

Signed in as real seeded people with a caseload, each with their own API token: the key worker
of both seeded families, and a manager of the lead agency (who also reads the access logs and
decides sharing bases and emergency access). Path ids are drawn, three times in four, from the
seeded records (families, members, needs, plan actions, team involvements, sharing bases, the
emergency grant, the alert, the agency), so writes reach real records; the rest are generated
(unknown ids: the 404s).

The checks: no server error, every status code and content type documented, every response body
valid against its schema, and every request the schema forbids refused (negative data). Every
operation is tested; none is excluded. Bounded and reproducible: a few examples per operation
and mode, positive and negative, Hypothesis derandomized (`--generation-deterministic`), one
worker; the number of cases run is printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from agencies.models import AgencyKind
from tests import factories as f
from tests.web.live import LiveServer

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
MAX_EXAMPLES = 4  # per operation, in each of the positive and negative modes
# The coverage phase too (all four, as `st run` by default; minutes): SCHEMATHESIS_PHASES.
PHASES = os.environ.get("SCHEMATHESIS_PHASES", "examples,fuzzing,stateful")
SEEDED_SHARE = 0.75  # of path ids drawn from the seeded records
ACTORS = {"key worker": "key_worker", "lead-agency manager": "manager"}
# Path parameter → the seed's records (tests/web/live.py seed) it may name.
SEEDED_IDS = {
    "family_id": ["family", "family2"],
    "member_id": ["member"],
    "need_id": ["need"],
    "action_id": ["action_partner", "action_lead"],
    "involvement_id": ["family_involvement", "family2_involvement"],
    "basis_id": ["family_consent", "family2_consent", "decision"],
    "grant_id": ["grant"],
    "alert_id": ["alert"],
}


def _api(server: LiveServer, path: str, *, token: str = "", body: dict | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _token(server: LiveServer, username: str) -> str:
    body = {"username": username, "password": server.password}
    return _api(server, "/api/v1/auth/token/", body=body)["token"]


def _config(server: LiveServer, agency_id: int, spare_token_id: int, folder: Path) -> Path:
    """A schemathesis.toml naming the seeded ids as dictionaries for the path parameters. A
    token id is always the user's spare token: revoking the one the run signs in with would
    turn the rest of the run into 401s (the test checks it still works at the end)."""
    values = {name: [server.ids[key] for key in keys] for name, keys in SEEDED_IDS.items()}
    values["agency_id"] = [agency_id]
    values["token_id"] = [spare_token_id]
    lines = []
    for name, ids in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(ids)}", ""]
    lines.append("[parameters]")
    for name in values:
        share = 1.0 if name == "token_id" else SEEDED_SHARE
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {share} }}')
    path = folder / "schemathesis.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def served():
    server = LiveServer.start()
    try:
        yield server
    finally:
        server.stop()


def st_run(server: LiveServer, token: str, config: Path) -> tuple[int, str]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "--no-color",
        "run",
        f"{server.url}/api/v1/schema/?format=json",
        "--header",
        f"Authorization: Token {token}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES,
        "--mode",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--seed",
        "1",
        "--workers",
        "1",
        "--request-timeout",
        "30",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,  # the coverage phase, when asked for, takes minutes
        cwd=config.parent,
        stdin=subprocess.DEVNULL,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("actor", sorted(ACTORS))
def test_the_api_conforms_to_its_schema(served, actor, tmp_path):
    username = served.users[ACTORS[actor]]
    token = _token(served, username)
    me = _api(served, "/api/v1/me/", token=token)
    schema = _api(served, "/api/v1/schema/?format=json", token=token)
    operations = sum(
        method in {"get", "post", "put", "patch", "delete"}
        for item in schema["paths"].values()
        for method in item
    )
    spare = _token(served, username)[:8]
    tokens = _api(served, "/api/v1/auth/tokens/", token=token)["results"]
    spare_id = next(t["id"] for t in tokens if t["prefix"] == spare)
    config = _config(served, me["agency"]["id"], spare_id, tmp_path)
    code, output = st_run(served, token, config)

    generated = re.search(r"(\d+) generated", output)
    tested = re.search(r"Tested: (\d+)", output)
    failures = output.find("= FAILURES =")
    summary = output[failures:][:20000] if failures >= 0 else output[-6000:]
    print(f"schemathesis as the {actor}: {generated and generated.group(0)} cases")
    assert code == 0, f"schemathesis found failures as the {actor}:\n{summary}"
    assert tested and int(tested.group(1)) == operations, summary
    # Two cases an operation at least, on average: the run was not hollow.
    assert generated and int(generated.group(1)) >= 2 * operations, summary
    # The token still works: no fuzzed request revoked it half-way (which would have made the
    # rest of the run a series of documented 401s).
    assert _api(served, "/api/v1/me/", token=token)["username"] == username


# --- what the fuzzing found, pinned: each a request the schema forbids, refused with a 400 that
# names the field (and a JSON 404 for an address no route takes), through HTTP with a real token.

API = "/api/v1/"


@pytest.fixture
def kw_client(borough, client_for):
    return client_for(borough.key_worker.user)


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("assessments/", {"completed_on": "2026-01-05", "summary": 0}, "summary"),
        ("needs/", {"outcome": "early_years", "descriptor": "x", "evidence": 0}, "evidence"),
        (
            "contacts/",
            {
                "occurred_at": "2026-01-05T10:00:00Z",
                "method": "home_visit",
                "summary": "Visit",
                "persons": {},
                "visibility": "team",
            },
            "persons",
        ),
        (
            "members/",
            {
                "given_name": "A",
                "family_name": "B",
                "relationship": "child",
                "parental_responsibility": "yes",
            },
            "parental_responsibility",
        ),
        ("team/", {"agency": "AGENCY_ID"}, "agency"),
    ],
    ids=[
        "number for text",
        "number for text (optional)",
        "object for a list",
        "text for a yes/no",
        "text for an id",
    ],
)
def test_a_body_value_of_the_wrong_json_type_is_refused(kw_client, borough, path, body, field):
    # Each was taken before: DRF turns 0 into "0", {} into [], "yes" into true, "12" into 12.
    agency = f.agency_make(kind=AgencyKind.HOUSING, name="Riverside Housing")  # not on the team
    body = {k: str(agency.id) if v == "AGENCY_ID" else v for k, v in body.items()}
    url = f"{API}families/{borough.family.id}/{path}"
    response = kw_client.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


@pytest.mark.parametrize(
    "query, field",
    [
        ("families/?status=", "status"),
        ("families/?status=shut", "status"),
        ("families/?key_worker=you", "key_worker"),
        ("families/?page_size=abc", "page_size"),
        ("families/?page_size=0", "page_size"),
        ("alerts/?unread=maybe", "unread"),
        ("alerts/?page_size=-1", "page_size"),
    ],
)
def test_a_query_parameter_the_schema_does_not_offer_is_refused(kw_client, query, field):
    response = kw_client.get(API + query)
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_query_parameters_the_schema_offers_are_taken(kw_client):
    for query in ("families/?status=open&key_worker=me&q=", "alerts/?unread=true&page_size=500"):
        assert kw_client.get(API + query).status_code == 200, query


def test_an_api_address_no_route_takes_answers_the_json_404(kw_client):
    response = kw_client.get(f"{API}families/-1/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_bad_body_with_a_stale_if_match_is_a_400_not_a_412(kw_client, borough):
    url = f"{API}families/{borough.family.id}/"
    response = kw_client.patch(url, {"level_of_need": "high"}, format="json", HTTP_IF_MATCH='"99"')
    assert response.status_code == 400
    assert "level_of_need" in response.json()
    stale = kw_client.patch(url, {"level_of_need": 2}, format="json", HTTP_IF_MATCH='"99"')
    assert stale.status_code == 412
