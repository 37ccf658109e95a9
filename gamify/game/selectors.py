"""Reads of points, levels and badges."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Agent, Tenant
from gamify.game.engine import level_for, level_table
from gamify.game.models import AgentDayPoints, AgentGameState, BadgeAward
from kpis.periods import local_today, period_bounds

POINT_PERIODS = ("day", "week", "month")


def period_days(tenant: Tenant, kind: str, day: date | None = None) -> tuple[date, date]:
    return period_bounds(
        kind, day or local_today(tenant), tz=tenant.tz, week_start=tenant.week_start
    )


def points_totals(*, tenant: Tenant, agent_id: int) -> dict[str, int]:
    """Lifetime and current day, week and month points of one agent (one query)."""
    # Aliases must not be field names ("day"): an aggregate's alias would shadow the field.
    aggregates: dict[str, Any] = {"p_lifetime": Coalesce(Sum("points"), 0)}
    for kind in POINT_PERIODS:
        first, after = period_days(tenant, kind)
        aggregates[f"p_{kind}"] = Coalesce(
            Sum("points", filter=Q(day__gte=first, day__lt=after)), 0
        )
    sums = AgentDayPoints.objects.filter(tenant=tenant, agent_id=agent_id).aggregate(**aggregates)
    return {name.removeprefix("p_"): int(value) for name, value in sums.items()}


def points_by_agent(
    *,
    tenant: Tenant,
    first: date | None,
    after: date | None,
    agent_ids: Iterable[int] | None = None,
) -> QuerySet[Any]:
    """(agent_id, points) summed over days in [first, after), for agents with any points row."""
    rows = AgentDayPoints.objects.filter(tenant=tenant)
    if first is not None:
        rows = rows.filter(day__gte=first)
    if after is not None:
        rows = rows.filter(day__lt=after)
    if agent_ids is not None:
        rows = rows.filter(agent_id__any=agent_ids)
    return rows.values("agent_id").annotate(total=Sum("points"))


def level_info(
    tenant: Tenant, lifetime: int, levels: list[tuple[int, str, int]] | None = None
) -> dict[str, Any]:
    """The level of `lifetime` points; `levels`: the tenant's level table, when the caller
    already has it (one query less)."""
    if levels is None:
        levels = level_table(tenant)
    number, name, minimum = level_for(levels, lifetime)
    following = next((lv for lv in levels if lv[0] == number + 1), None)
    return {
        "number": number,
        "name": name,
        "min_points": minimum,
        "next_min_points": following[2] if following else None,
        "points_to_next": following[2] - lifetime if following else None,
    }


def agent_badges(*, tenant: Tenant, agent_id: int) -> QuerySet[BadgeAward]:
    """The agent's badges, latest first."""
    return (
        BadgeAward.objects.for_tenant(tenant)
        .filter(agent_id=agent_id)
        .select_related("badge")
        .order_by("-awarded_at", "-id")
    )


def badge_holders(*, tenant: Tenant) -> dict[int, int]:
    """{badge id: number of awards} for the catalogue listing (one query)."""
    return dict(
        BadgeAward.objects.for_tenant(tenant)
        .values("badge_id")
        .annotate(n=Count("id"))
        .values_list("badge_id", "n")
    )


def lifetime_points(*, tenant: Tenant, agent_ids: Iterable[int]) -> dict[int, int]:
    return dict(
        AgentGameState.objects.filter(tenant=tenant, agent_id__any=agent_ids).values_list(
            "agent_id", "lifetime_points"
        )
    )


def agents_with_lifetime(*, tenant: Tenant) -> QuerySet[Agent]:
    state = AgentGameState.objects.filter(agent_id=OuterRef("pk")).values("lifetime_points")
    return Agent.objects.for_tenant(tenant).annotate(
        lifetime=Coalesce(Subquery(state, output_field=IntegerField()), 0)
    )
