"""config/db.py: the hot SQL statements, prepared on PostgreSQL, give what Django's raw path gives.

- `instances()` builds the same model instances as `Model.objects.raw()` (every field, a subset
  with the rest deferred, extra columns as attributes), on whichever database the leg runs;
- on PostgreSQL a statement run through `hot_cursor()` is prepared on its connection once it has
  run `prepare_threshold` times (what the access checks and alert delivery rely on for speed),
  and Django's query log still sees every run (the query-count tests count them).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import access
from cases.models import Family
from config.db import hot_cursor, instances
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def families(db):
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help")
    key_worker = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    made = [f.family_make(by=key_worker, name=f"Household {i}") for i in range(3)]
    return key_worker, made


def _fields(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_instances_match_raw_querysets(families):
    table = Family._meta.db_table
    whole = f"SELECT *, 'x' AS extra FROM {table} ORDER BY id"
    ours, django = instances(Family, whole, []), list(Family.objects.raw(whole))
    assert [_fields(o) for o in ours] == [_fields(d) for d in django]
    assert all(o.extra == "x" for o in ours)
    part = f"SELECT id, name, opened_on, version + 1 AS next_version FROM {table} ORDER BY id"
    ours, django = instances(Family, part, []), list(Family.objects.raw(part))
    for o, d in zip(ours, django, strict=True):
        assert (o.id, o.name, o.opened_on, o.next_version) == (
            d.id,
            d.name,
            d.opened_on,
            d.next_version,
        )
        assert o.get_deferred_fields() == d.get_deferred_fields() != set()
        assert o.postcode == d.postcode  # a deferred field loads on use, as Django's does


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements: PostgreSQL")
def test_hot_statements_are_prepared_and_still_logged(families):
    key_worker, made = families
    family = made[0]
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    assert threshold is not None and threshold >= 0, "prepared statements are off"
    access.case_staff(key_worker.user)  # the staff membership, read once per user object
    with CaptureQueriesContext(connection) as logged:
        for _ in range(threshold + 2):
            perms = access.family_permissions(key_worker.user, family)
    assert access.VIEW in perms
    assert len(logged) == threshold + 2
    with hot_cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("codename" in text and "content_object_id" in text for text in prepared), prepared
