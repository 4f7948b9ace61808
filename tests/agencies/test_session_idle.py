"""Sessions end after 30 minutes without a request (agencies/middleware.py, decision 0020).

The sessions' clock (`django.utils.timezone.now`) is moved by hand. A page or an API call made
with the session keeps it alive; 30 minutes without one ends it: pages send the person to sign
in, the API answers 401. The session row is not written at every request: only when it was last
saved a minute or more ago (a session ends between 29 and 30 minutes after its last request).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests import factories as f

pytestmark = pytest.mark.django_db

MINUTE = timedelta(minutes=1)


@pytest.fixture
def clock(monkeypatch):
    """The sessions' clock, frozen; `clock.move(minutes=…)` moves it on."""

    class Clock:
        now = timezone.now()

        def move(self, **delta) -> None:
            self.now += timedelta(**delta)

    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


def _signed_in(user) -> Client:
    client = Client()
    response = client.post("/sign-in/", {"username": user.username, "password": f.PASSWORD})
    assert response.status_code == 302 and "_auth_user_id" in client.session
    return client


def _session_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if "django_session" in q["sql"] and q["sql"].lstrip().upper().startswith("UPDATE")
    ]


def test_thirty_minutes_idle_by_the_settings():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_TOUCH_INTERVAL_S == 60
    assert not settings.SESSION_SAVE_EVERY_REQUEST


def test_a_session_idle_for_thirty_minutes_ends(clock):
    member = f.staff_make()
    client = _signed_in(member.user)
    clock.move(minutes=29, seconds=59)
    assert client.get("/api/v1/me/").status_code == 200  # still signed in, and kept alive
    clock.move(minutes=29, seconds=59)
    assert client.get("/home/").status_code == 302  # to the role's home page: signed in
    assert client.get("/api/v1/me/").status_code == 200
    clock.move(minutes=30)
    page = client.get("/home/")
    assert page.status_code == 302 and page["Location"] == "/sign-in/?next=/home/"
    assert client.get("/api/v1/me/").status_code == 401


def test_activity_keeps_it_alive_for_hours(clock):
    member = f.staff_make()
    client = _signed_in(member.user)
    for _ in range(12):  # three hours, a request every quarter of an hour
        clock.move(minutes=15)
        assert client.get("/api/v1/me/").status_code == 200


def test_the_session_is_written_at_most_once_a_minute(clock):
    member = f.staff_make()
    client = _signed_in(member.user)
    signed_in_at = clock.now
    for seconds in (1, 20, 59):  # seconds after signing in
        clock.now = signed_in_at + timedelta(seconds=seconds)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/me/").status_code == 200
        assert _session_writes(queries) == [], seconds
    clock.move(seconds=2)  # a minute and a second after the last save
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me/").status_code == 200
    assert len(_session_writes(queries)) == 1
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/me/").status_code == 200
    assert _session_writes(queries) == []


def test_the_last_request_ends_the_session_no_more_than_thirty_minutes_later(clock):
    """Requests within a minute of the last save do not move the expiry: the session ends 30
    minutes after the save, at most 30 minutes after the last request."""
    member = f.staff_make()
    client = _signed_in(member.user)
    clock.move(seconds=59)
    assert client.get("/api/v1/me/").status_code == 200  # not saved: within the minute
    clock.move(minutes=29, seconds=2)  # 30 min 1 s after sign-in, 29 min 2 s after that request
    assert client.get("/api/v1/me/").status_code == 401


def test_signing_out_ends_it_at_once(clock):
    member = f.staff_make()
    client = _signed_in(member.user)
    assert client.post("/sign-out/").status_code == 302
    assert client.get("/api/v1/me/").status_code == 401
