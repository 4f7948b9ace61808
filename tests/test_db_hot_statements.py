"""Prepared statements on PostgreSQL, Django's own way (decision 0012).

With `server_side_binding` (config/settings.py) Django's cursors bind parameters on the server,
so psycopg prepares a statement on its connection once it has run `prepare_threshold` times
there: the access checks and alert delivery rely on it for their speed. Checked: the cursors
bind on the server; the statement of `access.family_permissions` (SQL) and an ORM query are
prepared after the threshold; Django's query log still sees every run (the query-count tests
count them).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import access
from cases.models import Family
from tests import factories as f

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL"),
]


@pytest.fixture
def families(db):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    made = [f.family_make(by=key_worker, name=f"Household {i}") for i in range(3)]
    return key_worker, made


def _prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_django_cursors_bind_on_the_server(db):
    import psycopg

    assert connection.settings_dict["OPTIONS"].get("server_side_binding") is True
    with connection.cursor() as cursor:
        assert not isinstance(cursor.cursor, psycopg.ClientCursor), type(cursor.cursor)
    threshold = connection.connection.prepare_threshold
    assert threshold is not None and threshold >= 0, "prepared statements are off"


def test_hot_statements_are_prepared_and_still_logged(families):
    key_worker, made = families
    family = made[0]
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    access.case_staff(key_worker.user)  # the staff membership, read once per user object
    with CaptureQueriesContext(connection) as logged:
        for _ in range(threshold + 2):
            perms = access.family_permissions(key_worker.user, family)
    assert access.VIEW in perms
    assert len(logged) == threshold + 2
    prepared = _prepared()
    assert any("codename" in text and "content_object_id" in text for text in prepared), prepared


def test_orm_statements_are_prepared_too(families):
    _, made = families
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    for _ in range(threshold + 2):
        for family in made:
            assert Family.objects.filter(id=family.id).values_list("name", flat=True).get()
    table = Family._meta.db_table
    assert any(table in text and '"name"' in text for text in _prepared())
