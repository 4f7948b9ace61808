"""Every model the product reads through a raw queryset comes back as the ORM gives it.

The statements written as SQL (decisions 0008 and 0013) become model instances through
`Model.objects.raw()`; on PostgreSQL their parameters are bound on the server and the statements
prepared (decision 0012). Each concrete field must hold the value and the type
`Model.objects.get()` gives: JSON decoded (a list, not its text), dates as `date`, datetimes
aware, booleans as `bool`. Checked, per model, on rows built through the services (the `borough`
fixture, and more of every kind the detail and the alerts show):

- `SELECT * FROM <table> WHERE id = %s` as a raw queryset, every concrete field;
- the product's own readers (token authentication, the family with its permissions, the family
  detail, alert delivery), whose rows are caught as their raw querysets yield them: every field
  the reader selected (the others are deferred and load through the ORM when used).

A new module reading through a raw queryset fails `test_every_raw_reader_is_covered` until it is
added here.
"""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import update_last_login
from django.db import connection, models
from django.db.models.query import RawQuerySet
from django.utils import timezone

import agencies.authentication
import alerts.selectors
import cases.access
import cases.selectors
from agencies.models import StaffMember
from alerts import services as alert_services
from alerts.models import Alert
from cases import services as case_services
from cases.models import Family, Involvement, Need, Person
from consent import services as consent_services
from consent.models import BasisKind, Purpose, SharingBasis
from tests import factories as f

pytestmark = pytest.mark.django_db

User = get_user_model()
ROOT = Path(__file__).resolve().parent.parent
# The modules that read through raw querysets, and the models they read that way.
READERS = {
    "agencies/authentication.py": agencies.authentication,
    "cases/access.py": cases.access,
    "cases/selectors.py": cases.selectors,
    "alerts/selectors.py": alerts.selectors,
}
MODELS = [User, Family, Person, Involvement, Need, SharingBasis, Alert]
# Fields the world below leaves empty on every row (nothing in it digests alerts).
NEVER_SET = {(Alert, "digested_at")}
SKIPPED_DIRECTORIES = {".venv", "node_modules", ".git", "tests", "migrations", "__pycache__"}


def test_every_raw_reader_is_covered():
    callers = set()
    for directory, subdirectories, files in os.walk(ROOT):
        subdirectories[:] = [d for d in subdirectories if d not in SKIPPED_DIRECTORIES]
        for name in files:
            path = Path(directory, name)
            relative = path.relative_to(ROOT).as_posix()
            if name.endswith(".py"):
                if re.search(r"\.objects\.raw\(", path.read_text()):
                    callers.add(relative)
    assert callers == set(READERS)


@pytest.fixture
def world(borough):
    """The borough's family with members, needs, bases of every kind and state, a second
    (closed) family, and the alerts all that raised, one of them read."""
    b = borough
    key_worker, manager, family = b.key_worker, b.manager, b.family
    today = timezone.localdate()
    first_consent = SharingBasis.objects.get(family=family)
    child = case_services.person_create(
        family=family,
        by=key_worker,
        given_name="Sam",
        family_name="Smith",
        date_of_birth=date(2015, 2, 3),
        relationship="child",
    )
    case_services.person_create(
        family=family,
        by=key_worker,
        given_name="Alex",
        family_name="Smith",
        relationship="other",
        expected_birth_on=today + timedelta(days=60),
    )
    family = case_services.family_update(
        family_id=family.id,
        by=key_worker,
        expected_version=family.version,
        level_of_need=3,
        next_review_on=today + timedelta(days=30),
    )
    case_services.need_create(
        family=family, by=key_worker, outcome=f.outcome(), descriptor="Attendance", person=child
    )
    achieved = case_services.need_create(
        family=family, by=key_worker, outcome=f.outcome("health"), descriptor="Dental check"
    )
    case_services.need_update(
        need_id=achieved.id, by=key_worker, expected_version=achieved.version, status="achieved"
    )
    decision = consent_services.sharing_basis_create(
        family=family,
        by=key_worker,
        basis=BasisKind.SAFEGUARDING,
        agencies=[b.school],
        purposes=[Purpose.TEAM_SHARING, Purpose.REFERRAL],
        justification="Risk of significant harm.",
        decided_by_id=manager.user_id,
        special_category_condition="Safeguarding of children",
        agrees_to_early_help=False,
    )
    consent_services.sharing_basis_confirm(basis_id=decision.id, by=manager)
    consent_services.sharing_basis_review(
        basis_id=decision.id, by=manager, review_on=today + timedelta(days=20)
    )
    expiring = consent_services.sharing_basis_create(
        family=family,
        by=key_worker,
        basis=BasisKind.CONSENT,
        agencies=[b.school],
        purposes=[Purpose.TEAM_SHARING, Purpose.NATIONAL_EVALUATION],
        given_by=[Person.objects.filter(family=family, parental_responsibility=True).first()],
        method="verbal",
        expires_on=today + timedelta(days=3),
        agrees_to_early_help=True,
    )
    consent_services.sharing_basis_withdraw(
        basis=first_consent, by=key_worker, reason="The family asked."
    )
    consent_services.sharing_sweep()  # warns of the consent expiring
    consent_services.sharing_sweep(now=timezone.now() + timedelta(days=5))  # and expires it
    closed = f.family_make(by=key_worker, name="Jones household")
    case_services.family_close(
        family_id=closed.id, by=key_worker, reason="outcomes_met", outcome_summary="Plan complete."
    )
    alert_services.alert_mark_read(alert=Alert.objects.filter(recipient=key_worker.user).first())
    update_last_login(None, key_worker.user)
    expiring.refresh_from_db()
    assert expiring.expiry_swept_at is not None and expiring.expiring_alerted_at is not None
    return b


def _checked(model, field, ours, orm) -> None:
    where = f"{model.__name__}.{field.attname}"
    assert ours == orm, where
    assert type(ours) is type(orm), f"{where}: {type(ours).__name__} vs {type(orm).__name__}"
    if ours is None:
        return
    kind = field.get_internal_type()
    if kind == "JSONField":
        assert isinstance(ours, list), where  # the only JSON field (purposes) holds a list
    elif kind == "DateTimeField":
        assert ours.utcoffset() is not None and ours.utcoffset() == orm.utcoffset(), where
    elif kind == "DateField":
        assert type(ours) is date, where
    elif isinstance(field, models.BooleanField):
        assert type(ours) is bool, where


def _compared(model, obj, *, every_field: bool) -> set[str]:
    """`obj`'s loaded fields checked against the ORM's row; the names of the fields checked."""
    orm = model.objects.get(pk=obj.pk)
    deferred = obj.get_deferred_fields()
    if every_field:
        assert deferred == set()
    loaded = [field for field in model._meta.concrete_fields if field.attname not in deferred]
    for field in loaded:
        _checked(model, field, obj.__dict__[field.attname], getattr(orm, field.attname))
    return {field.attname for field in loaded}


def _ids(model) -> list[int]:
    if model is User:
        return list(User.objects.filter(staff__isnull=False).values_list("id", flat=True))
    return list(model.objects.order_by("id").values_list("id", flat=True))


def _rows_set(model, ids) -> None:
    """The world has, for each field whose value a converter may change, a row where it is set."""
    typed = [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, models.JSONField | models.DateField | models.BooleanField)
    ]
    rows = list(model.objects.filter(id__in=ids).values(*[field.attname for field in typed]))
    for field in typed:
        if (model, field.attname) not in NEVER_SET:
            assert any(row[field.attname] is not None for row in rows), field.attname


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_select_star_as_a_raw_queryset_equals_the_orm(world, model):
    ids = _ids(model)
    assert len(ids) >= 2
    _rows_set(model, ids)
    table = model._meta.db_table
    for row_id in ids:
        (obj,) = model.objects.raw(f"SELECT * FROM {table} WHERE id = %s", [row_id])
        _compared(model, obj, every_field=True)


def _product_reads(world, monkeypatch) -> dict:
    """Every product reader of raw querysets run over the world; the rows their raw querysets
    yielded, by model."""
    caught: dict = {}
    iterator = RawQuerySet.iterator

    def spy(self):
        for obj in iterator(self):
            caught.setdefault(self.model, []).append(obj)
            yield obj

    monkeypatch.setattr(RawQuerySet, "iterator", spy)
    authentication = agencies.authentication.TokenAuthentication()
    for user in User.objects.filter(staff__isnull=False):
        assert authentication.authenticate_credentials(f.token_for(user).encode())[0].id == user.id
    backend = agencies.authentication.SessionUserBackend()
    for user in User.objects.all():
        signed_in = backend.get_user(str(user.id))
        assert signed_in is not None and signed_in.id == user.id
        staff = StaffMember.objects.filter(user_id=user.id).first()
        assert (signed_in._staff_cache and signed_in._staff_cache.id) == (staff and staff.id)
    for family_id in Family.objects.values_list("id", flat=True):
        family, perms = cases.access.family_with_permissions(world.key_worker.user, family_id)
        assert family is not None and cases.access.VIEW in perms
        cases.selectors.family_detail_prefetch(family)
    for user_id in Alert.objects.values_list("recipient_id", flat=True).distinct():
        ids = Alert.objects.filter(recipient_id=user_id).values_list("id", flat=True)
        alerts.selectors.alerts_deliverable(user_id=user_id, ids=list(ids))
    return caught


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_the_product_readers_equal_the_orm(world, model, monkeypatch):
    rows = [row for row in _product_reads(world, monkeypatch).get(model, []) if row.pk is not None]
    assert rows, f"no reader returned a {model.__name__}"
    assert {row.pk for row in rows} <= set(_ids(model))
    checked = set()
    for row in rows:
        checked |= _compared(model, row, every_field=False)
    assert checked - {"id"}, f"the readers loaded no field of {model.__name__} but its id"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the prepared path: PostgreSQL")
def test_purposes_through_a_raw_queryset_are_the_orms_list(world):
    table = SharingBasis._meta.db_table
    bases = SharingBasis.objects.order_by("id")
    assert any(len(basis.purposes) == 2 for basis in bases)
    for basis in bases:
        sql = f"SELECT id, purposes FROM {table} WHERE id = %s"
        (ours,) = SharingBasis.objects.raw(sql, [basis.id])
        assert isinstance(ours.purposes, list)
        assert ours.purposes == basis.purposes
