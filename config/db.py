"""Running the hot SQL statements (docs/decisions/0008-hot-reads-in-sql.md) as prepared statements.

Django's psycopg cursors bind parameters on the client and never prepare (prepared statements are
off by default so that connection poolers keep working). For the few statements every request or
every alert delivery runs, PostgreSQL then spent longer planning than running them (the alert
delivery statement: 0.6 ms of planning for 0.1 ms of execution). `hot_cursor()` gives those
statements a server-binding cursor: psycopg prepares a statement on a connection after its
`prepare_threshold`-th run (config/settings.py) and PostgreSQL plans it once per connection
(measured: 0.82 → 0.14 ms of PostgreSQL CPU per delivery statement). Only these cursors bind on
the server; every ORM query keeps Django's default. Elsewhere (SQLite) Django's cursor.

The cursor is wrapped as Django wraps its own, so query logging and the query-count tests see it.
"""

from __future__ import annotations

from django.db import connection
from django.db.models.base import DEFERRED


def hot_cursor():
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    cursor = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def instances(model, sql: str, params) -> list:
    """Rows of `sql` as `model` instances, like `model.objects.raw(sql, params)`: columns named as
    the model's fields fill them (the others deferred), any other column becomes an attribute.

    On PostgreSQL through `hot_cursor` (prepared; psycopg already returns Python values of the
    fields' types); elsewhere a raw queryset (SQLite needs Django's converters)."""
    if connection.vendor != "postgresql":
        return list(model.objects.raw(sql, params))
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    fields = model._meta.concrete_fields
    attnames = {f.attname for f in fields}
    present = [n for n in names if n in attnames]
    extras = [(i, n) for i, n in enumerate(names) if n not in attnames]
    position = {n: i for i, n in enumerate(names)}
    out = []
    for row in rows:
        values = [row[position[f.attname]] if f.attname in position else DEFERRED for f in fields]
        if len(present) != len(fields):
            values = [v for v in values if v is not DEFERRED]
        obj = model.from_db(connection.alias, present, values)
        for i, name in extras:
            setattr(obj, name, row[i])
        out.append(obj)
    return out
