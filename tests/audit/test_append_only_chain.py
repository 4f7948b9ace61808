"""The access log is append-only and hash-chained.

- On both databases the models refuse to change or delete a row (`save()` of a saved row,
  `delete()`, a queryset's `update()` / `delete()`).
- On PostgreSQL the table refuses UPDATE and DELETE from raw SQL too (the trigger of migration
  0005); the tests that change a sealed row do what an attacker with DDL rights would: turn the
  trigger off (ALTER TABLE ... DISABLE TRIGGER) for the change. On SQLite a raw UPDATE is enough.
- After the seal task ran, `manage.py verify_audit` says "N events verified" (exit 0) for an
  intact log, and names exactly the row that was changed, removed or slipped in (non-zero exit).
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit import services
from audit.chain import CHAIN_FIELDS, GENESIS, link_hash
from audit.models import AccessEvent, AccessEventSeal, AppendOnlyError
from audit.selectors import access_log_verify

POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
postgres_only = pytest.mark.skipif(
    not POSTGRES, reason="the trigger is PostgreSQL's (SQLite: the models refuse instead)"
)
EVENTS = AccessEvent._meta.db_table
SEALS = AccessEventSeal._meta.db_table


@pytest.fixture
def logged(borough, client_for):
    """A few real events: the key worker's and the outsider's requests about the family."""
    kw = client_for(borough.key_worker.user)
    outsider = client_for(borough.outsider.user)
    base = f"/api/v1/families/{borough.family.id}/"
    for client, path in ((kw, base), (kw, base + "needs/"), (outsider, base), (kw, base)):
        client.get(path)
    kw.get("/api/v1/families/")
    assert AccessEvent.objects.count() >= 5
    return borough


def _verify() -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("verify_audit", stdout=out)
    except CommandError as exc:
        return exc.returncode, str(exc)
    return 0, out.getvalue()


@contextmanager
def trigger_off(table: str):
    """What someone allowed to change the table's definition could do (PostgreSQL)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # The test's transaction holds the seals' deferred foreign-key checks; ALTER TABLE
        # needs them run first.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def _raw(sql: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- the models refuse ---------------------------------------------------------------------------


def test_the_models_refuse_to_change_or_delete_a_row(logged):
    event = AccessEvent.objects.order_by("id").first()
    event.path = "/elsewhere/"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.filter(id=event.id).update(path="/elsewhere/")
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.filter(id=event.id).delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AccessEvent.objects.bulk_update([event], ["path"])
    services.access_events_seal()
    seal = AccessEventSeal.objects.get(event_id=event.id)
    seal.hash = GENESIS
    with pytest.raises(AppendOnlyError):
        seal.save()
    with pytest.raises(AppendOnlyError):
        AccessEventSeal.objects.all().update(hash=GENESIS)
    with pytest.raises(AppendOnlyError):
        AccessEventSeal.objects.all().delete()
    assert AccessEvent.objects.get(id=event.id).path != "/elsewhere/"


def test_a_new_row_is_still_written_by_the_model(borough):
    event = AccessEvent.objects.create(
        user=borough.key_worker.user, family_id=borough.family.id, action="read", method="GET"
    )
    assert AccessEvent.objects.filter(id=event.id).exists()


@postgres_only
@pytest.mark.parametrize("table", [EVENTS, SEALS])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {table} SET {column} = {column}",
        "DELETE FROM {table}",
        "UPDATE {table} SET {column} = {column} WHERE false",  # even touching no row
    ],
)
def test_postgresql_refuses_update_and_delete_from_raw_sql(logged, table, statement):
    services.access_events_seal()
    column = "path" if table == EVENTS else "hash"
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            _raw(statement.format(table=table, column=column))
    assert AccessEvent.objects.count() == AccessEventSeal.objects.count() > 0


# --- the chain ----------------------------------------------------------------------------------


def test_an_intact_log_verifies(logged):
    assert services.access_events_seal() == AccessEvent.objects.count()
    assert services.access_events_seal() == 0  # idempotent
    code, out = _verify()
    assert code == 0, out
    assert out.strip() == f"{AccessEvent.objects.count()} events verified"
    # Events written after the seal are counted apart until the next seal chains them on.
    AccessEvent.objects.create(user=logged.key_worker.user, action="read", method="GET")
    code, out = _verify()
    assert code == 0 and "1 written since the last seal" in out, out
    assert services.access_events_seal() == 1
    code, out = _verify()
    assert (code, out.strip()) == (0, f"{AccessEvent.objects.count()} events verified")


def test_each_seal_is_the_hash_of_the_previous_one_and_the_event(logged):
    services.access_events_seal()
    previous = GENESIS
    rows = AccessEvent.objects.order_by("id").values_list(*CHAIN_FIELDS)
    seals = dict(AccessEventSeal.objects.values_list("event_id", "hash"))
    for row in rows:
        previous = link_hash(previous, row)
        assert seals[row[0]] == previous


def _middle_event() -> AccessEvent:
    ids = list(AccessEvent.objects.order_by("id").values_list("id", flat=True))
    return AccessEvent.objects.get(id=ids[len(ids) // 2])


@pytest.mark.parametrize(
    "column, value",
    [("path", "/api/v1/families/1/"), ("footing", "lead_agency"), ("outcome", "allowed")],
)
def test_a_changed_row_is_named(logged, column, value):
    services.access_events_seal()
    event = _middle_event()
    value = value if getattr(event, column) != value else "changed"
    with trigger_off(EVENTS):
        _raw(f"UPDATE {EVENTS} SET {column} = %s WHERE id = %s", [value, event.id])
    code, out = _verify()
    assert code != 0
    assert f"broken at event {event.id}:" in out, out


def test_a_changed_seal_is_named(logged):
    services.access_events_seal()
    event = _middle_event()
    with trigger_off(SEALS):
        _raw(f"UPDATE {SEALS} SET hash = %s WHERE event_id = %s", [GENESIS, event.id])
    code, out = _verify()
    assert code != 0 and f"broken at event {event.id}:" in out, out


def test_a_removed_row_is_named(logged):
    """Removed with its seal: the next event's link, computed from the removed one, no longer
    holds."""
    services.access_events_seal()
    ids = list(AccessEvent.objects.order_by("id").values_list("id", flat=True))
    gone, after = ids[1], ids[2]
    with trigger_off(SEALS), trigger_off(EVENTS):
        _raw(f"DELETE FROM {SEALS} WHERE event_id = %s", [gone])
        _raw(f"DELETE FROM {EVENTS} WHERE id = %s", [gone])
    code, out = _verify()
    assert code != 0 and f"broken at event {after}:" in out, out


def test_a_row_without_its_seal_among_sealed_ones_is_named(logged):
    """An event slipped in after sealing, or one whose seal was removed: no seal where every
    event has one."""
    services.access_events_seal()
    event = _middle_event()
    with trigger_off(SEALS):
        _raw(f"DELETE FROM {SEALS} WHERE event_id = %s", [event.id])
    code, out = _verify()
    assert code != 0 and f"broken at event {event.id}: no seal" in out, out


def test_the_seal_runs_as_a_periodic_task():
    from django.conf import settings

    from consent.embedded import beat_plan

    entry = settings.CELERY_BEAT_SCHEDULE["access-log-seal"]
    assert entry["task"] == "audit.tasks.access_events_seal"
    _, plan = beat_plan()
    assert "access-log-seal" in {name for _, name, _ in plan}


def test_the_seal_task_chains_what_was_written(logged):
    from audit.tasks import access_events_seal

    written = AccessEvent.objects.count()
    assert access_events_seal.run() == written
    assert access_log_verify().verified == written
