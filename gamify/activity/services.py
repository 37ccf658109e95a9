"""Recording activity (idempotently, by key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import Tenant
from gamify.activity.models import ACTIVITY_TYPES, Activity
from gamify.activity.signals import activities_recorded

# Rows per INSERT: 7 parameters each stays far under SQLite's limit of 32,766.
_CHUNK = 500
_COLUMNS = ("tenant", "type", "key", "agent", "team", "data", "occurred_at")


@dataclass(frozen=True)
class NewActivity:
    type: str
    key: str
    agent_id: int | None = None
    team_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


def activities_record(*, tenant: Tenant | int, items: Iterable[NewActivity]) -> int:
    """Record activities; one whose key was recorded before is skipped. Returns how many rows
    went in (set-based: one INSERT per 500).

    The rows that went in are announced by `activities_recorded` in the same transaction, so
    webhook deliveries are written with them or not at all (the outbox, DESIGN.md §5)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    now = timezone.now()
    rows = []
    for item in items:
        assert item.type in ACTIVITY_TYPES, item.type
        rows.append(
            Activity(
                tenant_id=tenant_id,
                type=item.type,
                key=item.key,
                agent_id=item.agent_id,
                team_id=item.team_id,
                data=item.data,
                occurred_at=item.occurred_at or now,
            )
        )
    if not rows:
        return 0
    with transaction.atomic():
        inserted = [
            row for i in range(0, len(rows), _CHUNK) for row in _insert(rows[i : i + _CHUNK])
        ]
        if inserted:
            activities_recorded.send(sender=Activity, tenant_id=tenant_id, activities=inserted)
    return len(inserted)


def _insert(rows: list[Activity]) -> list[Activity]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING: the rows that went in, with their ids
    (`bulk_create(ignore_conflicts=True)` cannot tell them from the skipped ones)."""
    opts = Activity._meta
    fields: list[models.Field[Any, Any]] = []
    for name in _COLUMNS:
        field = opts.get_field(name)
        assert isinstance(field, models.Field), name  # a column, not a reverse relation
        fields.append(field)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list[Any] = []
    for row in rows:
        for f in fields:
            params.append(f.get_db_prep_save(getattr(row, f.attname), connection))
    sql = (
        f"INSERT INTO {connection.ops.quote_name(opts.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([placeholders] * len(rows))} "
        f"ON CONFLICT (tenant_id, {connection.ops.quote_name('key')}) DO NOTHING "
        f"RETURNING id, {connection.ops.quote_name('key')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = {key: pk for pk, key in cursor.fetchall()}
    inserted = []
    for row in rows:
        if row.key in ids:
            row.pk = ids.pop(row.key)  # a key repeated within one call goes in once
            inserted.append(row)
    return inserted


def activity_record(
    *,
    tenant: Tenant | int,
    type: str,
    key: str,
    agent_id: int | None = None,
    team_id: int | None = None,
    data: dict[str, Any] | None = None,
    occurred_at: datetime | None = None,
) -> None:
    activities_record(
        tenant=tenant,
        items=[NewActivity(type, key, agent_id, team_id, data or {}, occurred_at)],
    )
