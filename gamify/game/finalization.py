"""Period finalization: after the grace window a period's results freeze, exactly once.

Finalizing a (kind, start) period, in one transaction under the tenant's apply lock:
1. recompute its awards one last time and mark them finalized (frozen from now on);
2. award the badges judged on whole periods: KPI thresholds and streaks;
3. convert the day's points to coins when the tenant has a conversion rule;
4. write the PeriodClose row (unique per tenant, kind and start: a second run does nothing).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from accounts.models import Tenant
from core.times import EARLIEST_DAY
from gamify.game.badges import Earned, badges_award
from gamify.game.engine import PERIODS, Context, PeriodSums, game_recompute, meets
from gamify.game.models import (
    AgentDayPoints,
    Badge,
    BadgeAward,
    GameSettings,
    PeriodClose,
    PointAward,
)
from gamify.wallet.services import points_convert
from kpis import buckets
from kpis.models import AgentDay
from kpis.periods import local_midnight

STREAK_LOOKBACK = 2  # a repeatable streak looks back twice its length (see _period_badges)


def grace(tenant: Tenant) -> timedelta:
    row = GameSettings.objects.filter(tenant=tenant).first()
    return timedelta(minutes=row.grace_minutes if row else 120)


def periods_due(*, tenant: Tenant, now: datetime | None = None) -> Iterator[tuple[str, date]]:
    """The periods whose end + grace has passed and that are not finalized yet, in order."""
    now = now or timezone.now()
    wait = grace(tenant)
    ctx = Context.load(tenant)
    first_data = AgentDay.objects.filter(tenant=tenant).aggregate(first=Min("day"))["first"]
    created = tenant.created_at.astimezone(tenant.tz).date()
    # Data stored before events were bounded (core.times) may be older than that span.
    origin = max(min(first_data, created) if first_data else created, EARLIEST_DAY)
    last = dict(
        PeriodClose.objects.for_tenant(tenant)
        .values("period")
        .annotate(last=Max("start"))
        .values_list("period", "last")
    )
    for kind in PERIODS:
        start = ctx.bounds(kind, last[kind])[1] if kind in last else ctx.bounds(kind, origin)[0]
        while True:
            after = ctx.bounds(kind, start)[1]
            if local_midnight(after, tenant.tz) + wait > now:
                break
            yield kind, start
            start = after


def period_finalize(*, tenant: Tenant, kind: str, start: date) -> str:
    """Freeze one period. Safe to call concurrently and repeatedly: it happens once."""
    with transaction.atomic():
        buckets.advisory_lock(buckets.APPLY_LOCK, tenant.pk)
        if PeriodClose.objects.for_tenant(tenant).filter(period=kind, start=start).exists():
            return "already finalized"
        ctx = Context.load(tenant)
        after = ctx.bounds(kind, start)[1]
        agents = set(
            AgentDay.objects.filter(tenant=tenant, day__gte=start, day__lt=after)
            .values_list("agent_id", flat=True)
            .distinct()
        ) | set(
            PointAward.objects.for_tenant(tenant)
            .filter(rule__period=kind, period_start=start)
            .values_list("agent_id", flat=True)
        )
        if agents:
            game_recompute(tenant=tenant, agent_days={agent: {start} for agent in agents})
        PointAward.objects.for_tenant(tenant).filter(
            rule__period=kind, period_start=start, finalized=False
        ).update(finalized=True)
        badges = _period_badges(ctx, kind, start, agents)
        converted = _convert(tenant, start, agents) if kind == "day" else 0
        PeriodClose.objects.create(
            tenant=tenant, period=kind, start=start, finalized_at=timezone.now()
        )
    return f"finalized {kind} {start}: {len(agents)} agents, {badges} badges, {converted} converted"


def _period_badges(ctx: Context, kind: str, start: date, agents: set[int]) -> int:
    """KPI-threshold and streak badges judged on this finished period."""
    relevant = [
        b
        for b in ctx.badges
        if b.kind in (Badge.Kind.KPI_THRESHOLD, Badge.Kind.STREAK)
        and b.criteria.get("period") == kind
    ]
    if not relevant or not agents:
        return 0
    starts = [start]
    longest = max(
        (int(b.criteria.get("length", 1)) * (STREAK_LOOKBACK if b.repeatable else 1))
        for b in relevant
    )
    for _ in range(longest - 1):
        starts.append(ctx.bounds(kind, starts[-1] - timedelta(days=1))[0])
    sums = PeriodSums(ctx, {kind: {(a, s) for a in agents for s in starts}})
    previous: dict[tuple[int, int], set[date]] = {}
    for badge_id, agent, key in (
        BadgeAward.objects.for_tenant(ctx.tenant)
        .filter(badge__in=[b for b in relevant if b.repeatable], agent_id__in=agents)
        .exclude(period_key="")
        .values_list("badge_id", "agent_id", "period_key")
    ):
        try:
            previous.setdefault((badge_id, agent), set()).add(date.fromisoformat(key))
        except ValueError:
            continue  # a contest prize's key, not a period
    earned: list[Earned] = []
    for badge in relevant:
        criteria = badge.criteria
        kpi = ctx.catalogue.get(criteria.get("kpi", ""))
        if kpi is None:
            continue
        minimum = Decimal(str(criteria.get("min_volume", 0)))

        def met(
            agent: int,
            period_start: date,
            c: dict[str, Any] = criteria,
            kpi: Any = kpi,
            minimum: Decimal = minimum,
        ) -> bool:
            value = sums.value(kpi, agent, kind, period_start)
            volume = Decimal(str(value.volume))
            return volume > 0 and volume >= minimum and meets(value.value, c["op"], c["threshold"])

        key = start.isoformat() if badge.repeatable else ""
        for agent in agents:
            if badge.kind == Badge.Kind.KPI_THRESHOLD:
                if met(agent, start):
                    value = sums.value(kpi, agent, kind, start).value
                    earned.append(
                        Earned(
                            badge,
                            agent,
                            key,
                            {"period": kind, "value": value, "period_start": start.isoformat()},
                        )
                    )
                continue
            length = int(criteria["length"])
            run = 0
            for period_start in starts:
                if not met(agent, period_start):
                    break
                run += 1
            # A streak counts calendar-consecutive periods: a gap (no activity) or a period
            # under the minimum volume breaks it. A one-off streak badge is given the first
            # time; a repeatable one again after each further `length` periods of the run
            # (days 5, 10, 15 …), i.e. `length` periods after its last award in this run.
            if run < length:
                continue
            if badge.repeatable:
                run_starts = starts[:run]
                awarded = previous.get((badge.pk, agent), set())
                last = next((i for i, s in enumerate(run_starts) if s in awarded), None)
                if last is not None and last != length:
                    continue
            if run >= length:
                earned.append(
                    Earned(
                        badge,
                        agent,
                        key,
                        {"period": kind, "length": run, "period_start": start.isoformat()},
                    )
                )
    return badges_award(tenant=ctx.tenant, earned=earned)


def _convert(tenant: Tenant, day: date, agents: set[int]) -> int:
    """The tenant's points-to-coins conversion, once per agent and day."""
    converted = 0
    for agent, points in AgentDayPoints.objects.filter(tenant=tenant, day=day).values_list(
        "agent_id", "points"
    ):
        if points > 0 and points_convert(
            tenant=tenant, agent_id=agent, period_key=f"day:{day.isoformat()}", points=points
        ):
            converted += 1
    return converted


def periods_finalize_due(*, tenant: Tenant, limit: int = 200) -> list[str]:
    """Finalize what is due for a tenant (oldest first, at most `limit` periods per call)."""
    outcomes = []
    for n, (kind, start) in enumerate(periods_due(tenant=tenant)):
        if n >= limit:
            break
        outcomes.append(period_finalize(tenant=tenant, kind=kind, start=start))
    return outcomes
