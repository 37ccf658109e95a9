"""Recording activity (idempotently, by key)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.models import Tenant
from gamify.activity.models import ACTIVITY_TYPES, Activity


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
    the database was asked to add (set-based: one INSERT)."""
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
    Activity.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


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
