"""Reads of the activity feed."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from accounts.models import Tenant
from gamify.activity.models import Activity


def activity_list(
    *,
    tenant: Tenant,
    agent_id: int | None = None,
    team_ids: set[int] | None = None,
    types: Sequence[str] = (),
) -> QuerySet[Activity]:
    feed = Activity.objects.for_tenant(tenant).select_related("agent", "team")
    if agent_id is not None:
        feed = feed.filter(agent_id=agent_id)
    if team_ids is not None:
        feed = feed.filter(team_id__in=team_ids) | feed.filter(agent__team_id__in=team_ids)
    if types:
        feed = feed.filter(type__in=types)
    return feed
