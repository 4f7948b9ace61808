"""Token authentication (agencies/authentication.py), through HTTP with real tokens.

One statement reads the token (django-rest-knox's store, found by the digest of the secret), the
user, the staff membership and the agency; the answers must stay DRF's and knox's: 401 for a
missing, unknown or malformed token and for a deactivated user; a user
without a staff membership is authenticated with no agency; the membership the request sees is
the current one (a role change is seen on the next request).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db
ME = "/api/v1/me/"


def _client(header: str | None) -> APIClient:
    client = APIClient()
    if header is not None:
        client.credentials(HTTP_AUTHORIZATION=header)
    return client


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Token",
        "Token nope",
        "Token " + "0" * 40,
        "Token " + "0" * 64,
        "Token a b",
        "Bearer x",
        "Token \u00e9",
        "Token \u00e9" * 30,
    ],
)
def test_missing_or_unknown_tokens_are_401(header, db):
    assert _client(header).get(ME).status_code == 401


def test_a_staff_member_is_known_with_agency_and_role_in_one_query(client_for):
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    member = f.staff_make(agency=school, role=Role.PRACTITIONER)
    client = client_for(member.user)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(ME)
    assert response.status_code == 200
    assert response.json() == {
        "id": member.user.id,
        "username": member.user.username,
        "agency": {"id": school.id, "name": "Hill Primary", "kind": "school"},
        "role": "practitioner",
    }
    assert len(queries) == 1, [q["sql"] for q in queries]


def test_a_user_without_staff_membership_has_no_agency(client_for):
    admin = get_user_model().objects.create_user("platform-admin", is_staff=True)
    response = client_for(admin).get(ME)
    assert response.status_code == 200
    assert response.json()["agency"] is None and response.json()["role"] is None


def test_deactivated_user_and_changed_role_take_effect_on_the_next_request(client_for):
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    member = f.staff_make(agency=school, role=Role.PRACTITIONER)
    client = client_for(member.user)
    assert client.get(ME).json()["role"] == "practitioner"
    member.role = Role.MANAGER
    member.save(update_fields=["role"])
    assert client.get(ME).json()["role"] == "manager"
    member.user.is_active = False
    member.user.save(update_fields=["is_active"])
    assert client.get(ME).status_code == 401


def test_the_staff_membership_built_from_the_token_is_the_database_row(db):
    """The membership the one statement builds has the row's own id, user, agency and role (the
    services lock and compare it by primary key)."""
    from agencies.authentication import TokenAuthentication
    from agencies.models import StaffMember

    get_user_model().objects.create_user("no-staff-row")  # user and staff ids drift apart
    staff = f.staff_make(role=Role.KEY_WORKER)
    user, _ = TokenAuthentication().authenticate_credentials(f.token_for(staff.user).encode())
    built = user._staff_cache
    row = StaffMember.objects.get(user=staff.user)
    assert (built.pk, built.user_id, built.agency_id, built.role) == (
        row.pk,
        row.user_id,
        row.agency_id,
        row.role,
    )
