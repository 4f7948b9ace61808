"""core/db.py: the hot SQL statements, prepared on PostgreSQL, give what Django's raw path gives.

- `instances()` builds the same model instances as `Model.objects.raw()` (every field, a subset
  with the rest deferred, extra columns as attributes), on whichever database the leg runs,
  whatever the order of the columns: `Model.from_db` takes a subset's values in the model's field
  order, and the fields' converters (JSON decoded, for one) apply to the right columns;
- on PostgreSQL its timestamps follow the connection's time zone as Django's cursors' do, also
  after a test changed the settings;
- on PostgreSQL a statement run through `hot_cursor()` is prepared on its connection once it has
  run `prepare_threshold` times (what the access checks and alert delivery rely on for speed),
  and Django's query log still sees every run (the query-count tests count them).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from agencies.models import AgencyKind, StaffMember
from agencies.roles import Role
from cases import access
from cases.models import Family
from consent.models import SharingBasis
from core.db import hot_cursor, instances
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


def test_instances_take_the_columns_in_any_order(borough):
    """Columns selected out of the model's order land in their own fields, converted."""
    get_user_model().objects.create_user("no-staff")  # user ids no longer follow staff ids
    agency = f.agency_make()
    for _ in range(3):
        f.staff_make(agency=agency)
    table = StaffMember._meta.db_table
    sql = f"SELECT role, agency_id, user_id, id, 'x' AS extra FROM {table} ORDER BY id"
    ours, django = instances(StaffMember, sql, []), list(StaffMember.objects.raw(sql))
    assert any(len({s.id, s.user_id, s.agency_id}) == 3 for s in ours), "no row tells them apart"
    for o, d in zip(ours, django, strict=True):
        orm = StaffMember.objects.get(id=o.id)
        assert (o.id, o.user_id, o.agency_id, o.role, o.extra) == (
            orm.id,
            orm.user_id,
            orm.agency_id,
            orm.role,
            "x",
        )
        assert _fields(o) == _fields(d)
    basis = SharingBasis.objects.get(family=borough.family)
    table = SharingBasis._meta.db_table
    sql = f"SELECT recorded_at, purposes, basis, family_id, id FROM {table} WHERE id = %s"
    (ours,) = instances(SharingBasis, sql, [basis.id])
    assert (ours.id, ours.family_id, ours.basis) == (basis.id, basis.family_id, basis.basis)
    assert isinstance(ours.purposes, list) and ours.purposes == basis.purposes
    assert ours.recorded_at == basis.recorded_at and ours.recorded_at.utcoffset() is not None
    assert "given_on" in ours.get_deferred_fields()


def test_instances_follow_the_time_zone_settings(families):
    """Django's cursors read timestamps in the connection's time zone of the moment: so do
    these, also once a test changed the settings after the connection opened."""
    connection.ensure_connection()
    table = Family._meta.db_table
    sql = f"SELECT id, created_at FROM {table} ORDER BY id"
    with override_settings(USE_TZ=False):
        ours, django = instances(Family, sql, []), list(Family.objects.raw(sql))
        assert [o.created_at for o in ours] == [d.created_at for d in django]
        assert all(o.created_at.tzinfo is None for o in ours)
    ours = instances(Family, sql, [])
    assert all(o.created_at.utcoffset() is not None for o in ours)


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
