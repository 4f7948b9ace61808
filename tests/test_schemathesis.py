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
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.web.live import LiveServer

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
]
MAX_EXAMPLES = 4  # per operation, in each of the positive and negative modes
PHASES = "examples,fuzzing,stateful"
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


def _config(server: LiveServer, agency_id: int, folder: Path) -> Path:
    """A schemathesis.toml naming the seeded ids as dictionaries for the path parameters."""
    values = {name: [server.ids[key] for key in keys] for name, keys in SEEDED_IDS.items()}
    values["agency_id"] = [agency_id]
    lines = []
    for name, ids in values.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(ids)}", ""]
    lines.append("[parameters]")
    for name in values:
        lines.append(f'"path.{name}" = {{ dictionary = "{name}", probability = {SEEDED_SHARE} }}')
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
        str(Path(sys.executable).with_name("st")),
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
        "10",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
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
    config = _config(served, me["agency"]["id"], tmp_path)
    code, output = st_run(served, token, config)

    generated = re.search(r"(\d+) generated", output)
    tested = re.search(r"Tested: (\d+)", output)
    failures = output.find("= FAILURES =")
    summary = output[failures:][:20000] if failures >= 0 else output[-6000:]
    print(f"schemathesis as the {actor}: {generated and generated.group(0)} cases")
    assert code == 0, f"schemathesis found failures as the {actor}:\n{summary}"
    assert tested and int(tested.group(1)) == operations, summary
    # Every operation ran at least one case in each mode: the run was not hollow.
    assert generated and int(generated.group(1)) >= 2 * operations, summary
    # The token still works: no fuzzed request revoked it half-way (which would have made the
    # rest of the run a series of documented 401s).
    assert _api(served, "/api/v1/me/", token=token)["username"] == username
