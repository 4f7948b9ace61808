"""The OpenAPI schema at /api/v1/schema/ is served, valid, and describes every endpoint truthfully
(partner systems integrate through it, and it can drive fuzzing of the API)."""

from __future__ import annotations

import re

import pytest
import yaml
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver

import agencies.urls
import cases.urls

SCHEMA_URL = "/api/v1/schema/"
PREFIX = "/api/v1/"
NOT_API = {"schema/", "docs/"}
WRITE_METHODS = {"post", "put", "patch"}


def _route_to_openapi(route: str) -> str:
    """`families/<int:family_id>/` → `/api/v1/families/{family_id}/`."""
    return PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


def _methods(view) -> set[str]:
    view_class = getattr(view, "view_class", None) or getattr(view, "cls", None)
    assert view_class is not None, view
    return {
        m
        for m in view_class.http_method_names
        if m not in {"options", "head", "trace"} and hasattr(view_class, m)
    }


def _endpoints(patterns, prefix: str = "") -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in patterns:
        if isinstance(p, URLResolver):
            out.update(_endpoints(p.url_patterns, prefix + str(p.pattern)))
        elif isinstance(p, URLPattern):
            out[_route_to_openapi(prefix + str(p.pattern))] = _methods(p.callback)
    return out


def api_endpoints() -> dict[str, set[str]]:
    """Every route the project serves under /api/v1/ (all apps, not only cases and agencies)."""
    found: dict[str, set[str]] = {}
    for p in get_resolver().url_patterns:
        if isinstance(p, URLResolver) and str(p.pattern) == "api/v1/":
            found.update(_endpoints(p.url_patterns))
        elif isinstance(p, URLPattern) and str(p.pattern).startswith("api/v1/"):
            route = str(p.pattern)[len("api/v1/") :]
            if route not in NOT_API:
                found[_route_to_openapi(route)] = _methods(p.callback)
    return found


CASES_AND_AGENCIES = {
    **_endpoints(agencies.urls.urlpatterns),
    **_endpoints(cases.urls.urlpatterns),
}

# What each write really answers on success (tests/cases/test_bad_input.py sends them for real).
SUCCESS = {
    ("/api/v1/auth/token/", "post"): "200",
    ("/api/v1/agencies/", "post"): "201",
    ("/api/v1/agencies/{agency_id}/staff/", "post"): "201",
    ("/api/v1/families/", "post"): "201",
    ("/api/v1/families/{family_id}/", "patch"): "200",
    ("/api/v1/families/{family_id}/members/", "post"): "201",
    ("/api/v1/families/{family_id}/members/{member_id}/", "patch"): "200",
    ("/api/v1/families/{family_id}/team/", "post"): "201",
    ("/api/v1/families/{family_id}/team/{involvement_id}/", "delete"): "200",
    ("/api/v1/families/{family_id}/needs/", "post"): "201",
    ("/api/v1/families/{family_id}/needs/{need_id}/", "patch"): "200",
    ("/api/v1/families/{family_id}/assessments/", "post"): "201",
    ("/api/v1/families/{family_id}/actions/", "post"): "201",
    ("/api/v1/families/{family_id}/actions/{action_id}/", "patch"): "200",
    ("/api/v1/families/{family_id}/interventions/", "post"): "201",
    ("/api/v1/families/{family_id}/contacts/", "post"): "201",
}


@pytest.fixture(scope="module")
def schema(tmp_path_factory, django_db_blocker) -> dict:
    """Generated once by drf-spectacular's command, which validates it and fails on warnings."""
    path = tmp_path_factory.mktemp("schema") / "schema.yaml"
    with django_db_blocker.unblock():
        call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(path))
    return yaml.safe_load(path.read_text())


@pytest.fixture
def client(client_for, db):
    """The schema is served to people signed in (a staff member's token); anonymous: 401."""
    from tests import factories as f

    return client_for(f.staff_make().user)


@pytest.mark.django_db
def test_schema_is_not_served_without_sign_in(client_for):
    assert client_for(None).get(SCHEMA_URL, {"format": "json"}).status_code == 401


@pytest.mark.django_db
def test_schema_is_served_as_json(client):
    response = client.get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert body["info"]["title"]
    assert "/api/v1/families/" in body["paths"]


@pytest.mark.django_db
def test_schema_is_served_for_an_openapi_json_accept_header(client):
    response = client.get(SCHEMA_URL, HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_served_schema_equals_the_generated_one(client, schema):
    served = client.get(SCHEMA_URL, {"format": "json"}).json()
    assert set(served["paths"]) == set(schema["paths"])


def test_schema_validates_without_warnings(schema):
    # The fixture ran `spectacular --validate --fail-on-warn`; this names the result.
    assert schema["openapi"].startswith("3.")
    assert schema["paths"]


def test_schema_documents_token_auth(schema):
    schemes = schema["components"]["securitySchemes"]
    assert any(
        s.get("type") == "apiKey" and s.get("name") == "Authorization" for s in schemes.values()
    )


def test_cases_and_agencies_routes_are_all_found():
    """Sanity of the route walk below: it sees what cases/urls.py and agencies/urls.py declare."""
    assert len(CASES_AND_AGENCIES) == len(cases.urls.urlpatterns) + len(agencies.urls.urlpatterns)
    assert CASES_AND_AGENCIES.items() <= api_endpoints().items()
    assert CASES_AND_AGENCIES["/api/v1/families/{family_id}/team/{involvement_id}/"] == {"delete"}
    assert CASES_AND_AGENCIES["/api/v1/families/"] == {"get", "post"}


@pytest.mark.parametrize("path", sorted(api_endpoints()))
def test_every_route_is_in_the_schema_with_its_methods(schema, path):
    methods = api_endpoints()[path]
    assert path in schema["paths"], f"{path} missing from the schema"
    documented = {
        m for m in schema["paths"][path] if m in {"get", "post", "put", "patch", "delete"}
    }
    assert documented == methods


def test_schema_has_no_path_the_project_does_not_serve(schema):
    assert set(schema["paths"]) <= set(api_endpoints())


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, op in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, op


def _resolve(schema, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def test_every_write_has_a_request_body_with_a_json_schema(schema):
    """Every family-record and agency write takes a JSON body, and the schema says what it is.

    Elsewhere a bodyless action (`POST /alerts/read-all/`) may omit it, but a body it documents
    must still have a schema.
    """
    missing = []
    for path, method, op in _operations(schema):
        if method not in WRITE_METHODS:
            continue
        if path not in CASES_AND_AGENCIES and "requestBody" not in op:
            continue
        content = op.get("requestBody", {}).get("content", {})
        # A file upload (an identification dataset) is multipart, as its contract says.
        json_body = content.get("application/json") or content.get("multipart/form-data", {})
        if "schema" not in json_body:
            missing.append(f"{method.upper()} {path}")
            continue
        body = _resolve(schema, json_body["schema"])
        if not (body.get("properties") or body.get("type") == "array"):
            missing.append(f"{method.upper()} {path} (empty body schema)")
    assert not missing, missing


def test_every_operation_has_a_2xx_response_with_a_schema(schema):
    missing = []
    for path, method, op in _operations(schema):
        ok = [
            (code, r)
            for code, r in op.get("responses", {}).items()
            if str(code).startswith("2") and str(code) != "204"
        ]
        if not ok or not all(
            any("schema" in media for media in r.get("content", {}).values()) for _, r in ok
        ):
            missing.append(f"{method.upper()} {path}")
    assert not missing, missing


@pytest.mark.parametrize(
    "path, method", sorted(SUCCESS), ids=[f"{m} {p}" for p, m in sorted(SUCCESS)]
)
def test_write_success_status_is_the_one_the_endpoint_returns(schema, path, method):
    responses = schema["paths"][path][method]["responses"]
    two_xx = {str(code) for code in responses if str(code).startswith("2")}
    assert two_xx == {SUCCESS[(path, method)]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/families/{family_id}/",
        "/api/v1/families/{family_id}/actions/{action_id}/",
        "/api/v1/families/{family_id}/needs/{need_id}/",
    ],
)
def test_if_match_is_documented_as_required_on_patch(schema, path):
    params = schema["paths"][path]["patch"].get("parameters", [])
    if_match = [p for p in params if p["name"] == "If-Match" and p["in"] == "header"]
    assert if_match and if_match[0]["required"] is True


def test_a_members_patch_takes_no_if_match_and_no_other_keys(schema):
    """The contract asks If-Match of families and plan actions only (a member has no version);
    the body refuses keys it does not know (core.serializers.StrictInputSerializer), and says so."""
    operation = schema["paths"]["/api/v1/families/{family_id}/members/{member_id}/"]["patch"]
    assert not [p for p in operation.get("parameters", []) if p["name"] == "If-Match"]
    assert "412" not in operation["responses"] and "428" not in operation["responses"]
    body = _resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["additionalProperties"] is False
    assert not body.get("required")  # any of the fields, none required
    fields = set(body["properties"])
    post = schema["paths"]["/api/v1/families/{family_id}/members/"]["post"]
    created = _resolve(schema, post["requestBody"]["content"]["application/json"]["schema"])
    assert fields == set(created["properties"])  # "any of the fields above"


def test_list_endpoints_document_their_pagination_envelope(schema):
    """Every API list is `{next, previous, results}` (core/pagination.py)."""
    for path in ["/api/v1/families/", "/api/v1/families/{family_id}/contacts/"]:
        ok = schema["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        body = _resolve(schema, ok["schema"])
        assert {"next", "previous", "results"} <= set(body["properties"]), path


def test_enums_match_the_contract(schema):
    """The choices partner systems build against (agency kinds, visibility, roles); the schema
    must offer exactly them."""
    enums = schema["components"]["schemas"]
    assert set(enums["AgencyKindEnum"]["enum"]) == {
        "early_help",
        "childrens_social_care",
        "school",
        "police",
        "health",
        "housing",
        "jobcentre",
        "youth_justice",
        "probation",
        "substance_misuse",
        "domestic_abuse",
        "voluntary",
        "other",
    }
    assert set(enums["VisibilityEnum"]["enum"]) == {"team", "restricted"}
    # The v1 staff roles, the data protection officer (decision 0019) and the analyst, who
    # uploads identification datasets (decision 0028).
    roles = {"practitioner", "key_worker", "manager", "agency_admin", "dpo", "analyst"}
    assert any(set(s.get("enum", [])) == roles for s in enums.values())


ERROR_BODIES = {"#/components/schemas/Error", "#/components/schemas/ValidationError"}
TOKEN = "/api/v1/auth/token/"


def test_every_operation_documents_its_error_answers_with_the_error_body(schema):
    """core/schema.py adds them by rule (the contract's list of errors): 400 everywhere, 401 and
    403, 404 with a path parameter, 409 on writes that need sign-in, 412 with If-Match (and 428
    when it is required), 415 with a body; each with the API's error body in JSON."""
    wrong = []
    for path, method, op in _operations(schema):
        expected = {"400", "401", "403"}
        if "{" in path:
            expected.add("404")
        if method != "get" and path != TOKEN:
            expected.add("409")
        if_match = [
            p for p in op.get("parameters", []) if p["in"] == "header" and p["name"] == "If-Match"
        ]
        if if_match:
            expected.add("412")
        if any(p.get("required") for p in if_match):
            expected.add("428")
        if "requestBody" in op:
            expected.add("415")
        documented = set(op["responses"])
        if not expected <= documented:
            wrong.append(f"{method.upper()} {path}: no {sorted(expected - documented)}")
        for code, answer in op["responses"].items():
            if str(code).startswith("2"):
                continue
            body = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if body.get("$ref") not in ERROR_BODIES:
                wrong.append(f"{method.upper()} {path} {code}: not the error body")
    assert not wrong, wrong


def test_the_sign_in_endpoint_documents_its_rate_limit(schema):
    assert "429" in schema["paths"][TOKEN]["post"]["responses"]
    assert "429" not in schema["paths"]["/api/v1/families/"]["get"]["responses"]


def test_the_error_bodies_are_the_contracts(schema):
    components = schema["components"]["schemas"]
    assert set(components["Error"]["required"]) == {"detail", "code"}
    assert components["ValidationError"]["type"] == "object"
