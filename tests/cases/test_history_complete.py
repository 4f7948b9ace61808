"""No write escapes the field history (decision 0018): the demo borough is built through every
service of the family record, and afterwards the newest history row of every tracked record
equals the record itself (a `QuerySet.update()` or a bulk write, which django-simple-history's
signals do not see, would leave them apart), and every row names its author and their agency."""

from __future__ import annotations

import pytest

from cases.models import Family, Involvement, Need, Person, PlanAction
from consent.models import SharingBasis
from tests import factories as f


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    from django.core.management import call_command

    with f.kept_db(django_db_blocker):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        yield


MODELS = [Family, Person, Involvement, Need, PlanAction, SharingBasis]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_the_newest_history_row_of_every_record_is_the_record(seeded, model, db):
    """The demo borough is built through every service: a write that bypassed the history (a
    QuerySet.update(), a bulk write) would leave a record its newest history row does not
    match. Every row names its author."""
    history = model.history.model
    tracked = [field.attname for field in history.tracked_fields]
    newest = {}
    for row in history.objects.order_by("history_date", "history_id"):
        newest[row.id] = row
    records = list(model.objects.all())
    assert records
    for record in records:
        row = newest.get(record.id)
        assert row is not None, f"{model.__name__} {record.id} has no history"
        assert {a: getattr(row, a) for a in tracked} == {a: getattr(record, a) for a in tracked}
        if model is PlanAction:
            assert sorted(n.need_id for n in row.needs.all()) == sorted(
                record.needs.values_list("id", flat=True)
            )
    assert not history.objects.filter(history_user__isnull=True).exists()
    assert not history.objects.filter(history_agency__isnull=True).exists()
