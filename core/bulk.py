"""Set-based upserts of many rows: one statement, no per-row ORM work, on PostgreSQL.

`bulk_upsert` is `bulk_create(update_conflicts=True)` for hot paths. On PostgreSQL the rows go
as one array per column into `INSERT … SELECT FROM unnest(…) ON CONFLICT … DO UPDATE`
(PERF-NOTES.md: preparing each row's values through the model fields costs more than the
statement itself); elsewhere (SQLite, the embedded default) it is the ORM's `bulk_create`.
Rows give every column the insert needs: Python-side defaults and `auto_now` are not applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# Tests flip this to run the portable path on PostgreSQL too.
FORCE_PORTABLE = False


def bulk_upsert(
    model: type[models.Model],
    rows: Sequence[Sequence[Any]],
    *,
    fields: Sequence[str],
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """Insert `rows` (values in `fields` order, attribute names such as `agent_id`); a row
    whose `unique` columns exist already updates that row's `update` columns instead."""
    if not rows:
        return
    # Lock rows in one order whatever the caller's, so that concurrent upserts cannot deadlock.
    positions = [fields.index(name) for name in unique]
    ordered = sorted(rows, key=lambda row: [row[p] for p in positions])
    if connection.vendor != "postgresql" or FORCE_PORTABLE:
        model._default_manager.bulk_create(
            [model(**dict(zip(fields, row, strict=True))) for row in ordered],
            update_conflicts=True,
            unique_fields=list(unique),
            update_fields=list(update),
        )
        return
    opts = model._meta
    concrete: list[models.Field[Any, Any]] = []
    for name in fields:
        field = opts.get_field(name)
        assert isinstance(field, models.Field), name  # a column, not a reverse relation
        concrete.append(field)
    columns = [str(f.column) for f in concrete]
    types = [_array_type(f) for f in concrete]
    by_name = dict(zip(fields, columns, strict=True))
    target = ", ".join(by_name[name] for name in unique)
    updates = ", ".join(f"{by_name[name]} = excluded.{by_name[name]}" for name in update)
    sql = (
        f"INSERT INTO {opts.db_table} ({', '.join(columns)}) "  # noqa: S608 - our names only
        f"SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) "
        f"ON CONFLICT ({target}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [[row[i] for row in ordered] for i in range(len(fields))])


def _array_type(field: Any) -> str:
    """The element type of a column's array parameter (a foreign key: its target's type)."""
    db_type = (
        field.target_field.db_type(connection) if field.is_relation else field.db_type(connection)
    )
    # PostgreSQL's serial types exist only as column types, not as array element types.
    return {"serial": "integer", "bigserial": "bigint", "smallserial": "smallint"}.get(
        db_type, db_type
    ).split(" CHECK", 1)[0]
