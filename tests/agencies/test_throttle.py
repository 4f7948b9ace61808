"""Sign-in throttling (agencies/throttling.py), through the API's token endpoint and the admin's
login form.

One budget of attempts per client address: a forged X-Forwarded-For does not give a new one
(the address is REMOTE_ADDR unless TRUSTED_PROXY_COUNT proxies are trusted, and then the entry
the outermost of them wrote); the count lives in the shared `throttle` store (Redis, else the
database), so a second web process sees it; the admin's login counts in the same budget.

The throttle's clock is frozen in the middle of a window, so no test straddles a window's end.
The per-account lockout (django-axes) is off here; tests/agencies/test_lockout.py tests it, and
the two together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends import locmem
from django.test import Client, override_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests import factories as f

TOKEN = "/api/v1/auth/token/"
ADMIN_LOGIN = "/admin/login/"
NOON = 1_800_000_000 + 30.0  # 30 s into a minute: the middle of a one-minute window


def rate(limit: str, **rest_framework):
    """Settings with this sign-in rate (and any other REST_FRAMEWORK keys)."""
    return override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"sign_in": limit},
            **rest_framework,
        }
    )


def _stores_clear() -> None:
    for alias in settings.CACHES:
        caches[alias].clear()


@pytest.fixture(autouse=True)
def stores(db):
    """Empty throttle counts before and after (Redis keeps them past the test's transaction)."""
    _stores_clear()
    yield
    _stores_clear()


@pytest.fixture(autouse=True)
def throttle_alone(settings):
    """The throttle on its own: the lockout of one username from one address (django-axes),
    which would lock these usernames at their 5th failure, is tested with it in
    test_lockout.py."""
    settings.AXES_ENABLED = False


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, frozen; `clock[0] += 60` moves it on."""
    now = [NOON]
    monkeypatch.setattr(SimpleRateThrottle, "timer", staticmethod(lambda: now[0]))
    return now


def new_process() -> None:
    """What another web process starts with: no cache objects and empty in-process caches."""
    for alias in settings.CACHES:
        try:
            caches[alias].close()
            del caches[alias]
        except AttributeError:  # never made in this thread
            pass
    locmem._caches.clear()
    locmem._expire_info.clear()
    locmem._locks.clear()


def token_attempt(username: str, password: str = "wrong", **headers):
    return APIClient().post(
        TOKEN, {"username": username, "password": password}, format="json", **headers
    )


def test_a_forged_forwarded_for_does_not_escape_the_limit(clock):
    user = f.staff_make().user
    with rate("5/min"):
        answers = [
            token_attempt(user.username, HTTP_X_FORWARDED_FOR=f"203.0.113.{i}").status_code
            for i in range(40)
        ]
        assert answers == [400] * 5 + [429] * 35
        # Beyond the limit no password is checked: the right one is refused too.
        refused = token_attempt(user.username, f.PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.1")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) == 30
        clock[0] += 60  # the next window
        assert token_attempt(user.username, f.PASSWORD).status_code == 200


def test_the_count_is_shared_by_every_process(clock):
    user = f.staff_make().user
    with rate("5/min"):
        assert [token_attempt(user.username).status_code for _ in range(3)] == [400] * 3
        new_process()
        assert [token_attempt(user.username).status_code for _ in range(2)] == [400] * 2
        new_process()
        assert token_attempt(user.username, f.PASSWORD).status_code == 429


def test_the_store_is_redis_or_the_database():
    backend = type(caches["throttle"]).__module__ + "." + type(caches["throttle"]).__name__
    if settings.REDIS_URL:
        assert backend == "django.core.cache.backends.redis.RedisCache"
    else:
        assert backend == "django.core.cache.backends.db.DatabaseCache"


def test_behind_one_trusted_proxy_the_right_most_entry_is_the_client(clock):
    user = f.staff_make().user
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    with rate("3/min", NUM_PROXIES=1):
        # The client forges the left part; our proxy appends the address it saw.
        answers = [
            token_attempt(
                user.username, HTTP_X_FORWARDED_FOR=f"198.51.100.{i}, 203.0.113.7", **proxy
            ).status_code
            for i in range(6)
        ]
        assert answers == [400] * 3 + [429] * 3
        # Another client behind the same proxy has its own budget.
        other = token_attempt(user.username, HTTP_X_FORWARDED_FOR="203.0.113.7, 203.0.113.8")
        assert other.status_code == 400


def _num_proxies(**env) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "TRUSTED_PROXY_COUNT"}
    environment.update(env, DJANGO_SETTINGS_MODULE="config.settings")
    code = (
        "import django; django.setup();"
        "from rest_framework.settings import api_settings; print(api_settings.NUM_PROXIES)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_trusted_proxy_count_is_read_from_the_environment():
    assert _num_proxies() == "0"  # by default: REMOTE_ADDR, X-Forwarded-For ignored
    assert _num_proxies(TRUSTED_PROXY_COUNT="1") == "1"


def _admin_login(client: Client, username: str, password: str, forwarded_for: str):
    return client.post(
        ADMIN_LOGIN,
        {"username": username, "password": password, "next": "/admin/"},
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_the_admin_login_is_throttled_in_the_same_budget(clock, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.test", f.PASSWORD)
    client = Client()
    with rate("3/min"):
        for i in range(3):
            wrong = _admin_login(client, "root", "wrong", f"203.0.113.{i}")
            assert wrong.status_code == 200
            assert "Please enter the correct username and password" in wrong.text
        refused = _admin_login(client, "root", f.PASSWORD, "192.0.2.1")
        assert refused.status_code == 200
        assert "Too many sign-in attempts. Try again in 30 seconds." in refused.text
        assert "_auth_user_id" not in client.session
        # The API's token endpoint counts in the same budget.
        assert token_attempt("root", f.PASSWORD).status_code == 429
        clock[0] += 60
        signed_in = _admin_login(client, "root", f.PASSWORD, "192.0.2.1")
        assert signed_in.status_code == 302
        assert client.session["_auth_user_id"] == str(root.pk)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs Redis (the store of several processes)")
@pytest.mark.django_db(transaction=True)
def test_simultaneous_attempts_are_counted_exactly(clock):
    from django.db import connection

    user = f.staff_make().user
    start = threading.Barrier(20)
    answers: list[int] = []

    def attempt() -> None:
        try:
            start.wait()
            answers.append(token_attempt(user.username).status_code)
        finally:
            connection.close()

    with rate("5/min"):
        threads = [threading.Thread(target=attempt) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(answers) == [400] * 5 + [429] * 15
