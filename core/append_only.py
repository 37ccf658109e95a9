"""The database side of append-only tables (the wallet ledger, the audit log): a trigger
refusing every UPDATE, on PostgreSQL and SQLite, as a migration operation.

Deletes are left to cascades (a tenant removed by an operator: Django deletes the children
before the tenant, so a trigger could not tell that apart); the ORM refuses every other delete.
Migrations import this module: keep what it generates unchanged for the names it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import migrations


def append_only_statements(
    *, table: str, function: str, trigger: str, message: str, sqlite_trigger: str | None = None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(forward, reverse) SQL by database vendor."""
    sqlite_trigger = sqlite_trigger or trigger
    forward = {
        "postgresql": [
            f"""
    CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION '{message}';
    END;
    $$ LANGUAGE plpgsql;
    """,
            f"""
    CREATE TRIGGER {trigger} BEFORE UPDATE ON {table}
    FOR EACH ROW EXECUTE FUNCTION {function}();
    """,
        ],
        "sqlite": [
            f"""
    CREATE TRIGGER {sqlite_trigger} BEFORE UPDATE ON {table}
    BEGIN
        SELECT RAISE(ABORT, '{message}');
    END;
    """,
        ],
    }
    reverse = {
        "postgresql": [
            f"DROP TRIGGER IF EXISTS {trigger} ON {table};",
            f"DROP FUNCTION IF EXISTS {function}();",
        ],
        "sqlite": [f"DROP TRIGGER IF EXISTS {sqlite_trigger};"],
    }
    return forward, reverse


def _run(statements_by_vendor: Mapping[str, Sequence[str]]) -> Callable[[Any, Any], None]:
    def run(apps: Any, schema_editor: Any) -> None:
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


def append_only_trigger(
    *, table: str, function: str, trigger: str, message: str, sqlite_trigger: str | None = None
) -> migrations.RunPython:
    """The migration operation installing (and, reversed, removing) the trigger."""
    forward, reverse = append_only_statements(
        table=table,
        function=function,
        trigger=trigger,
        message=message,
        sqlite_trigger=sqlite_trigger,
    )
    return migrations.RunPython(_run(forward), _run(reverse))
