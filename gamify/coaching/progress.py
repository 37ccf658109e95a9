"""Goals' progress and status, read from day buckets for many goals at once.

A goal's window is the current instance of its period (this week for a weekly goal) or its
days from `start` to `deadline`. Its progress is the KPI's value over the window, and the
fraction of the way from the starting value to the target: the value of the window of the
same length just before (for a ratio KPI; a count starts at 0). Direction comes from `op`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Tenant
from accounts.selectors import subtree, team_tree
from gamify.coaching.models import Goal, GoalAchievement
from gamify.coaching.selectors import coaching_settings, meets
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import COUNTERS, N_COUNTERS, KpiValue, builtin_value
from kpis.models import TeamDay, TeamMetricHour
from kpis.periods import Period, local_midnight, local_today, period_bounds
from kpis.selectors import (
    agent_day_counters,
    agent_day_metrics,
    agent_timelines,
    custom_value,
    turnover_value,
)

# A goal is at risk when its progress lags the clock by more than this share of the window
# (10 points: no alarm at 0 % progress in the first hours of a week).
AT_RISK_SLACK = 0.1


def goal_window(goal: Goal, tenant: Tenant, day: date) -> tuple[date, date]:
    """[first, after) local days of the goal's instance containing `day` (a deadline goal has
    one window whatever the day)."""
    if goal.period:
        return period_bounds(goal.period, day, tz=tenant.tz, week_start=tenant.week_start)
    assert goal.deadline is not None
    return goal.start, goal.deadline + timedelta(days=1)


def baseline_window(goal: Goal, tenant: Tenant, first: date, after: date) -> tuple[date, date]:
    if goal.period:
        return period_bounds(
            goal.period, first - timedelta(days=1), tz=tenant.tz, week_start=tenant.week_start
        )
    return first - (after - first), first


@dataclass
class Grid:
    """Counters per (agent, day) and per (team, day) over a span of local days (≤ 6 queries)."""

    tenant: Tenant
    catalogue: dict[str, CatalogueKpi]
    agent_days: dict[tuple[int, date], list[int]]
    agent_metrics: dict[tuple[int, str, date], tuple[int, int]]
    team_days: dict[tuple[int, date], list[int]]
    team_metrics: dict[tuple[int, str, date], tuple[int, int]]
    children: dict[int | None, list[int]]
    all_teams: set[int]
    timelines: Any
    moves_count_as_leaving: bool

    @classmethod
    def load(
        cls,
        tenant: Tenant,
        *,
        agent_ids: set[int],
        teams: bool,
        first: date,
        after: date,
        turnover: bool = False,
    ) -> Grid:
        tz = tenant.tz
        team_days: dict[tuple[int, date], list[int]] = {}
        team_metrics: dict[tuple[int, str, date], tuple[int, int]] = {}
        children: dict[int | None, list[int]] = {}
        if teams:
            rows = TeamDay.objects.filter(tenant_id=tenant.pk, day__gte=first, day__lt=after)
            team_days = {
                (t, d): list(c) for t, d, *c in rows.values_list("team_id", "day", *COUNTERS)
            }
            metric_rows = TeamMetricHour.objects.filter(
                tenant_id=tenant.pk,
                hour__gte=local_midnight(first, tz),
                hour__lt=local_midnight(after, tz),
            )
            for team_id, kpi, hour, v, c in metric_rows.values_list(
                "team_id", "kpi", "hour", "value_e4", "count_e4"
            ):
                key = (team_id, kpi, hour.astimezone(tz).date())
                old = team_metrics.get(key, (0, 0))
                team_metrics[key] = (old[0] + v, old[1] + c)
            children = team_tree(tenant)
        return cls(
            tenant=tenant,
            catalogue=kpi_catalogue(tenant),
            agent_days=agent_day_counters(
                tenant=tenant, agent_ids=agent_ids, start=first, end=after
            )
            if agent_ids
            else {},
            agent_metrics=agent_day_metrics(
                tenant=tenant, agent_ids=agent_ids, start=first, end=after
            )
            if agent_ids
            else {},
            team_days=team_days,
            team_metrics=team_metrics,
            children=children,
            all_teams={t for ts in children.values() for t in ts},
            timelines=agent_timelines(tenant=tenant) if turnover else {},
            moves_count_as_leaving=coaching_settings(tenant).move_counts_as_leaving
            if turnover
            else False,
        )

    def _value(
        self,
        kpi: CatalogueKpi,
        counters: dict[tuple[int, date], list[int]],
        metrics: dict[tuple[int, str, date], tuple[int, int]],
        subjects: Iterable[int],
        first: date,
        after: date,
        min_volume: Decimal,
    ) -> KpiValue:
        days = [first + timedelta(days=n) for n in range((after - first).days)]
        if kpi.formula is not None:
            sums = [0] * N_COUNTERS
            for pk in subjects:
                for day in days:
                    row = counters.get((pk, day))
                    if row is not None:
                        for i, v in enumerate(row):
                            sums[i] += v
            return builtin_value(kpi.formula, sums, min_volume)
        value = count = 0
        for pk in subjects:
            for day in days:
                v, c = metrics.get((pk, kpi.code, day), (0, 0))
                value, count = value + v, count + c
        return custom_value(replace(kpi, min_volume=min_volume), value, count)

    def agent_value(
        self, agent_id: int, kpi: CatalogueKpi, first: date, after: date, min_volume: Decimal
    ) -> KpiValue:
        return self._value(
            kpi, self.agent_days, self.agent_metrics, (agent_id,), first, after, min_volume
        )

    def team_value(
        self,
        team_id: int | None,
        kpi: CatalogueKpi,
        first: date,
        after: date,
        min_volume: Decimal,
    ) -> KpiValue:
        """A team with its sub-teams, or (None) the tenant: every event attributed to a team."""
        team_ids = subtree(self.children, team_id) if team_id is not None else self.all_teams
        if kpi.code == "turnover":
            tz = self.tenant.tz
            period = Period("custom", local_midnight(first, tz), local_midnight(after, tz))
            return turnover_value(
                tenant=self.tenant,
                team_ids=team_ids if team_id is not None else None,
                period=period,
                kpi=replace(kpi, min_volume=min_volume),
                moves_count_as_leaving=self.moves_count_as_leaving,
                timelines=self.timelines,
            )
        return self._value(
            kpi, self.team_days, self.team_metrics, team_ids, first, after, min_volume
        )


@dataclass(frozen=True)
class Progress:
    first: date
    after: date
    value: KpiValue
    start_value: float | None
    fraction: float | None
    status: str
    achieved_at: datetime | None

    def window(self, tenant: Tenant) -> dict[str, str]:
        tz = tenant.tz
        return {
            "start": local_midnight(self.first, tz).astimezone(tz).isoformat(),
            "end": local_midnight(self.after, tz).astimezone(tz).isoformat(),
        }


def goal_min_volume(goal: Goal, kpi: CatalogueKpi) -> Decimal:
    return Decimal(goal.min_volume) if goal.min_volume is not None else kpi.min_volume


def fraction_of_way(
    value: float | None, start: float | None, op: str, target: Decimal
) -> float | None:
    """0 at the starting value, 1 at the target (and beyond), clamped; None when unknown."""
    if value is None:
        return None
    if meets(value, op, target):
        return 1.0
    if start is None:
        return None
    distance = target - Decimal(str(start))
    if distance == 0 or meets(start, op, target):
        return 0.0
    fraction = (Decimal(str(value)) - Decimal(str(start))) / distance
    return float(min(max(fraction, Decimal(0)), Decimal(1)).quantize(Decimal("0.0001")))


def subject_value(grid: Grid, goal: Goal, kpi: CatalogueKpi, first: date, after: date) -> KpiValue:
    volume = goal_min_volume(goal, kpi)
    if goal.agent_id:
        return grid.agent_value(goal.agent_id, kpi, first, after, volume)
    return grid.team_value(goal.team_id, kpi, first, after, volume)


def goal_progress(
    goal: Goal,
    grid: Grid,
    *,
    now: datetime,
    achievements: dict[tuple[int, date], datetime],
    day: date | None = None,
) -> Progress | None:
    """The progress of the goal's instance containing `day` (default today); None when its
    KPI left the catalogue."""
    tenant = grid.tenant
    kpi = grid.catalogue.get(goal.kpi)
    if kpi is None:
        return None
    first, after = goal_window(goal, tenant, day or local_today(tenant, now))
    value = subject_value(grid, goal, kpi, first, after)
    if kpi.aggregation == "sum":
        start_value: float | None = 0.0
    else:
        b_first, b_after = baseline_window(goal, tenant, first, after)
        start_value = subject_value(grid, goal, kpi, b_first, b_after).value
    target = Decimal(goal.target)
    current = value.value
    if current is None and kpi.aggregation == "sum":
        current = 0.0  # no contact yet is 0 contacts, not "unknown"
    fraction = fraction_of_way(current, start_value, goal.op, target)
    achieved_at = achievements.get((goal.pk, first))
    tz = tenant.tz
    begins, ends = local_midnight(first, tz), local_midnight(after, tz)
    if achieved_at is not None:
        status = "achieved"
    elif now >= ends:
        status = "missed"
    elif now < begins or current is None or meets(current, goal.op, target):
        status = "on_track"
    elif fraction is None:
        status = "at_risk"
    else:
        elapsed = (now - begins) / (ends - begins)
        status = "on_track" if fraction >= elapsed - AT_RISK_SLACK else "at_risk"
    return Progress(first, after, value, start_value, fraction, status, achieved_at)


def grid_for(tenant: Tenant, goals: list[Goal], windows: Iterable[tuple[Goal, date, date]]) -> Grid:
    """One grid covering the goals' windows and their baselines."""
    spans = []
    for goal, first, after in windows:
        b_first, _ = baseline_window(goal, tenant, first, after)
        spans.append((b_first, after))
    if not spans:
        today = local_today(tenant)
        spans = [(today, today + timedelta(days=1))]
    return Grid.load(
        tenant,
        agent_ids={g.agent_id for g in goals if g.agent_id},
        teams=any(not g.agent_id for g in goals),
        first=min(s for s, _ in spans),
        after=max(a for _, a in spans),
        turnover=any(g.kpi == "turnover" for g in goals),
    )


def achievements_of(goals: list[Goal]) -> dict[tuple[int, date], datetime]:
    return {
        (g, start): at
        for g, start, at in GoalAchievement.objects.filter(
            tenant_id__in={g.tenant_id for g in goals}, goal_id__in=[g.pk for g in goals]
        ).values_list("goal_id", "period_start", "achieved_at")
    }


def goals_progress(
    *, tenant: Tenant, goals: list[Goal], now: datetime | None = None
) -> dict[int, Progress | None]:
    """{goal id: progress now} for many goals in a bounded number of queries."""
    now = now or timezone.now()
    if not goals:
        return {}
    today = local_today(tenant, now)
    grid = grid_for(tenant, goals, [(g, *goal_window(g, tenant, today)) for g in goals])
    achieved = achievements_of(goals)
    return {g.pk: goal_progress(g, grid, now=now, achievements=achieved) for g in goals}
