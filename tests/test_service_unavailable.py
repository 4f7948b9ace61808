"""What answers 503 rather than 500 (core.exceptions.server_error, decision 0024): a database or
a Redis that cannot be reached, whatever raised it; a fault in a query stays a 500. The errors are
the real drivers' own, raised here by real failures; the restarts themselves, through the served
app, are tests/faults/ (PostgreSQL + Redis leg)."""

from __future__ import annotations

import socket
import sqlite3

import psycopg
import pytest
import redis
from django.db import IntegrityError, InterfaceError, OperationalError
from django.test import RequestFactory
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.exceptions import database_unavailable, redis_unavailable, server_error


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_django(django_class, cause: BaseException) -> BaseException:
    """The driver's error as Django raises it (`DatabaseErrorWrapper`: `raise … from cause`)."""
    try:
        raise django_class(*cause.args) from cause
    except django_class as exc:
        return exc


def _raised(call) -> BaseException:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("expected an error")


def test_postgres_unreachable_is_unavailable():
    refused = _raised(lambda: psycopg.connect(f"host=127.0.0.1 port={_closed_port()}"))
    assert isinstance(refused, psycopg.OperationalError) and refused.sqlstate is None
    assert database_unavailable(_as_django(OperationalError, refused))
    assert database_unavailable(InterfaceError("connection already closed"))


def test_sqlite_locked_is_unavailable_a_missing_table_is_not(tmp_path):
    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    other = sqlite3.connect(path, timeout=0)
    try:
        locked = _raised(lambda: other.execute("CREATE TABLE t (x)"))
    finally:
        holder.close()
    try:
        missing = _raised(lambda: other.execute("SELECT * FROM nowhere"))
    finally:
        other.close()
    assert database_unavailable(_as_django(OperationalError, locked))
    assert not database_unavailable(_as_django(OperationalError, missing))


def test_a_query_fault_is_not_unavailable():
    assert not database_unavailable(IntegrityError("duplicate key"))
    assert not database_unavailable(ValueError("not a database error"))
    assert not redis_unavailable(ValueError("not a Redis error"))


def test_redis_unreachable_is_unavailable():
    client = redis.Redis(port=_closed_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    assert redis_unavailable(_raised(client.ping))


@pytest.mark.parametrize(
    ("path", "content_type", "text"),
    [
        ("/api/v1/families/", "application/json", '"code": "service_unavailable"'),
        ("/families/1/", "text/html", "Sorry, the service is unavailable"),
    ],
)
def test_server_error_answers_503_in_each_shape(path, content_type, text):
    request = RequestFactory().get(path)
    try:
        raise _as_django(
            OperationalError,
            _raised(lambda: psycopg.connect(f"port={_closed_port()} host=127.0.0.1")),
        )
    except OperationalError:
        response = server_error(request)
    assert response.status_code == 503
    assert response["Content-Type"].startswith(content_type)
    assert response["Retry-After"]
    assert text in response.content.decode()
    if content_type == "text/html":
        assert "govuk-template" in response.content.decode()


def test_server_error_keeps_other_errors_500():
    request = RequestFactory().get("/api/v1/families/")
    try:
        raise IntegrityError("duplicate key")
    except IntegrityError:
        response = server_error(request)
    assert response.status_code == 500
