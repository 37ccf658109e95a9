"""The game engine: from KPI buckets to points, levels and badges.

`game_recompute` runs after buckets changed (kpis.signals.buckets_changed → receivers.py) for
the touched (agent, local day) keys, or for everything after a rule change or a rebuild:

1. for each active rule, the period containing each touched day (unless that period is
   finalized: then a changed result is only reported as a late adjustment);
2. KPI sums of those periods from the day buckets, and the points each rule gives;
3. awards upserted (rows of 0 points deleted), points per agent per day re-summed;
4. lifetime points and levels (level-ups recorded once each);
5. badges whose criteria are monotone (counts, points milestones) awarded the moment they hold.

Everything here is recomputed from its inputs, so running it twice changes nothing.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Tenant
from core.bulk import bulk_upsert
from core.times import EARLIEST_DAY, LATEST_DAY
from gamify.activity.services import NewActivity, activities_record
from gamify.game.badges import Earned, badges_award
from gamify.game.models import (
    AgentDayPoints,
    AgentGameState,
    Badge,
    Level,
    PeriodClose,
    PointAdjustment,
    PointAward,
    PointRule,
)
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import N_COUNTERS, KpiValue, builtin_value
from kpis.periods import period_bounds
from kpis.selectors import agent_day_counters, agent_day_metrics, custom_value

PERIODS = ("day", "week", "month")
DEFAULT_LEVEL = (1, "Rookie", 0)

AWARD_FIELDS = [
    "tenant_id",
    "rule_id",
    "agent_id",
    "period_start",
    "day",
    "points",
    "finalized",
    "updated_at",
]


@dataclass
class Context:
    """What one recompute needs, loaded once."""

    tenant: Tenant
    catalogue: dict[str, CatalogueKpi]
    rules: list[PointRule]
    badges: list[Badge]
    closed: dict[str, set[date]]  # period kind → first days of finalized periods
    _bounds: dict[tuple[str, date], tuple[date, date]] = field(default_factory=dict)

    @classmethod
    def load(cls, tenant: Tenant) -> Context:
        closed: dict[str, set[date]] = defaultdict(set)
        for kind, start in PeriodClose.objects.for_tenant(tenant).values_list("period", "start"):
            closed[kind].add(start)
        return cls(
            tenant=tenant,
            catalogue=kpi_catalogue(tenant),
            rules=list(PointRule.objects.for_tenant(tenant).filter(active=True, deleted=False)),
            badges=list(Badge.objects.for_tenant(tenant).filter(active=True)),
            closed=closed,
        )

    def bounds(self, kind: str, day: date) -> tuple[date, date]:
        """(first day, first day after) of the period of this kind containing `day`."""
        key = (kind, day)
        found = self._bounds.get(key)
        if found is None:
            found = self._bounds[key] = period_bounds(
                kind, day, tz=self.tenant.tz, week_start=self.tenant.week_start
            )
        return found

    def is_closed(self, kind: str, start: date) -> bool:
        return start in self.closed.get(kind, ())


class PeriodSums:
    """KPI sums per (agent, period) built from day buckets, for the periods asked for."""

    def __init__(self, ctx: Context, wanted: Mapping[str, set[tuple[int, date]]]) -> None:
        """`wanted`: period kind → {(agent id, period start)}."""
        self.ctx = ctx
        self.counters: dict[tuple[int, str, date], list[int]] = {}
        self.metrics: dict[tuple[int, str, date], dict[str, list[int]]] = {}
        spans = [
            (start, ctx.bounds(kind, start)[1])
            for kind, keys in wanted.items()
            for _, start in keys
        ]
        agents = {agent for keys in wanted.values() for agent, _ in keys}
        if not spans:
            return
        first, after = min(s for s, _ in spans), max(e for _, e in spans)
        by_agent_kind = {kind: {(a, s) for a, s in keys} for kind, keys in wanted.items() if keys}
        days = agent_day_counters(tenant=ctx.tenant, agent_ids=agents, start=first, end=after)
        for (agent, day), counters in days.items():
            for kind, keys in by_agent_kind.items():
                start = ctx.bounds(kind, day)[0]
                if (agent, start) in keys:
                    total = self.counters.setdefault((agent, kind, start), [0] * N_COUNTERS)
                    for i, v in enumerate(counters):
                        if v:
                            total[i] += v
        if any(k.custom for k in ctx.catalogue.values()):
            metrics = agent_day_metrics(tenant=ctx.tenant, agent_ids=agents, start=first, end=after)
            for (agent, kpi, day), (value, count) in metrics.items():
                for kind, keys in by_agent_kind.items():
                    start = ctx.bounds(kind, day)[0]
                    if (agent, start) in keys:
                        pair = self.metrics.setdefault((agent, kind, start), {}).setdefault(
                            kpi, [0, 0]
                        )
                        pair[0] += value
                        pair[1] += count

    def value(self, kpi: CatalogueKpi, agent: int, kind: str, start: date) -> KpiValue:
        if kpi.formula is not None:
            sums = self.counters.get((agent, kind, start), [0] * N_COUNTERS)
            return builtin_value(kpi.formula, sums, kpi.min_volume)
        value, count = self.metrics.get((agent, kind, start), {}).get(kpi.code, (0, 0))
        return custom_value(kpi, value, count)


def meets(value: float | None, op: str, threshold: Decimal | float | int) -> bool:
    if value is None:
        return False
    number = Decimal(str(value))
    return number >= Decimal(str(threshold)) if op == ">=" else number <= Decimal(str(threshold))


def rule_points(rule: PointRule, value: KpiValue) -> int:
    """Points one rule gives for one period's KPI value (DESIGN.md §5, API.md point rules)."""
    volume = Decimal(str(value.volume))
    qualified = volume > 0 and volume >= rule.min_volume
    if rule.kind == PointRule.Kind.PER_UNIT:
        points = math.floor(rule.points * Decimal(str(value.numerator)))
    elif rule.kind == PointRule.Kind.TARGET:
        assert rule.threshold is not None
        points = rule.points if qualified and meets(value.value, rule.op, rule.threshold) else 0
    else:
        assert rule.lower is not None
        assert rule.upper is not None
        if not qualified or value.value is None or rule.upper == rule.lower:
            points = 0
        else:
            # lower → 0 points, upper → all of them (for lower-is-better KPIs upper < lower).
            fraction = (Decimal(str(value.value)) - rule.lower) / (rule.upper - rule.lower)
            fraction = min(Decimal(1), max(Decimal(0), fraction))
            points = int((rule.points * fraction).to_integral_value(ROUND_HALF_UP))
    if rule.cap is not None:
        points = min(points, rule.cap)
    return max(0, points)


@dataclass
class Outcome:
    awards_changed: int = 0
    agents: set[int] = field(default_factory=set)
    level_ups: int = 0
    badges: int = 0

    def __str__(self) -> str:
        return (
            f"{self.awards_changed} awards changed for {len(self.agents)} agents, "
            f"{self.level_ups} level-ups, {self.badges} badges"
        )


def _open_agent_days(ctx: Context) -> dict[int, set[date]]:
    """Every (agent, day) with data in any still-open period of any kind."""
    earliest: date | None = None
    for kind in PERIODS:
        closed = ctx.closed.get(kind)
        start = ctx.bounds(kind, max(closed))[1] if closed else None
        if start is None:
            earliest = None
            break
        earliest = start if earliest is None else min(earliest, start)
    days = agent_day_counters(tenant=ctx.tenant, agent_ids=None, start=earliest, end=None)
    out: dict[int, set[date]] = defaultdict(set)
    for agent, day in days:
        out[agent].add(day)
    # Awards of open periods that no longer have data (a rule or rebuild removed them).
    stale = PointAward.objects.for_tenant(ctx.tenant).filter(finalized=False)
    for agent, day in stale.values_list("agent_id", "period_start"):
        out[agent].add(day)
    return out


def game_recompute(
    *, tenant: Tenant, agent_days: Mapping[int, Iterable[date]] | None = None
) -> Outcome:
    """Recompute points (and what follows from them) for the touched agent-days.

    `agent_days=None` recomputes every open period of every agent (after a rule change or a
    rebuild). The caller holds the tenant's apply lock.
    """
    ctx = Context.load(tenant)
    everything = agent_days is None
    touched = kept_days(_open_agent_days(ctx) if agent_days is None else agent_days)
    outcome = Outcome()

    # 1. the periods to evaluate
    rule_kinds = {r.period for r in ctx.rules}
    count_badges = [b for b in ctx.badges if b.kind == Badge.Kind.COUNT]
    badge_kinds = {b.criteria.get("period") for b in count_badges} & set(PERIODS)
    wanted: dict[str, set[tuple[int, date]]] = defaultdict(set)
    late: dict[str, set[tuple[int, date]]] = defaultdict(set)
    for agent, days in touched.items():
        for day in days:
            for kind in rule_kinds | badge_kinds:
                start = ctx.bounds(kind, day)[0]
                if not ctx.is_closed(kind, start):
                    wanted[kind].add((agent, start))
                elif not everything:
                    # Only events arrive late. A rule or settings change leaves a finalized
                    # period as it was, and the feed says nothing about it.
                    late[kind].add((agent, start))
    sums = PeriodSums(ctx, {k: wanted[k] | late[k] for k in set(wanted) | set(late)})

    # 2. points per (rule, agent, period)
    computed: dict[tuple[int, int, date], tuple[int, date]] = {}
    late_results: list[tuple[PointRule, int, date, int]] = []
    for rule in ctx.rules:
        kpi = ctx.catalogue.get(rule.kpi)
        if kpi is None:
            continue
        for agent, start in wanted.get(rule.period, ()):
            points = rule_points(rule, sums.value(kpi, agent, rule.period, start))
            last_day = ctx.bounds(rule.period, start)[1] - timedelta(days=1)
            computed[(rule.pk, agent, start)] = (points, last_day)
        for agent, start in late.get(rule.period, ()):
            late_results.append(
                (rule, agent, start, rule_points(rule, sums.value(kpi, agent, rule.period, start)))
            )

    # 3. awards
    affected_days = _write_awards(ctx, computed, wanted, everything, outcome)
    _report_late(ctx, late_results)
    if everything:
        affected_days |= _ledger_days(ctx)
    _write_day_points(ctx, affected_days)

    # 4. lifetime points and levels, 5. monotone badges
    agents = {a for a, _ in affected_days} | set(touched)
    lifetime = _lifetime(ctx, agents)
    outcome.level_ups = _levels(ctx, lifetime)
    outcome.badges = _monotone_badges(ctx, count_badges, sums, wanted, lifetime)
    outcome.agents = agents
    return outcome


def kept_days(agent_days: Mapping[int, Iterable[date]]) -> dict[int, set[date]]:
    """The touched days inside the span Gamify keeps (core.times): an event stored before
    events were bounded (year 1, say) changes its buckets but no game state, whose period
    arithmetic would overflow at the ends of the calendar."""
    kept: dict[int, set[date]] = {}
    for agent, days in agent_days.items():
        inside = {d for d in days if EARLIEST_DAY <= d <= LATEST_DAY}
        if inside:
            kept[agent] = inside
    return kept


def _write_awards(
    ctx: Context,
    computed: dict[tuple[int, int, date], tuple[int, date]],
    wanted: Mapping[str, set[tuple[int, date]]],
    everything: bool,
    outcome: Outcome,
) -> set[tuple[int, date]]:
    """Upsert changed awards, delete those now worth nothing; returns the (agent, day) whose
    day points must be re-summed."""
    agents = {agent for _, agent, _ in computed} | {a for keys in wanted.values() for a, _ in keys}
    existing_rows = PointAward.objects.for_tenant(ctx.tenant).filter(finalized=False)
    if not everything:
        starts = {start for _, _, start in computed}
        if not agents or not starts:
            return set()
        existing_rows = existing_rows.filter(agent_id__any=agents, period_start__any=starts)
    existing = {
        (rule, agent, start): (pk, points, day)
        for pk, rule, agent, start, points, day in existing_rows.values_list(
            "id", "rule_id", "agent_id", "period_start", "points", "day"
        )
    }
    affected: set[tuple[int, date]] = set()
    upserts: list[tuple[Any, ...]] = []
    now = timezone.now()
    for (rule, agent, start), (points, day) in computed.items():
        before = existing.get((rule, agent, start))
        if points and (before is None or before[1] != points):
            upserts.append((ctx.tenant.pk, rule, agent, start, day, points, False, now))
            affected.add((agent, day))
    deletions = []
    for key, (pk, _, day) in existing.items():
        points = computed.get(key, (0, day))[0]
        if points == 0 and (key in computed or everything):
            deletions.append(pk)
            affected.add((key[1], day))
    bulk_upsert(
        PointAward,
        upserts,
        fields=AWARD_FIELDS,
        unique=["rule_id", "agent_id", "period_start"],
        update=["points", "day", "updated_at"],
    )
    if deletions:
        PointAward.objects.filter(
            tenant_id=ctx.tenant.pk, pk__any=deletions, finalized=False
        ).delete()
    outcome.awards_changed = len(upserts) + len(deletions)
    return affected


def _report_late(ctx: Context, results: list[tuple[PointRule, int, date, int]]) -> None:
    """A late event moved a finalized period's result: say so, change nothing."""
    if not results:
        return
    frozen = {
        (rule, agent, start): points
        for rule, agent, start, points in PointAward.objects.for_tenant(ctx.tenant)
        .filter(finalized=True, agent_id__any={a for _, a, _, _ in results})
        .values_list("rule_id", "agent_id", "period_start", "points")
    }
    items = []
    for rule, agent, start, points in results:
        was = frozen.get((rule.pk, agent, start), 0)
        if points != was:
            items.append(
                NewActivity(
                    type="points.late_adjustment",
                    key=f"late:{rule.pk}:{agent}:{start}:{points}",
                    agent_id=agent,
                    data={
                        "rule": rule.pk,
                        "rule_name": rule.name,
                        "period": rule.period,
                        "period_start": start.isoformat(),
                        "frozen_points": was,
                        "recomputed_points": points,
                    },
                )
            )
    activities_record(tenant=ctx.tenant, items=items)


def _ledger_days(ctx: Context) -> set[tuple[int, date]]:
    """Days carrying points that are not recomputed: adjustments and finalized awards."""
    adjustments = PointAdjustment.objects.for_tenant(ctx.tenant).values_list("agent_id", "day")
    frozen = (
        PointAward.objects.for_tenant(ctx.tenant)
        .filter(finalized=True)
        .values_list("agent_id", "day")
    )
    return set(adjustments.distinct()) | set(frozen.distinct())


def _write_day_points(ctx: Context, days: set[tuple[int, date]]) -> None:
    """Re-sum points per (agent, day): awards counted on that day plus adjustments."""
    if not days:
        return
    agents = {a for a, _ in days}
    first, last = min(d for _, d in days), max(d for _, d in days)
    totals: dict[tuple[int, date], int] = defaultdict(int)
    for source in (
        PointAward.objects.for_tenant(ctx.tenant),
        PointAdjustment.objects.for_tenant(ctx.tenant),
    ):
        for agent, day, points in (
            source.filter(agent_id__any=agents, day__gte=first, day__lte=last)
            .values("agent_id", "day")
            .annotate(total=Sum("points"))
            .values_list("agent_id", "day", "total")
        ):
            if (agent, day) in days:
                totals[(agent, day)] += points
    bulk_upsert(
        AgentDayPoints,
        [(ctx.tenant.pk, a, d, p) for (a, d), p in totals.items() if p],
        fields=["tenant_id", "agent_id", "day", "points"],
        unique=["tenant_id", "agent_id", "day"],
        update=["points"],
    )
    gone = days - {(a, d) for (a, d), p in totals.items() if p}
    if gone:
        by_agent: dict[int, list[date]] = defaultdict(list)
        for agent, day in gone:
            by_agent[agent].append(day)
        for agent, day_list in by_agent.items():
            AgentDayPoints.objects.filter(
                tenant=ctx.tenant, agent_id=agent, day__in=day_list
            ).delete()


def _lifetime(ctx: Context, agents: set[int]) -> dict[int, int]:
    if not agents:
        return {}
    totals = dict.fromkeys(agents, 0)
    totals.update(
        AgentDayPoints.objects.filter(tenant=ctx.tenant, agent_id__any=agents)
        .values("agent_id")
        .annotate(total=Sum("points"))
        .values_list("agent_id", "total")
    )
    return totals


def level_table(tenant: Tenant) -> list[tuple[int, str, int]]:
    """[(number, name, min_points)] ascending; a single default level when none is set."""
    levels = list(
        Level.objects.for_tenant(tenant)
        .order_by("number")
        .values_list("number", "name", "min_points")
    )
    return levels or [DEFAULT_LEVEL]


def level_for(levels: list[tuple[int, str, int]], points: int) -> tuple[int, str, int]:
    current = levels[0]
    for level in levels:
        if points >= level[2]:
            current = level
    return current


def _levels(ctx: Context, lifetime: dict[int, int]) -> int:
    """Store lifetime points and levels; record each level reached for the first time."""
    if not lifetime:
        return 0
    levels = level_table(ctx.tenant)
    states = {
        agent: (points, level, highest)
        for agent, points, level, highest in AgentGameState.objects.filter(
            tenant_id=ctx.tenant.pk, agent_id__any=lifetime.keys()
        ).values_list("agent_id", "lifetime_points", "level", "highest_level")
    }
    rows: list[tuple[Any, ...]] = []
    activities = []
    for agent, points in lifetime.items():
        number, _, _ = level_for(levels, points)
        state = states.get(agent)
        highest = state[2] if state else levels[0][0]
        for reached, name, minimum in levels:
            if highest < reached <= number:
                activities.append(
                    NewActivity(
                        type="level.up",
                        key=f"level:{agent}:{reached}",
                        agent_id=agent,
                        data={
                            "level": reached,
                            "name": name,
                            "min_points": minimum,
                            "lifetime_points": points,
                        },
                    )
                )
        row = (agent, ctx.tenant.pk, points, number, max(highest, number))
        if state is None or state != row[2:]:  # unchanged states are not written again
            rows.append(row)
    bulk_upsert(
        AgentGameState,
        rows,
        fields=["agent_id", "tenant_id", "lifetime_points", "level", "highest_level"],
        unique=["agent_id"],
        update=["lifetime_points", "level", "highest_level"],
    )
    activities_record(tenant=ctx.tenant, items=activities)
    return len(activities)


def _monotone_badges(
    ctx: Context,
    count_badges: list[Badge],
    sums: PeriodSums,
    wanted: Mapping[str, set[tuple[int, date]]],
    lifetime: dict[int, int],
) -> int:
    """Count and points-milestone badges, awarded the moment they hold."""
    earned: list[Earned] = []
    lifetime_counts: dict[int, list[int]] | None = None
    for badge in count_badges:
        criteria = badge.criteria
        kpi = ctx.catalogue.get(criteria.get("kpi", ""))
        if kpi is None:
            continue
        needed = Decimal(str(criteria.get("count", 0)))
        kind = criteria.get("period", "lifetime")
        if kind == "lifetime":
            if lifetime_counts is None:
                lifetime_counts = _lifetime_counters(ctx, set(lifetime))
            for agent in lifetime:
                sums_of_agent = lifetime_counts.get(agent)
                if sums_of_agent is None or kpi.formula is None:
                    continue
                numerator = builtin_value(kpi.formula, sums_of_agent, kpi.min_volume).numerator
                if Decimal(str(numerator)) >= needed:
                    earned.append(Earned(badge, agent, "", {"count": numerator}))
            continue
        for agent, start in wanted.get(kind, ()):
            numerator = sums.value(kpi, agent, kind, start).numerator
            if Decimal(str(numerator)) >= needed:
                key = start.isoformat() if badge.repeatable else ""
                earned.append(
                    Earned(
                        badge,
                        agent,
                        key,
                        {"count": numerator, "period": kind, "period_start": start.isoformat()},
                    )
                )
    earned += points_milestones(ctx, lifetime)
    return badges_award(tenant=ctx.tenant, earned=earned)


def points_milestones(ctx: Context, lifetime: Mapping[int, int]) -> list[Earned]:
    """Points-milestone badges the agents' lifetime points have reached."""
    earned: list[Earned] = []
    for badge in (b for b in ctx.badges if b.kind == Badge.Kind.POINTS):
        goal = int(badge.criteria.get("points", 0))
        for agent, points in lifetime.items():
            if points >= goal:
                earned.append(Earned(badge, agent, "", {"lifetime_points": points}))
    return earned


def _lifetime_counters(ctx: Context, agents: set[int]) -> dict[int, list[int]]:
    totals: dict[int, list[int]] = {}
    for (agent, _), counters in agent_day_counters(
        tenant=ctx.tenant, agent_ids=agents, start=None, end=None
    ).items():
        total = totals.setdefault(agent, [0] * N_COUNTERS)
        for i, v in enumerate(counters):
            total[i] += v
    return totals
