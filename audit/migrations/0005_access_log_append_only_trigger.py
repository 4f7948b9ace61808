"""On PostgreSQL, the access log's tables refuse UPDATE and DELETE whoever asks (decision 0017).

A statement-level trigger before UPDATE or DELETE on `audit_accessevent` and
`audit_accesseventseal` raises (SQLSTATE 42501, insufficient_privilege), so no client, the ORM,
raw SQL or psql, changes or removes a row; only someone allowed to change the table's definition
(ALTER TABLE ... DISABLE TRIGGER) could, and `manage.py verify_audit` then names the row.
TRUNCATE is left to the table's privileges (the test runner empties tables with it). SQLite has
no such guard: the models refuse instead (audit.models.AppendOnly).
"""

from django.db import migrations

TABLES = ("audit_accessevent", "audit_accesseventseal")

CREATE = [
    """
    CREATE OR REPLACE FUNCTION audit_append_only_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the access log is append-only: % on % refused', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    *(
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
        " FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only_refuse()"
        for table in TABLES
    ),
]
DROP = [
    *(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}" for table in TABLES),
    "DROP FUNCTION IF EXISTS audit_append_only_refuse()",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_access_event_footing_outcome_and_seal"),
    ]

    operations = [
        migrations.RunPython(_run(CREATE), _run(DROP)),
    ]
