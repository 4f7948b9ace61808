"""PostgreSQL restarted under a stream of requests: every answer is a 200 or a clean 503 (the
API's JSON error, the GOV.UK "service unavailable" page), none a 500, none hanging; then the same
web process serves again, with no restart of its own.

The database is a throwaway cluster of this test's own (tests/faults/throwaway.py) holding a copy
of the test database, stopped and started here: never the machine's PostgreSQL. The app is
served as in production (`python -m core.serve`, one worker) with a pool timeout of 2 s, so that
requests during the outage meet both ways the database fails them: a pooled connection the
server ended, and no connection to be had within the timeout.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (tests/faults/__init__.py).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from tests.faults import REDIS_URL, services_leg_required

services_leg_required()

import requests  # noqa: E402
from django.test import Client  # noqa: E402

from bench import procs  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.alerts.test_e2e_services import (  # noqa: E402
    _base_env,
    _http_ready,
    _test_database_url,
    _wait,
    start_web,
)
from tests.faults.throwaway import ThrowawayPostgres  # noqa: E402

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

POOL_TIMEOUT_S = 2.0
DOWN_S = POOL_TIMEOUT_S + 2.5  # long enough for requests to wait out the pool's timeout
HANG_S = POOL_TIMEOUT_S + 4.0  # an answer slower than this is a hang
RECOVERY_S = 15.0


@dataclass
class Answer:
    kind: str  # "api" or "page"
    sent: float  # monotonic
    took: float
    status: int | None  # None: no answer (timeout or connection error)
    content_type: str = ""
    body: str = ""
    retry_after: str | None = None
    error: str = ""


class Stream:
    """Clients sending requests back to back, each answer recorded, until stopped."""

    def __init__(self, port: int, token: str, session_cookie: str):
        self.base = f"http://127.0.0.1:{port}"
        self.token, self.cookie = token, session_cookie
        self.answers: list[Answer] = []
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(kind,), daemon=True)
            for kind in ("api", "api", "page")
        ]

    def _request(self, session: requests.Session, kind: str) -> Answer:
        sent = time.monotonic()
        try:
            if kind == "api":
                response = session.get(
                    f"{self.base}/api/v1/families/",
                    headers={"Authorization": f"Token {self.token}"},
                    timeout=HANG_S + 10,
                )
            else:
                response = session.get(
                    f"{self.base}/", cookies={"sessionid": self.cookie}, timeout=HANG_S + 10
                )
        except requests.RequestException as exc:
            return Answer(kind, sent, time.monotonic() - sent, None, error=repr(exc))
        return Answer(
            kind,
            sent,
            time.monotonic() - sent,
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.text,
            response.headers.get("Retry-After"),
        )

    def _run(self, kind: str) -> None:
        session = requests.Session()
        session.trust_env = False
        while not self.stopping.is_set():
            self.answers.append(self._request(session, kind))
            time.sleep(0.02)

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(HANG_S + 15)


@pytest.fixture
def throwaway_copy(borough, django_db_blocker):
    """A throwaway cluster holding a copy of the test database (the borough, a token and a
    signed-in session of the key worker)."""
    user = borough.key_worker.user
    token = f.token_for(user)
    client = Client()
    client.force_login(user)
    session_cookie = client.cookies["sessionid"].value
    pg = ThrowawayPostgres()
    try:
        pg.start()
        with django_db_blocker.unblock():
            source = _test_database_url()
        pg.copy_database(source, "teamaround")
        yield pg, token, session_cookie
    finally:
        pg.remove()


def test_postgres_restart_answers_503_then_recovers(throwaway_copy, tmp_path):
    pg, token, session_cookie = throwaway_copy
    env = _base_env(
        DATABASE_URL=pg.url("teamaround"),
        REDIS_URL=REDIS_URL,
        DB_POOL_TIMEOUT=str(POOL_TIMEOUT_S),
        LOG_LEVEL="ERROR",
    )
    web, port = start_web("web-pg", env, tmp_path, workers=1)
    try:
        _wait("uvicorn", lambda: _http_ready(port), [web])
        workers_before = procs.children(web.proc.pid)
        stream = Stream(port, token, session_cookie)
        stream.start()
        try:
            time.sleep(1.0)
            stopped_at = time.monotonic()
            pg.stop()
            time.sleep(DOWN_S)
            pg.start()
            started_at = time.monotonic()
            deadline = started_at + RECOVERY_S
            while time.monotonic() < deadline:
                recovered = {
                    a.kind for a in list(stream.answers) if a.sent > started_at and a.status == 200
                }
                if recovered == {"api", "page"}:
                    break
                time.sleep(0.1)
            time.sleep(1.0)
        finally:
            stream.stop()
        workers_after = procs.children(web.proc.pid)
        web.check_alive()
    finally:
        web.stop()

    answers = stream.answers
    log = web.log_tail(20_000)
    no_answer = [a for a in answers if a.status is None]
    assert not no_answer, f"requests without an answer (hung or cut): {no_answer[:3]}\n{log}"
    statuses = {a.status for a in answers}
    assert statuses <= {200, 503}, f"statuses {statuses}\n{log}"
    slow = [a for a in answers if a.took > HANG_S]
    assert not slow, f"answers slower than {HANG_S} s: {[(a.kind, a.took) for a in slow]}"

    unavailable = [a for a in answers if a.status == 503]
    for kind in ("api", "page"):
        assert any(a.kind == kind for a in unavailable), f"no 503 for the {kind} during the outage"
        assert any(a.kind == kind and a.status == 200 and a.sent < stopped_at for a in answers)
    for a in unavailable:
        assert a.retry_after, a
        if a.kind == "api":
            assert a.content_type.startswith("application/json"), a
            assert '"code":"service_unavailable"' in a.body.replace(" ", ""), a.body
        else:
            assert a.content_type.startswith("text/html"), a
            assert "govuk-template" in a.body and "Sorry, the service is unavailable" in a.body
    assert all(a.sent < started_at + RECOVERY_S for a in unavailable)

    # Recovered: from each client's first 200 after the restart, nothing but 200s.
    for kind in ("api", "page"):
        after = [a for a in answers if a.kind == kind and a.sent > started_at]
        first_ok = next((i for i, a in enumerate(after) if a.status == 200), None)
        assert first_ok is not None, f"the {kind} never recovered\n{log}"
        assert {a.status for a in after[first_ok:]} == {200}, [a.status for a in after]
    # The same web process throughout: the worker was not restarted.
    assert workers_after == workers_before
    assert "restarting" not in log
