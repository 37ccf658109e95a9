"""The database refuses to update a wallet ledger entry: corrections are new entries.

Deletes are left to cascades (a tenant removed by an operator); the ORM refuses the rest.
The SQL is core.append_only's, the same statements this migration always ran.
"""

from django.db import migrations

from core.append_only import append_only_trigger


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]

    operations = [
        append_only_trigger(
            table="wallet_ledgerentry",
            function="wallet_ledger_append_only",
            trigger="wallet_ledgerentry_no_update",
            message="wallet ledger entries are append-only: add a correction entry",
        )
    ]
