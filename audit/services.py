"""Writes of the append-only audit logs.

The access log (decision 0017): the views that decide access to a family add events to the
request as they decide (`access_event_add`: who, which family, what, on what footing, allowed
or denied); `audit.middleware.AccessLogMiddleware` writes them all with ONE multi-row INSERT
when the response is ready (`access_events_flush`), with the response's status, whatever it is
(an error response included). The seal task chains the written events (`access_events_seal`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from audit.chain import CHAIN_FIELDS, EVENT_COLUMNS, GENESIS, link_hash
from audit.models import (
    AccessAction,
    AccessEvent,
    AccessEventSeal,
    Footing,
    Outcome,
    StaffEvent,
)
from core.middleware import client_ip

logger = logging.getLogger(__name__)
# The newest link after each seal run, kept outside the database: what anchors the chain.
seal_logger = logging.getLogger("audit.seal")

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_COLUMNS = EVENT_COLUMNS
_EVENTS_ATTR = "_access_events"  # the request's events, kept by `access_events_collect`
_AT_ATTR = "_access_at"  # when the request's first access was decided: every event's `at`
_BIGINT = 2**63


def access_log_enabled() -> bool:
    """False only where the cost of the log is measured (make bench): never in production."""
    return getattr(settings, "AUDIT_ACCESS_LOG", True)


@dataclass
class _Event:
    at: datetime
    user_id: int
    agency_id: int | None
    family_id: int | None
    action: str
    object_type: str
    object_id: int | None
    footing: str
    basis_id: int | None
    outcome: str


def _http(request):
    """The Django request under a DRF one (the events live on the one the middleware has)."""
    return getattr(request, "_request", request)


def _bigint(value) -> int | None:
    """An id as a 64-bit column takes it: None for no id, or one no row can have."""
    if value is None:
        return None
    value = int(value)
    return value if -_BIGINT <= value < _BIGINT else None


def access_events_collect(request) -> None:
    """From now on, the access events of `request` are kept until `access_events_flush`."""
    setattr(_http(request), _EVENTS_ATTR, [])


def access_event_add(
    request,
    *,
    user_id: int,
    agency_id: int | None,
    family_id,
    action: str | None = None,
    object_type: str = "",
    object_id=None,
    footing: str = "",
    basis_id: int | None = None,
    outcome: str = Outcome.ALLOWED,
) -> None:
    """One access event of this request: `user_id` (of `agency_id`) read, wrote (`action`
    None: by the request's method) or was shown (`AccessAction.LIST`) the family `family_id`'s
    `object_type` (`object_id` when the address names it), allowed on `footing` (`basis_id`
    for a team's lawful basis), or denied. Kept on the request and written by
    `access_events_flush`; written at once when nothing collects (a view called directly)."""
    access_events_add_many(
        request,
        user_id=user_id,
        agency_id=agency_id,
        families=[(family_id, footing, basis_id)],
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
    )


def access_events_add_many(
    request,
    *,
    user_id: int,
    agency_id: int | None,
    families,
    action: str | None = None,
    object_type: str = "",
    object_id=None,
    outcome: str = Outcome.ALLOWED,
) -> None:
    """`access_event_add` for each (family id, footing, basis id) of `families`, alike in all
    else: the families a list showed."""
    if not access_log_enabled():
        return
    http = _http(request)
    if action is None:
        action = AccessAction.READ if http.method in READ_METHODS else AccessAction.WRITE
    at = getattr(http, _AT_ATTR, None)
    if at is None:
        at = timezone.now()
        setattr(http, _AT_ATTR, at)
    object_id = _bigint(object_id)
    made = [
        _Event(
            at=at,
            user_id=user_id,
            agency_id=agency_id,
            family_id=_bigint(family_id),
            action=action,
            object_type=object_type,
            object_id=object_id,
            footing=footing,
            basis_id=basis_id,
            outcome=outcome,
        )
        for family_id, footing, basis_id in families
    ]
    events = getattr(http, _EVENTS_ATTR, None)
    if events is None:
        if made:
            _insert(_rows(http, made, status_code=None))
    else:
        events.extend(made)


def access_events_deny(request) -> None:
    """The access rule refused, later in the request, what it had allowed at first (a service
    re-checking under the family's lock answered NoAccess or Forbidden): this request's events
    are denials."""
    for event in getattr(_http(request), _EVENTS_ATTR, None) or ():
        event.outcome = Outcome.DENIED


def access_events_flush(request, *, status_code: int | None) -> int:
    """Write the request's events with ONE INSERT, each with the response's status; a 403 is
    a denial whatever was decided first. Returns how many were written.

    If the INSERT fails, it is tried once more on a new connection; if that fails too the rows
    are logged (JSON, at ERROR) and the error raised: the response is replaced by a 500, so no
    record leaves without its access event."""
    http = _http(request)
    events = getattr(http, _EVENTS_ATTR, None)
    if not events:
        return 0
    setattr(http, _EVENTS_ATTR, [])
    rows = _rows(http, events, status_code=status_code)
    try:
        _insert(rows)
    except DatabaseError:
        if connection.in_atomic_block:
            _rows_log(rows)
            raise
        logger.warning("access log: INSERT failed; trying again on a new connection")
        connection.close()
        try:
            _insert(rows)
        except DatabaseError:
            _rows_log(rows)
            raise
    return len(rows)


def _rows(http, events: list[_Event], *, status_code: int | None) -> list[tuple]:
    method = (http.method or "")[:10]
    path = http.path[:300]
    request_id = getattr(http, "request_id", "")[:64]
    address = client_ip(http)
    rows = []
    for e in events:
        outcome = Outcome.DENIED if status_code == 403 else e.outcome
        footing, basis_id = (e.footing, e.basis_id) if outcome == Outcome.ALLOWED else ("", None)
        if footing != Footing.TEAM:
            basis_id = None
        rows.append(
            (
                e.at,
                e.user_id,
                e.agency_id,
                e.family_id,
                e.action,
                e.object_type[:40],
                e.object_id,
                footing,
                basis_id,
                outcome,
                method,
                path,
                status_code,
                footing == Footing.EMERGENCY,
                request_id,
                address,
            )
        )
    return rows


# PostgreSQL's type of each column, for the arrays `_insert` unnests.
_PG_TYPES = {
    "at": "timestamptz",
    "user_id": "bigint",
    "agency_id": "bigint",
    "family_id": "bigint",
    "action": "text",
    "object_type": "text",
    "object_id": "bigint",
    "footing": "text",
    "basis_id": "bigint",
    "outcome": "text",
    "method": "text",
    "path": "text",
    "status_code": "integer",
    "emergency": "boolean",
    "request_id": "text",
    "client_ip": "inet",
}


def _insert(rows: list[tuple]) -> None:
    """One INSERT of every row: not `Model.save()`, whose machinery (signals, field pre-save,
    RETURNING the id nobody reads) per row cost a measurable share of a request (decision 0008).

    On PostgreSQL the rows go as one array per column that differs between them, unnested
    (`INSERT ... SELECT ... FROM unnest(...)`), and one value per column that does not: the
    statement is a short text whatever the number of rows, so psycopg neither re-parses a long
    VALUES list on every request nor prepares one statement per list length. It is committed
    without waiting for the disk (`synchronous_commit` off for its own transaction only:
    `set_config(..., true)` inside the statement, one round trip) unless
    AUDIT_SYNCHRONOUS_COMMIT: waiting for the WAL flush was most of the log's cost per request.
    The rows reach the disk within a few hundred milliseconds; only a crash of the database
    server in that time loses them (decision 0017). SQLite: a multi-row VALUES."""
    table, columns = AccessEvent._meta.db_table, ", ".join(_COLUMNS)
    if connection.vendor == "postgresql":
        # A column with one value in every row (most of them: a list's rows differ only in
        # the family and its footing) goes as that value; the others as arrays.
        selected, varying, params = [], [], []
        for name, values in zip(_COLUMNS, zip(*rows, strict=True), strict=True):
            if values.count(values[0]) != len(values):
                selected.append(f"u.c{len(varying)}")
                varying.append((name, list(values)))
            else:
                selected.append(f"%s::{_PG_TYPES[name]}")
                params.append(values[0])
        arrays = ", ".join(f"%s::{_PG_TYPES[name]}[]" for name, _ in varying)
        params += [values for _, values in varying]
        names = ", ".join(f"c{i}" for i in range(len(varying)))
        source = f" FROM unnest({arrays}) AS u({names})" if varying else ""
        sql = f"INSERT INTO {table} ({columns}) SELECT {', '.join(selected)}{source}"
        relaxed = not connection.in_atomic_block and not getattr(
            settings, "AUDIT_SYNCHRONOUS_COMMIT", False
        )  # never the commit of someone else's transaction
        if relaxed:
            sql += " WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL"
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        return
    ops = connection.ops
    at = _COLUMNS.index("at")
    params: list = []
    for row in rows:
        row = list(row)
        row[at] = ops.adapt_datetimefield_value(row[at])
        params += row
    values = ", ".join([f"({', '.join(['%s'] * len(_COLUMNS))})"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {values}", params)


def _rows_log(rows: list[tuple]) -> None:
    for row in rows:
        event = dict(zip(_COLUMNS, row, strict=True))
        logger.error("access log: event NOT written: %s", json.dumps(event, default=str))


# --- the seal ----------------------------------------------------------------------------------

SEAL_BATCH = 2000
SEAL_LOCK_TIMEOUT = "1s"


def access_events_seal(*, batch: int = SEAL_BATCH) -> int:
    """Chain every written event not sealed yet, in id order (audit/chain.py); returns how many.

    Only events below a horizon are sealed: the highest id when no INSERT into the log is in
    flight (`_seal_horizon`), so an event whose id was taken before a later one's but committed
    after it is never skipped. Run by the periodic task; a second run at the same time stops at
    once (PostgreSQL) or waits its turn (SQLite), and the seal rows' primary key refuses the
    same event twice. Idempotent."""
    horizon = _seal_horizon()
    sealed = 0
    while horizon:
        try:
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute(
                            f"LOCK TABLE {AccessEventSeal._meta.db_table} IN EXCLUSIVE MODE NOWAIT"
                        )
                last = (
                    AccessEventSeal.objects.order_by("-event_id")
                    .values_list("event_id", "hash")
                    .first()
                )
                after, previous = last or (0, GENESIS)
                rows = list(
                    AccessEvent.objects.filter(id__gt=after, id__lte=horizon)
                    .order_by("id")
                    .values_list(*CHAIN_FIELDS)[:batch]
                )
                if not rows:
                    break
                now = timezone.now()
                seals = []
                for row in rows:
                    previous = link_hash(previous, row)
                    seals.append(AccessEventSeal(event_id=row[0], hash=previous, sealed_at=now))
                AccessEventSeal.objects.bulk_create(seals)
        except OperationalError:
            logger.info("access log seal: another run holds the seal table; it goes on")
            break
        sealed += len(rows)
        seal_logger.info("access log sealed to event %s: %s", rows[-1][0], previous)
    return sealed


def _seal_horizon() -> int | None:
    """The highest event id below which no event can still appear.

    PostgreSQL hands out ids when an INSERT runs, so a transaction may commit id n after others
    committed n + 1: the horizon is read under a SHARE lock on the table, which waits for the
    INSERTs in flight (a request's flush, one statement) and holds new ones back only while
    max(id) is read. SQLite writes one transaction at a time: the highest id is the horizon."""
    table = AccessEvent._meta.db_table
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"SET LOCAL lock_timeout = '{SEAL_LOCK_TIMEOUT}'")
                cursor.execute(f"LOCK TABLE {table} IN SHARE MODE")
            cursor.execute(f"SELECT max(id) FROM {table}")
            return cursor.fetchone()[0]
    except OperationalError:
        logger.warning("access log seal: INSERTs in flight for too long; sealing next time")
        return None


# --- staff events ------------------------------------------------------------------------------


def staff_event_record(
    *, actor, agency_id: int, subject_id: int, action: str, new_role: str, old_role: str = ""
) -> StaffEvent:
    """One row per staff account created or role changed (agencies/services.py); `actor` None:
    the system did it."""
    return StaffEvent.objects.create(
        actor=actor,
        agency_id=agency_id,
        subject_id=subject_id,
        action=action,
        old_role=old_role,
        new_role=new_role,
    )
