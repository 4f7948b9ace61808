"""Lockout after repeated failed sign-ins (django-axes, agencies/lockout.py, decision 0020).

Five failed sign-ins of one username from one address lock that pair: the fifth answer is already
the lockout (the sign-in page's "Sign-in is locked" page, 429; the API's 429 `locked_out`), and
while it lasts a correct password is refused too, with no session and no token. The count is per
username and address: the same username from another address, or another username from the same
address, still signs in. A successful sign-in clears the count. The lock lasts
`AXES_COOLOFF_TIME` (env SIGN_IN_LOCKOUT_MINUTES) from the last failure, then the right password
works again. The Django admin's login is locked the same way. The sign-in throttle (per address,
over every username) stays alongside it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import caches
from django.db.models import F
from django.test import Client
from rest_framework.test import APIClient

from tests import factories as f
from tests.test_production_settings import _settings

pytestmark = pytest.mark.django_db

SIGN_IN = "/sign-in/"
TOKEN = "/api/v1/auth/token/"
HERE, ELSEWHERE = "198.51.100.7", "203.0.113.9"


@pytest.fixture(autouse=True)
def empty_throttle():
    """The sign-in throttle's counts (Redis keeps them past a test's transaction)."""
    caches["throttle"].clear()
    yield
    caches["throttle"].clear()


def page_attempt(client: Client, username: str, password: str = "wrong", address: str = HERE):
    return client.post(SIGN_IN, {"username": username, "password": password}, REMOTE_ADDR=address)


def token_attempt(username: str, password: str = "wrong", address: str = HERE):
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", REMOTE_ADDR=address
    )


def _locked_page(response) -> bool:
    return response.status_code == 429 and "Sign-in is locked for 15 minutes" in response.text


def test_the_settings():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AXES_RESET_ON_SUCCESS
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    # The lockout period is a setting, from the environment.
    assert _settings(["AXES_COOLOFF_TIME"], SIGN_IN_LOCKOUT_MINUTES="60") == {
        "AXES_COOLOFF_TIME": "1:00:00"
    }


def test_the_sign_in_page_locks_after_five_failures():
    user = f.staff_make().user
    client = Client()
    for _ in range(4):
        wrong = page_attempt(client, user.username)
        assert wrong.status_code == 200
        assert "Please enter a correct username and password" in wrong.text
    fifth = page_attempt(client, user.username)
    assert _locked_page(fifth)
    assert "govuk-heading-l" in fifth.text  # the service's page, not a bare error
    # The right password while locked: refused, not signed in.
    right = page_attempt(client, user.username, f.PASSWORD)
    assert _locked_page(right)
    assert "_auth_user_id" not in client.session
    assert client.get("/home/").status_code == 302  # to sign in
    assert token_attempt(user.username, f.PASSWORD).json()["code"] == "locked_out"


def test_the_token_endpoint_locks_after_five_failures():
    user = f.staff_make().user
    answers = [token_attempt(user.username) for _ in range(5)]
    assert [a.status_code for a in answers] == [400] * 4 + [429]
    assert answers[-1].json()["code"] == "locked_out"
    assert "locked for 15 minutes" in answers[-1].json()["detail"]
    right = token_attempt(user.username, f.PASSWORD)
    assert right.status_code == 429 and right.json()["code"] == "locked_out"
    assert "token" not in right.json()
    # The page refuses it too: the same username and address.
    assert _locked_page(page_attempt(Client(), user.username, f.PASSWORD))


def test_the_count_is_per_username_and_address():
    user, other = f.staff_make().user, f.staff_make().user
    for _ in range(5):
        token_attempt(user.username)
    assert token_attempt(user.username, f.PASSWORD).status_code == 429
    # The same person from another address, another person from this one: not locked.
    assert token_attempt(user.username, f.PASSWORD, address=ELSEWHERE).status_code == 200
    assert token_attempt(other.username, f.PASSWORD).status_code == 200
    # Failures from several addresses do not add up for one of them.
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"):
        for _ in range(4):
            assert token_attempt(other.username, address=address).status_code == 400
    assert token_attempt(other.username, f.PASSWORD, address="192.0.2.1").status_code == 200


def test_a_successful_sign_in_clears_the_count():
    user = f.staff_make().user
    client = Client()
    for _ in range(4):
        page_attempt(client, user.username)
    assert page_attempt(client, user.username, f.PASSWORD).status_code == 302
    client.post("/sign-out/")
    for _ in range(4):
        assert page_attempt(client, user.username).status_code == 200  # counting from 0 again
    assert page_attempt(client, user.username, f.PASSWORD).status_code == 302


def test_the_lock_ends_after_the_lockout_period():
    user = f.staff_make().user
    for _ in range(5):
        token_attempt(user.username)
    # Attempts while locked do not extend it.
    assert token_attempt(user.username).status_code == 429
    assert AccessAttempt.objects.get(username=user.username).failures_since_start == 5
    # 14 minutes on: still locked; 15 minutes after the last failure: the right password works.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=14))
    assert token_attempt(user.username, f.PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=1, seconds=1))
    assert token_attempt(user.username, f.PASSWORD).status_code == 200


def test_the_django_admin_login_locks_too(django_user_model):
    django_user_model.objects.create_superuser("root", "root@example.test", f.PASSWORD)
    client = Client()
    for _ in range(5):
        response = client.post(
            "/admin/login/", {"username": "root", "password": "wrong", "next": "/admin/"}
        )
    assert _locked_page(response)
    response = client.post(
        "/admin/login/", {"username": "root", "password": f.PASSWORD, "next": "/admin/"}
    )
    assert _locked_page(response)
    assert "_auth_user_id" not in client.session


def test_the_address_throttle_still_limits_tries_over_many_usernames(settings):
    """Axes locks one username from one address; the throttle (agencies/throttling.py) limits
    one address over every username, which the lockout alone would not."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"sign_in": "6/min"},
    }
    users = [f.staff_make().user for _ in range(7)]
    answers = [token_attempt(user.username).status_code for user in users]
    assert answers == [400] * 6 + [429]
