"""Reads of points, levels and badges."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Agent, Tenant
from gamify.game.engine import level_for, level_table
from gamify.game.models import (
    AgentDayPoints,
    AgentGameState,
    Badge,
    BadgeAward,
    PointAdjustment,
    PointAward,
    PointRule,
)
from kpis.periods import local_today, period_bounds

POINT_PERIODS = ("day", "week", "month")


def period_days(tenant: Tenant, kind: str, day: date | None = None) -> tuple[date, date]:
    return period_bounds(
        kind, day or local_today(tenant), tz=tenant.tz, week_start=tenant.week_start
    )


@dataclass(frozen=True)
class BadgeLine:
    code: str
    name: str
    icon: str
    awarded_at: datetime


@dataclass(frozen=True)
class AwardLine:
    rule_name: str
    kpi: str
    rule_period: str
    period_start: date
    day: date
    points: int


@dataclass(frozen=True)
class AdjustmentLine:
    reason: str
    day: date
    points: int
    created_at: datetime


@dataclass
class AgentGame:
    """One agent's points totals, latest badges and (when a window was asked) the non-zero
    awards and the adjustments counted on its days: what a profile and a widget card show."""

    points: dict[str, int]
    badges: list[BadgeLine]
    awards: list[AwardLine] = field(default_factory=list)
    adjustments: list[AdjustmentLine] = field(default_factory=list)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite hands raw timestamps back as text (UTC, naive)
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def agent_game(
    *,
    tenant: Tenant,
    agent_id: int,
    badges: int,
    window: tuple[date, date] | None = None,
) -> AgentGame:
    """Points totals (lifetime, day, week, month), the latest `badges` badges and, for days in
    `window` [first, after), the non-zero awards (latest day first, by rule name) and the
    adjustments (latest first): one statement, one round trip.

    The widget card re-reads this whenever its agent's version moves (under ingestion, every
    few seconds for each open card), so it is a single UNION ALL in plain SQL that both
    backends run, not the four ORM queries it replaces (their compiling cost as much as the
    round trips; PERF-NOTES). Every part is filtered by the tenant explicitly.
    """
    ts = "timestamptz" if connection.vendor == "postgresql" else "text"
    null = (
        "CAST(NULL AS text) AS s1, CAST(NULL AS text) AS s2, CAST(NULL AS text) AS s3, "
        f"CAST(NULL AS date) AS d1, CAST(NULL AS date) AS d2, CAST(NULL AS {ts}) AS t1"
    )
    days = {kind: period_days(tenant, kind) for kind in POINT_PERIODS}
    sums = ", ".join(
        f"COALESCE(SUM(CASE WHEN day >= %s AND day < %s THEN points END), 0) AS n{n}"
        for n in (2, 3, 4)
    )
    params: list[Any] = [x for kind in POINT_PERIODS for x in days[kind]]
    points_t, badge_award_t, badge_t = (
        AgentDayPoints._meta.db_table,
        BadgeAward._meta.db_table,
        Badge._meta.db_table,
    )
    parts = [
        f"""SELECT 'p' AS kind, 0 AS seq, COALESCE(SUM(points), 0) AS n1, {sums}, {null}
        FROM {points_t} WHERE tenant_id = %s AND agent_id = %s""",  # noqa: S608 - our names
        f"""SELECT * FROM (
            SELECT 'b', ROW_NUMBER() OVER (ORDER BY a.awarded_at DESC, a.id DESC),
            0, 0, 0, 0, g.code, g.name, g.icon, CAST(NULL AS date), CAST(NULL AS date),
            a.awarded_at
            FROM {badge_award_t} a JOIN {badge_t} g ON g.id = a.badge_id
            WHERE a.tenant_id = %s AND a.agent_id = %s
            ORDER BY a.awarded_at DESC, a.id DESC LIMIT %s
        ) AS b""",  # noqa: S608 - our table names; values are parameters
    ]
    params += [tenant.pk, agent_id, tenant.pk, agent_id, badges]
    if window is not None:
        award_t, rule_t, adjustment_t = (
            PointAward._meta.db_table,
            PointRule._meta.db_table,
            PointAdjustment._meta.db_table,
        )
        parts += [
            f"""SELECT 'w', ROW_NUMBER() OVER (ORDER BY w.day DESC, r.name), w.points, 0, 0, 0,
            r.name, r.kpi, r.period, w.period_start, w.day, CAST(NULL AS {ts})
            FROM {award_t} w JOIN {rule_t} r ON r.id = w.rule_id
            WHERE w.tenant_id = %s AND w.agent_id = %s AND w.day >= %s AND w.day < %s
            AND w.points <> 0""",  # noqa: S608 - our table names; values are parameters
            f"""SELECT 'j', ROW_NUMBER() OVER (ORDER BY created_at DESC, id DESC), points,
            0, 0, 0, reason, CAST(NULL AS text), CAST(NULL AS text), CAST(NULL AS date),
            day, created_at
            FROM {adjustment_t}
            WHERE tenant_id = %s AND agent_id = %s AND day >= %s AND day < %s""",  # noqa: S608
        ]
        params += [tenant.pk, agent_id, *window] * 2
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        rows = sorted(cursor.fetchall(), key=lambda row: (row[0], row[1]))
    game = AgentGame(points={}, badges=[])
    for kind, _seq, n1, n2, n3, n4, s1, s2, s3, d1, d2, t1 in rows:
        if kind == "p":
            game.points = {"lifetime": int(n1), "day": int(n2), "week": int(n3), "month": int(n4)}
        elif kind == "b":
            game.badges.append(BadgeLine(s1, s2, s3, _as_datetime(t1)))
        elif kind == "w":
            game.awards.append(AwardLine(s1, s2, s3, _as_date(d1), _as_date(d2), int(n1)))
        else:
            game.adjustments.append(AdjustmentLine(s1, _as_date(d2), int(n1), _as_datetime(t1)))
    return game


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
