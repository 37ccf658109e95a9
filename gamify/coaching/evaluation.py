"""Judging goals and alert rules: when buckets change (under the apply lock, from
gamify.receivers) and once more when a period closes (beat, after the grace window).

Exactly once: an achievement is a row unique per (goal, period) and its `goal.achieved`
activity is keyed by the same pair, so a retried task or late events moving the value back
and forth across the target write nothing twice — an achievement is kept once given, like a
badge. An alert is an `AlertFiring` row and its activity; a cool-down per (rule, agent, KPI)
spaces them, and an `AlertClaim` per (agent, KPI, period) keeps "exceeds" and "behind" from
both firing for the same agent, KPI and period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from accounts.models import Agent, Tenant
from gamify.activity.services import NewActivity, activities_record, activity_record
from gamify.coaching.models import (
    AlertClaim,
    AlertFiring,
    AlertRule,
    CoachingPeriodClose,
    Goal,
    GoalAchievement,
)
from gamify.coaching.progress import (
    Grid,
    achievements_of,
    goal_progress,
    goal_window,
    grid_for,
    subject_value,
)
from gamify.coaching.selectors import meets
from gamify.game.finalization import grace
from kpis import buckets
from kpis.catalogue import CatalogueKpi
from kpis.formulas import KpiValue
from kpis.models import AgentDay
from kpis.periods import local_midnight, local_today, period_bounds

HUNDRED = Decimal(100)
CLOSE_KINDS = ("day", "week", "month", "quarter")
MAX_CLOSES_PER_RUN = 400


@dataclass(frozen=True)
class Achieved:
    goal: Goal
    first: date
    after: date
    value: float | None
    live: bool  # recorded before the period ended (not at its close)


def _open(tenant: Tenant, after: date, now: datetime, wait: timedelta) -> bool:
    return now < local_midnight(after, tenant.tz) + wait


def goals_evaluate(
    *,
    tenant: Tenant,
    agent_days: Mapping[int, Iterable[date]] | None,
    now: datetime,
    closing: tuple[str, date] | None = None,
) -> list[Achieved]:
    """Record the achievements of goals whose (open) period meets the target now.

    `agent_days=None`: every goal, for today; else agents' goals of the touched agents for
    their touched days and today, and every team and tenant goal. `closing=(kind, first)`: the
    goals of that closing period only, once more after its grace window.
    """
    goals_qs = Goal.objects.for_tenant(tenant).filter(active=True)
    today = local_today(tenant, now)
    wait = grace(tenant)
    if closing is not None:
        kind, first = closing
        goals_qs = goals_qs.filter(Q(period=kind) | Q(period="", deadline__isnull=False))
    elif agent_days is not None:
        goals_qs = goals_qs.filter(Q(agent_id__in=list(agent_days)) | Q(agent__isnull=True))
    goals = list(goals_qs)
    windows: set[tuple[Goal, date, date]] = set()
    for goal in goals:
        if closing is not None:
            kind, first = closing
            deadline_day = not goal.period and kind == "day" and goal.deadline == first
            if goal.period == kind or deadline_day:
                windows.add((goal, *goal_window(goal, tenant, first)))
            continue
        days = {today}
        if agent_days is not None:
            days |= set(agent_days.get(goal.agent_id, ())) if goal.agent_id else set()
            if not goal.agent_id:
                days |= {d for ds in agent_days.values() for d in ds}
        for day in days:
            first, after = goal_window(goal, tenant, day)
            if first <= today and _open(tenant, after, now, wait):
                windows.add((goal, first, after))
    if not windows:
        return []
    grid = grid_for(tenant, goals, windows)
    have = achievements_of(goals)
    found: list[Achieved] = []
    for goal, first, after in sorted(windows, key=lambda w: (w[0].pk, w[1])):
        if (goal.pk, first) in have:
            continue
        kpi = grid.catalogue.get(goal.kpi)
        if kpi is None:
            continue
        value = subject_value(grid, goal, kpi, first, after)
        if value.qualified and meets(value.value, goal.op, Decimal(goal.target)):
            live = now < local_midnight(after, tenant.tz)
            found.append(Achieved(goal, first, after, value.value, live))
    if not found:
        return []
    GoalAchievement.objects.bulk_create(
        [
            GoalAchievement(
                tenant=tenant, goal=a.goal, period_start=a.first, achieved_at=now, value=a.value
            )
            for a in found
        ],
        ignore_conflicts=True,
    )
    activities_record(
        tenant=tenant,
        items=[
            NewActivity(
                type="goal.achieved",
                key=f"goal.achieved:{a.goal.pk}:{a.first.isoformat()}",
                agent_id=a.goal.agent_id,
                team_id=a.goal.team_id,
                occurred_at=now,
                data={
                    "goal": a.goal.pk,
                    "name": a.goal.name,
                    "kpi": a.goal.kpi,
                    "op": a.goal.op,
                    "target": float(a.goal.target),
                    "value": a.value,
                    "period": {
                        "type": a.goal.period or "deadline",
                        "start": a.first.isoformat(),
                        "end": a.after.isoformat(),
                    },
                },
            )
            for a in found
        ],
    )
    return found


# --- alerts ---------------------------------------------------------------------------------
def beyond(value: float, average: float, percent: Decimal, kind: str, higher: bool) -> bool:
    """The agent's value better (exceeds) or worse (behind) than the team's by more than
    `percent` % of it. Strict on both sides, so one value is never both."""
    a, t = Decimal(str(value)), Decimal(str(average))
    slack = abs(t) * percent / HUNDRED
    better = a > t + slack if higher else a < t - slack
    worse = a < t - slack if higher else a > t + slack
    return better if kind == AlertRule.Kind.EXCEEDS else worse


def alert_fire(
    *,
    tenant: Tenant,
    rule: AlertRule,
    agent: Agent,
    kpi: str,
    period: str,
    period_start: date,
    now: datetime,
    data: dict[str, Any],
) -> bool:
    """Fire one alert unless the other kind owns this (agent, KPI, period) or the rule's
    cool-down for the agent and KPI has not passed. True when it fired."""
    claim = AlertClaim.objects.filter(
        tenant=tenant, agent=agent, kpi=kpi, period=period, period_start=period_start
    ).first()
    if claim is not None and claim.kind != rule.kind:
        return False
    last = (
        AlertFiring.objects.filter(tenant=tenant, rule=rule, agent=agent, kpi=kpi)
        .aggregate(last=Max("fired_at"))
        .get("last")
    )
    if last is not None and now - last < timedelta(minutes=rule.cooldown_minutes):
        return False
    if rule.cooldown_minutes == 0 and last is not None and last >= now:
        return False  # no cool-down: still once per evaluation
    if claim is None:
        AlertClaim.objects.create(
            tenant=tenant,
            agent=agent,
            kpi=kpi,
            period=period,
            period_start=period_start,
            kind=rule.kind,
        )
    firing = AlertFiring.objects.create(
        tenant=tenant, rule=rule, agent=agent, kpi=kpi, period_start=period_start, fired_at=now
    )
    activity_record(
        tenant=tenant,
        type=f"alert.{rule.kind}",
        key=f"alert:{firing.pk}",
        agent_id=agent.pk,
        team_id=agent.team_id,
        occurred_at=now,
        data={
            "rule": rule.pk,
            "rule_name": rule.name,
            "basis": rule.basis,
            "agent": agent.external_id,
            "kpi": kpi,
            **data,
        },
    )
    return True


def _instances(kind: str, first: date, count: int, tenant: Tenant) -> list[tuple[date, date]]:
    """The period starting `first` and the `count - 1` before it, newest first."""
    out = []
    start = first
    for _ in range(count):
        bounds = period_bounds(kind, start, tz=tenant.tz, week_start=tenant.week_start)
        out.append(bounds)
        start = bounds[0] - timedelta(days=1)
    return out


def team_average_alerts(
    *,
    tenant: Tenant,
    rules: list[AlertRule],
    candidates: Mapping[int, set[date]],
    now: datetime,
) -> int:
    """For each rule and agent, each touched period (and the rule's `periods - 1` before it)
    compared with the agent's current team (with its sub-teams). Returns alerts fired."""
    rules = [r for r in rules if r.basis == AlertRule.Basis.TEAM_AVERAGE and r.kpi]
    if not rules or not candidates:
        return 0
    agents = {
        a.pk: a
        for a in Agent.objects.for_tenant(tenant)
        .filter(pk__in=list(candidates), active=True, team__isnull=False)
        .select_related("team")
    }
    if not agents:
        return 0
    plans: list[tuple[AlertRule, Agent, list[tuple[date, date]]]] = []
    for rule in rules:
        for agent_id, days in candidates.items():
            agent = agents.get(agent_id)
            if agent is None:
                continue
            starts = {
                period_bounds(rule.period, d, tz=tenant.tz, week_start=tenant.week_start)[0]
                for d in days
            }
            for start in sorted(starts):
                plans.append((rule, agent, _instances(rule.period, start, rule.periods, tenant)))
    if not plans:
        return 0
    grid = Grid.load(
        tenant,
        agent_ids=set(agents),
        teams=True,
        first=min(p[2][-1][0] for p in plans),
        after=max(p[2][0][1] for p in plans),
    )
    fired = 0
    for rule, agent, instances in plans:
        kpi = grid.catalogue.get(rule.kpi)
        if kpi is None:
            continue
        volume = Decimal(rule.min_volume) if rule.min_volume is not None else kpi.min_volume
        figures: list[tuple[KpiValue, KpiValue]] = []
        for first, after in instances:
            mine = grid.agent_value(agent.pk, kpi, first, after, volume)
            team = grid.team_value(agent.team_id, kpi, first, after, volume)
            figures.append((mine, team))
        if all(_judged(rule, kpi, mine, team) for mine, team in figures):
            latest_first, latest_after = instances[0]
            mine, team = figures[0]
            fired += alert_fire(
                tenant=tenant,
                rule=rule,
                agent=agent,
                kpi=kpi.code,
                period=rule.period,
                period_start=latest_first,
                now=now,
                data={
                    "value": mine.value,
                    "team_average": team.value,
                    "percent": float(rule.percent),
                    "periods": rule.periods,
                    "period": {
                        "type": rule.period,
                        "start": latest_first.isoformat(),
                        "end": latest_after.isoformat(),
                    },
                    "values": [m.value for m, _ in figures],
                    "team_averages": [t.value for _, t in figures],
                },
            )
    return fired


def _judged(rule: AlertRule, kpi: CatalogueKpi, mine: KpiValue, team: KpiValue) -> bool:
    if not (mine.qualified and team.qualified) or mine.value is None or team.value is None:
        return False
    return beyond(mine.value, team.value, Decimal(rule.percent), rule.kind, kpi.higher_is_better)


def goal_alerts(
    *,
    tenant: Tenant,
    rules: list[AlertRule],
    achieved: list[Achieved],
    agent_ids: set[int] | None,
    now: datetime,
) -> int:
    """exceeds: an agent's goal achieved before its period ended; behind: one at risk."""
    rules = [r for r in rules if r.basis == AlertRule.Basis.GOAL]
    if not rules:
        return 0
    fired = 0
    agents: dict[int, Agent] = {}

    def agent_of(pk: int) -> Agent | None:
        if pk not in agents:
            found = Agent.objects.for_tenant(tenant).filter(pk=pk, active=True).first()
            if found is None:
                return None
            agents[pk] = found
        return agents[pk]

    def claim_period(goal: Goal) -> str:
        return goal.period or "deadline"

    for rule in (r for r in rules if r.kind == AlertRule.Kind.EXCEEDS):
        for a in achieved:
            if not a.live or not a.goal.agent_id or (rule.kpi and rule.kpi != a.goal.kpi):
                continue
            agent = agent_of(a.goal.agent_id)
            if agent is None:
                continue
            fired += alert_fire(
                tenant=tenant,
                rule=rule,
                agent=agent,
                kpi=a.goal.kpi,
                period=claim_period(a.goal),
                period_start=a.first,
                now=now,
                data={
                    "goal": a.goal.pk,
                    "value": a.value,
                    "target": float(a.goal.target),
                    "status": "achieved",
                },
            )
    behind = [r for r in rules if r.kind == AlertRule.Kind.BEHIND]
    if not behind:
        return fired
    goals = Goal.objects.for_tenant(tenant).filter(active=True, agent__isnull=False)
    if agent_ids is not None:
        goals = goals.filter(agent_id__in=list(agent_ids))
    goal_list = [g for g in goals if any(not r.kpi or r.kpi == g.kpi for r in behind)]
    if not goal_list:
        return fired
    today = local_today(tenant, now)
    grid = grid_for(tenant, goal_list, [(g, *goal_window(g, tenant, today)) for g in goal_list])
    have = achievements_of(goal_list)
    for goal in goal_list:
        progress = goal_progress(goal, grid, now=now, achievements=have)
        if progress is None or progress.status != "at_risk":
            continue
        agent = agent_of(goal.agent_id) if goal.agent_id else None
        if agent is None:
            continue
        for rule in behind:
            if rule.kpi and rule.kpi != goal.kpi:
                continue
            fired += alert_fire(
                tenant=tenant,
                rule=rule,
                agent=agent,
                kpi=goal.kpi,
                period=claim_period(goal),
                period_start=progress.first,
                now=now,
                data={
                    "goal": goal.pk,
                    "value": progress.value.value,
                    "target": float(goal.target),
                    "status": "at_risk",
                    "fraction": progress.fraction,
                },
            )
    return fired


# --- the two entry points -------------------------------------------------------------------
def coaching_follow(
    *,
    tenant: Tenant,
    agent_days: Mapping[int, set[date]],
    everything: bool,
    now: datetime | None = None,
) -> dict[str, int]:
    """After buckets changed (inside the apply transaction, under the apply lock)."""
    now = now or timezone.now()
    achieved = goals_evaluate(tenant=tenant, agent_days=None if everything else agent_days, now=now)
    if everything:
        return {"achieved": len(achieved), "alerts": 0}
    rules = list(AlertRule.objects.for_tenant(tenant).filter(active=True))
    fired = 0
    if rules:
        wait = grace(tenant)
        open_days = {
            agent: {d for d in days if _open(tenant, d + timedelta(days=1), now, wait)}
            for agent, days in agent_days.items()
        }
        open_days = {a: ds for a, ds in open_days.items() if ds}
        fired += team_average_alerts(tenant=tenant, rules=rules, candidates=open_days, now=now)
        fired += goal_alerts(
            tenant=tenant, rules=rules, achieved=achieved, agent_ids=set(agent_days), now=now
        )
    return {"achieved": len(achieved), "alerts": fired}


def periods_due(*, tenant: Tenant, now: datetime) -> list[tuple[str, date, date]]:
    """Periods past their grace window that coaching has not closed, oldest first, from the
    first goal or alert rule of the tenant (nothing is judged before there was one)."""
    origin = min(
        (
            d
            for d in (
                Goal.objects.for_tenant(tenant).aggregate(m=Min("created_at"))["m"],
                AlertRule.objects.for_tenant(tenant).aggregate(m=Min("created_at"))["m"],
            )
            if d is not None
        ),
        default=None,
    )
    if origin is None:
        return []
    wait = grace(tenant)
    last = dict(
        CoachingPeriodClose.objects.for_tenant(tenant)
        .values("period")
        .annotate(last=Max("start"))
        .values_list("period", "last")
    )
    due: list[tuple[str, date, date]] = []
    origin_day = origin.astimezone(tenant.tz).date()
    for kind in CLOSE_KINDS:
        bounds = lambda d: period_bounds(kind, d, tz=tenant.tz, week_start=tenant.week_start)  # noqa: E731,B023
        start = bounds(last[kind])[1] if kind in last else bounds(origin_day)[0]
        while len(due) < MAX_CLOSES_PER_RUN:
            first, after = bounds(start)
            if local_midnight(after, tenant.tz) + wait > now:
                break
            due.append((kind, first, after))
            start = after
    return sorted(due, key=lambda p: (p[2], p[1]))


def period_close(*, tenant: Tenant, kind: str, first: date, after: date, now: datetime) -> str:
    """Judge one closed period once: goals met at the end are achieved (late, so no
    'exceeds' alert), alert rules of that period kind judge every agent active in it."""
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk)
        if CoachingPeriodClose.objects.for_tenant(tenant).filter(period=kind, start=first).exists():
            return "already closed"
        achieved = goals_evaluate(tenant=tenant, agent_days=None, now=now, closing=(kind, first))
        rules = [
            r
            for r in AlertRule.objects.for_tenant(tenant).filter(active=True, period=kind)
            if r.basis == AlertRule.Basis.TEAM_AVERAGE
        ]
        fired = 0
        if rules:
            active = AgentDay.objects.filter(tenant=tenant, day__gte=first, day__lt=after)
            candidates = {
                pk: {first} for pk in active.values_list("agent_id", flat=True).distinct()
            }
            fired = team_average_alerts(tenant=tenant, rules=rules, candidates=candidates, now=now)
        CoachingPeriodClose.objects.create(tenant=tenant, period=kind, start=first, closed_at=now)
    return f"closed: {len(achieved)} achieved, {fired} alerts"


def periods_close_due(*, tenant: Tenant, now: datetime | None = None) -> list[str]:
    now = now or timezone.now()
    return [
        period_close(tenant=tenant, kind=kind, first=first, after=after, now=now)
        for kind, first, after in periods_due(tenant=tenant, now=now)
    ]
