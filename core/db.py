"""Running the hot SQL statements (docs/decisions/0008-hot-reads-in-sql.md) as prepared statements.

Django's psycopg cursors bind parameters on the client and never prepare (prepared statements are
off by default so that connection poolers keep working). For the few statements every request or
every alert delivery runs, PostgreSQL then spent longer planning them than running them.
`hot_cursor()` gives those statements a server-binding cursor: psycopg prepares a statement on a
connection after its `prepare_threshold`-th run (config/settings.py) and PostgreSQL plans it once
per connection (the measurements are in the decision record). Only these cursors bind on the
server; every ORM query keeps Django's default. Elsewhere (SQLite) Django's cursor.

The cursor is wrapped as Django wraps its own, so query logging and the query-count tests see it,
and it reads timestamps in the connection's time zone as Django's cursors do.
"""

from __future__ import annotations

from django.db import connection


def hot_cursor():
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import (
        TIMESTAMPTZ_OID,
        Format,
        ServerBindingCursor,
        register_tzloader,
    )

    connection.ensure_connection()
    cursor = ServerBindingCursor(connection.connection)
    # As Django's `create_cursor`: only when the settings changed since the connection opened.
    tzloader = connection.connection.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)
    if connection.timezone != tzloader.timezone:
        register_tzloader(connection.timezone, cursor)
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def instances(model, sql: str, params) -> list:
    """Rows of `sql` as `model` instances, like `model.objects.raw(sql, params)`: columns named as
    the model's fields' columns fill them (the others deferred), any other column becomes an
    attribute, as it came from the database.

    On PostgreSQL through `hot_cursor` (prepared), with the converters Django's compiler applies
    to the fields' columns (the backend's and the field's: JSON decoded from its text, for one);
    elsewhere a raw queryset, which applies them itself (SQLite needs them for dates, booleans,
    JSON...)."""
    if connection.vendor != "postgresql":
        return list(model.objects.raw(sql, params))
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = cursor.fetchall()
    position: dict[str, int] = {}
    for i, name in enumerate(names):
        position.setdefault(name, i)  # a repeated name: the first column, as in a raw queryset
    # Model.from_db takes the values of a subset in the model's field order, whatever the names.
    fields = [f for f in model._meta.concrete_fields if f.column in position]
    attnames = [f.attname for f in fields]
    positions = [position[f.column] for f in fields]
    columns = {f.column for f in fields}
    extras = [(i, name) for i, name in enumerate(names) if name not in columns]
    table, ops = model._meta.db_table, connection.ops
    converters = []  # (index in the values, converter functions, expression): only where any
    for index, field in enumerate(fields):
        col = field.get_col(table)
        functions = ops.get_db_converters(col) + col.get_db_converters(connection)
        if functions:
            converters.append((index, functions, col))
    out = []
    for row in rows:
        values = [row[i] for i in positions]
        for index, functions, col in converters:
            value = values[index]
            for function in functions:
                value = function(value, col, connection)
            values[index] = value
        obj = model.from_db(connection.alias, attnames, values)
        for i, name in extras:
            setattr(obj, name, row[i])
        out.append(obj)
    return out
