"""The database refuses to update a wallet ledger entry: corrections are new entries.

Deletes are left to cascades (a tenant removed by an operator); the ORM refuses the rest.
"""

from django.db import migrations

POSTGRES = [
    """
    CREATE OR REPLACE FUNCTION wallet_ledger_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'wallet ledger entries are append-only: add a correction entry';
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER wallet_ledgerentry_no_update BEFORE UPDATE ON wallet_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION wallet_ledger_append_only();
    """,
]
POSTGRES_REVERSE = [
    "DROP TRIGGER IF EXISTS wallet_ledgerentry_no_update ON wallet_ledgerentry;",
    "DROP FUNCTION IF EXISTS wallet_ledger_append_only();",
]
SQLITE = [
    """
    CREATE TRIGGER wallet_ledgerentry_no_update BEFORE UPDATE ON wallet_ledgerentry
    BEGIN
        SELECT RAISE(ABORT, 'wallet ledger entries are append-only: add a correction entry');
    END;
    """,
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS wallet_ledgerentry_no_update;"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRES, "sqlite": SQLITE}),
            _run({"postgresql": POSTGRES_REVERSE, "sqlite": SQLITE_REVERSE}),
        )
    ]
