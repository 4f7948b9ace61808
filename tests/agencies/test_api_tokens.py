"""API tokens (django-rest-knox's store, agencies.models.ApiToken): issued with an expiry, kept
as a digest, listed and revoked by their owner and by the admins of the owner's agency.

Through HTTP with real tokens (`POST /api/v1/auth/token/`, `GET /api/v1/auth/tokens/`,
`DELETE /api/v1/auth/tokens/{id}/`). Time is moved forward by replacing `timezone.now`, never
slept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from agencies import services
from agencies.models import ApiToken
from agencies.roles import Role
from tests import factories as f

pytestmark = pytest.mark.django_db
ISSUE = "/api/v1/auth/token/"
TOKENS = "/api/v1/auth/tokens/"
ME = "/api/v1/me/"
HOURS = 12  # the default lifetime (API_TOKEN_HOURS)


def issue(user) -> dict:
    answer = APIClient().post(
        ISSUE, {"username": user.username, "password": f.PASSWORD}, format="json"
    )
    assert answer.status_code == 200, answer.content
    return answer.json()


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


class Clock:
    """`timezone.now`, moved by hand."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def forward(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def admins(borough):
    """An agency admin of the family's lead agency (Early Help), and one of the school."""
    return (
        f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN),
        f.staff_make(agency=borough.school, role=Role.AGENCY_ADMIN),
    )


def test_a_token_is_shown_once_and_kept_only_as_its_digest(borough, clock):
    user = borough.key_worker.user
    issued = issue(user)
    secret = issued["token"]
    assert set(issued) == {"token", "expires_at"}
    expires = datetime.fromisoformat(issued["expires_at"])
    assert expires == clock.now + timedelta(hours=HOURS)

    row = ApiToken.objects.get(user=user)
    stored = [str(v) for v in ApiToken.objects.filter(pk=row.pk).values_list().get()]
    assert not any(secret in value for value in stored)  # no column holds the secret
    assert row.digest != secret and len(row.digest) == 128

    listed = bearer(secret).get(TOKENS)
    assert listed.status_code == 200
    [shown] = listed.json()["results"]
    assert shown == {
        "id": row.id,
        "prefix": secret[:8],
        "user": user.id,
        "created_at": shown["created_at"],
        "expires_at": issued["expires_at"],
        "last_used_at": shown["last_used_at"],
    }
    assert secret not in listed.content.decode()  # never again, in any field


@override_settings(REST_KNOX={"TOKEN_TTL": timedelta(hours=1), "TOKEN_MODEL": "agencies.ApiToken"})
def test_the_lifetime_is_a_setting(borough, clock):
    issued = issue(borough.key_worker.user)
    assert datetime.fromisoformat(issued["expires_at"]) == clock.now + timedelta(hours=1)


def test_an_expired_token_is_refused(borough, clock):
    secret = issue(borough.key_worker.user)["token"]
    clock.forward(hours=HOURS, seconds=-1)
    assert bearer(secret).get(ME).status_code == 200
    clock.forward(seconds=1)
    refused = bearer(secret).get(ME)
    assert refused.status_code == 401
    assert refused.json()["code"] == "authentication_failed"
    assert bearer(secret).get(TOKENS).status_code == 401
    # A new one works, and the expired one is gone from the store once a new one is issued.
    again = issue(borough.key_worker.user)["token"]
    assert bearer(again).get(ME).status_code == 200
    assert ApiToken.objects.filter(user=borough.key_worker.user).count() == 1


def test_a_user_lists_and_revokes_their_own(borough, clock):
    user = borough.key_worker.user
    first, second = issue(user)["token"], issue(user)["token"]
    listed = bearer(first).get(TOKENS).json()["results"]
    assert [t["prefix"] for t in listed] == [second[:8], first[:8]]  # newest first
    first_id = listed[1]["id"]

    # Revoked with the other token: refused from the next request on.
    assert bearer(second).delete(f"{TOKENS}{first_id}/").status_code == 200
    assert bearer(first).get(ME).status_code == 401
    assert bearer(second).get(ME).status_code == 200
    assert [t["prefix"] for t in bearer(second).get(TOKENS).json()["results"]] == [second[:8]]
    assert bearer(second).delete(f"{TOKENS}{first_id}/").status_code == 404  # gone

    # A token revoking itself.
    own_id = bearer(second).get(TOKENS).json()["results"][0]["id"]
    assert bearer(second).delete(f"{TOKENS}{own_id}/").status_code == 200
    assert bearer(second).get(ME).status_code == 401


def test_an_agency_admin_lists_and_revokes_their_staffs_tokens(borough, admins):
    admin, _ = admins
    staff_secret = issue(borough.key_worker.user)["token"]
    admin_client = bearer(issue(admin.user)["token"])

    listed = admin_client.get(TOKENS, {"user": borough.key_worker.user.id})
    assert listed.status_code == 200
    [shown] = listed.json()["results"]
    assert shown["prefix"] == staff_secret[:8] and shown["user"] == borough.key_worker.user.id
    # Their own list is their own.
    assert [t["user"] for t in admin_client.get(TOKENS).json()["results"]] == [admin.user.id]

    revoked = admin_client.delete(f"{TOKENS}{shown['id']}/")
    assert revoked.status_code == 200 and revoked.json() == shown
    assert bearer(staff_secret).get(ME).status_code == 401


def test_nobody_else_lists_or_revokes_a_persons_tokens(borough, admins):
    """Another agency's admin, a colleague who is no admin, a partner: 404, the token untouched."""
    _, school_admin = admins
    owner = borough.key_worker.user
    secret = issue(owner)["token"]
    token_id = ApiToken.objects.get(user=owner).id
    for other in (school_admin, borough.manager, borough.lead_practitioner, borough.partner):
        client = bearer(issue(other.user)["token"])
        assert client.get(TOKENS, {"user": owner.id}).status_code == 404, other
        assert client.delete(f"{TOKENS}{token_id}/").status_code == 404, other
    assert bearer(secret).get(ME).status_code == 200


def test_a_platform_admin_lists_and_revokes_anyones(borough):
    root = get_user_model().objects.create_user("platform", password=f.PASSWORD, is_staff=True)
    owner = borough.partner.user
    secret = issue(owner)["token"]
    client = bearer(issue(root)["token"])
    [shown] = client.get(TOKENS, {"user": owner.id}).json()["results"]
    assert client.delete(f"{TOKENS}{shown['id']}/").status_code == 200
    assert bearer(secret).get(ME).status_code == 401


@pytest.mark.parametrize("value", ["abc", "0", "-1", str(2**63), "1.5"])
def test_a_bad_user_filter_is_400_naming_it(borough, value):
    client = bearer(issue(borough.key_worker.user)["token"])
    answer = client.get(TOKENS, {"user": value})
    assert answer.status_code == 400 and "user" in answer.json()


@pytest.mark.parametrize("token_id", ["0", str(2**63), str(2**64 + 1)])
def test_no_such_token_is_404(borough, token_id):
    client = bearer(issue(borough.key_worker.user)["token"])
    assert client.delete(f"{TOKENS}{token_id}/").status_code == 404


def test_anonymous_and_unknown_tokens_are_401(borough):
    token_id = ApiToken.objects.create(user=borough.key_worker.user)[0].id
    for client in (APIClient(), bearer("0" * 64)):
        assert client.get(TOKENS).status_code == 401
        assert client.delete(f"{TOKENS}{token_id}/").status_code == 401
    assert ApiToken.objects.filter(pk=token_id).exists()


def test_last_used_is_written_at_most_once_a_minute(borough, clock):
    user = borough.key_worker.user
    secret = issue(user)["token"]
    issued_at = ApiToken.objects.get(user=user).last_used_at
    assert issued_at == clock.now
    client = bearer(secret)

    def me_queries() -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(ME).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    clock.forward(seconds=59)
    assert len(me_queries()) == 1  # the one read, no write
    assert ApiToken.objects.get(user=user).last_used_at == issued_at
    clock.forward(seconds=1)
    written = me_queries()
    assert len(written) == 2 and written[1].startswith("UPDATE")
    assert ApiToken.objects.get(user=user).last_used_at == clock.now
    listed = client.get(TOKENS).json()["results"][0]
    assert datetime.fromisoformat(listed["last_used_at"]) == clock.now


def test_an_admins_list_of_a_staff_members_tokens_costs_constant_queries(borough, admins):
    admin, _ = admins
    owner = borough.key_worker.user
    client = bearer(issue(admin.user)["token"])

    def counted() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(TOKENS, {"user": owner.id})
        assert answer.status_code == 200
        return len(answer.json()["results"]), len(captured.captured_queries)

    for _ in range(2):
        services.token_issue(user=owner)
    small = counted()
    for _ in range(10):
        services.token_issue(user=owner)
    large = counted()
    # token + user + staff (1), the owner's agency (1), the page (1)
    assert (small, large) == ((2, 3), (12, 3))


def test_old_plain_tokens_are_deleted_by_the_migration(db):
    """rest_framework.authtoken's table, if a database still has one: its plain keys are
    deleted (they stopped working when the app stopped reading them)."""
    import importlib

    migration = importlib.import_module("agencies.migrations.0004_api_tokens")
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id int)")
        cursor.execute("INSERT INTO authtoken_token VALUES ('plain-old-key', 1)")

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    migration.old_tokens_delete(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM authtoken_token")
        assert cursor.fetchone()[0] == 0
        cursor.execute("DROP TABLE authtoken_token")
