"""Scorecards: every scorecard KPI of an agent, a team or the tenant over a period, with its
target, status, trend, team average and percentile — in a bounded number of queries whatever
the number of agents (grouped sums over buckets, never a query per agent).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from accounts.models import Agent, Team, Tenant
from accounts.selectors import subtree, team_tree
from core.errors import InvalidInputError
from gamify.coaching.models import DEFAULT_SCORECARD, CoachingSettings, Goal
from gamify.game.models import AgentDayPoints, BadgeAward
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import N_COUNTERS, KpiValue
from kpis.periods import Period, local_midnight, period_of
from kpis.selectors import (
    agent_timelines,
    agents_counter_sums,
    subjects_metric_sums,
    teamless_sums,
    teams_counter_sums,
    turnover_value,
    values_from,
)

HUNDRED = Decimal(100)
SORT_FIELDS = ("name", "points")


@dataclass(frozen=True)
class Settings:
    scorecard: tuple[str, ...]
    close_band_percent: Decimal
    move_counts_as_leaving: bool


def coaching_settings(tenant: Tenant) -> Settings:
    row = CoachingSettings.objects.filter(tenant=tenant).first()
    if row is None:
        return Settings(DEFAULT_SCORECARD, Decimal(5), False)
    return Settings(
        tuple(row.scorecard_kpis) or DEFAULT_SCORECARD,
        Decimal(row.close_band_percent),
        row.move_counts_as_leaving,
    )


def scorecard_kpis(
    settings: Settings, catalogue: Mapping[str, CatalogueKpi], subject: str
) -> list[CatalogueKpi]:
    """The scorecard's KPIs in order, those measured for `subject` (agent or team)."""
    kpis = [catalogue[c] for c in settings.scorecard if c in catalogue]
    return [k for k in kpis if k.formula is None or subject in k.formula.scopes]


def previous_period(period: Period, tenant: Tenant) -> Period | None:
    """The period of the same kind just before (the month before a month); a custom window
    shifted back by its own length; none before "all"."""
    if period.start is None or period.end is None:
        return None
    if period.type == "custom":
        return Period("custom", period.start - (period.end - period.start), period.start)
    day_before = period.start.astimezone(tenant.tz).date() - timedelta(days=1)
    return period_of(period.type, day_before, tenant)


def meets(value: float | None, op: str, target: Decimal) -> bool:
    if value is None:
        return False
    number = Decimal(str(value))
    return number >= target if op == ">=" else number <= target


def status_of(value: KpiValue, op: str | None, target: Decimal | None, band: Decimal) -> str | None:
    """met / close (within `band` % of the target, on the wrong side) / missed; None when the
    value is not qualified or there is no target. The boundaries belong to the better band."""
    if target is None or op is None or value.value is None or not value.qualified:
        return None
    if meets(value.value, op, target):
        return "met"
    slack = abs(target) * band / HUNDRED
    edge = target - slack if op == ">=" else target + slack
    return "close" if meets(value.value, op, edge) else "missed"


def percentiles(values: Mapping[int, float | None], higher_is_better: bool) -> dict[int, float]:
    """Percent of the other ranked agents that did no better (best = 100; ties share; one
    agent alone = 100). Agents whose value is None are not ranked."""
    ranked = {k: v for k, v in values.items() if v is not None}
    n = len(ranked)
    out: dict[int, float] = {}
    ordered = sorted(ranked.values())
    for key, value in ranked.items():
        if n == 1:
            out[key] = 100.0
            continue
        # others no better: for higher-is-better, others with value <= mine (minus myself)
        if higher_is_better:
            no_better = _count_le(ordered, value) - 1
        else:
            no_better = n - _count_lt(ordered, value) - 1
        out[key] = float((Decimal(100) * no_better / (n - 1)).quantize(Decimal("0.01")))
    return out


def _count_le(ordered: Sequence[float], value: float) -> int:
    return bisect_right(ordered, value)


def _count_lt(ordered: Sequence[float], value: float) -> int:
    return bisect_left(ordered, value)


def trend(current: KpiValue, previous: KpiValue | None) -> float | None:
    if previous is None or current.value is None or previous.value is None:
        return None
    return float(
        (Decimal(str(current.value)) - Decimal(str(previous.value))).quantize(Decimal("0.01"))
    )


# --- targets from goals ---------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    goal_id: int
    op: str
    target: Decimal


def goal_applies(goal: Goal, period: Period, tenant: Tenant) -> bool:
    """A recurring goal gives the target of scorecards of its own period kind; a deadline goal
    of any period overlapping its days."""
    if goal.period:
        return goal.period == period.type
    assert goal.deadline is not None
    start = local_midnight(goal.start, tenant.tz)
    end = local_midnight(goal.deadline + timedelta(days=1), tenant.tz)
    return (period.end is None or start < period.end) and (
        period.start is None or end > period.start
    )


@dataclass
class TargetBook:
    """The goals that give scorecard targets, most specific first: the agent's own, then its
    team's and the teams above, then the tenant's; recurring before deadline, newest first."""

    by_agent: dict[tuple[int, str], Target] = field(default_factory=dict)
    by_team: dict[tuple[int, str], Target] = field(default_factory=dict)
    tenant: dict[str, Target] = field(default_factory=dict)
    parents: dict[int, int | None] = field(default_factory=dict)

    @classmethod
    def load(cls, tenant: Tenant, period: Period, parents: dict[int, int | None]) -> TargetBook:
        book = cls(parents=parents)
        goals = Goal.objects.for_tenant(tenant).filter(active=True).order_by("-created_at", "-id")
        # Recurring goals first (a stable sort keeps the newest first within each kind): the
        # first goal seen for a subject and KPI gives its target.
        applicable = sorted(
            (g for g in goals if goal_applies(g, period, tenant)), key=lambda g: not g.period
        )
        for goal in applicable:
            target = Target(goal.pk, goal.op, Decimal(goal.target))
            if goal.agent_id:
                book.by_agent.setdefault((goal.agent_id, goal.kpi), target)
            elif goal.team_id:
                book.by_team.setdefault((goal.team_id, goal.kpi), target)
            else:
                book.tenant.setdefault(goal.kpi, target)
        return book

    def for_team(self, team_id: int | None, code: str) -> Target | None:
        seen: set[int] = set()
        while team_id is not None and team_id not in seen:
            seen.add(team_id)
            if (found := self.by_team.get((team_id, code))) is not None:
                return found
            team_id = self.parents.get(team_id)
        return self.tenant.get(code)

    def for_agent(self, agent_id: int, team_id: int | None, code: str) -> Target | None:
        return self.by_agent.get((agent_id, code)) or self.for_team(team_id, code)


# --- the figures ----------------------------------------------------------------------------
@dataclass
class Figures:
    """Every KPI of many agents and of every team subtree over one period (bounded queries)."""

    agents: dict[int, dict[str, KpiValue]]
    teams: dict[int, dict[str, KpiValue]]  # by subtree root, only those asked for
    tenant: dict[str, KpiValue] | None


def figures(
    *,
    tenant: Tenant,
    catalogue: dict[str, CatalogueKpi],
    period: Period,
    agent_ids: set[int],
    team_roots: Iterable[int],
    children: dict[int | None, list[int]],
    timelines: Any,
    moves_count_as_leaving: bool,
    with_tenant: bool = False,
) -> Figures:
    agent_sums = agents_counter_sums(tenant=tenant, period=period, agent_ids=agent_ids)
    agent_metrics = subjects_metric_sums(tenant=tenant, period=period, agent_ids=agent_ids)
    zero = [0] * N_COUNTERS
    agents = {
        pk: values_from(
            catalogue, agent_sums.get(pk, zero), agent_metrics.get(pk, {}), subject="agent"
        )
        for pk in agent_ids
    }
    roots = list(team_roots)
    teams: dict[int, dict[str, KpiValue]] = {}
    tenant_values = None
    if roots or with_tenant:
        team_sums = teams_counter_sums(tenant=tenant, period=period)
        team_metrics = subjects_metric_sums(tenant=tenant, period=period)
        turnover_kpi = catalogue["turnover"]

        def subject_values(team_ids: set[int] | None) -> dict[str, KpiValue]:
            """A team subtree's figures; with None, the tenant's: every team's events and
            those of agents who had no team."""
            ids = team_ids if team_ids is not None else set(team_sums) | set(team_metrics)
            sums = [0] * N_COUNTERS
            metrics: dict[str, tuple[int, int]] = {}
            if team_ids is None:
                sums, metrics = teamless_sums(tenant=tenant, period=period)
            for pk in ids:
                for i, v in enumerate(team_sums.get(pk, ())):
                    sums[i] += v
                for code, (v, c) in team_metrics.get(pk, {}).items():
                    old = metrics.get(code, (0, 0))
                    metrics[code] = (old[0] + v, old[1] + c)
            turnover = turnover_value(
                tenant=tenant,
                team_ids=team_ids,
                period=period,
                kpi=turnover_kpi,
                moves_count_as_leaving=moves_count_as_leaving,
                timelines=timelines,
            )
            return values_from(catalogue, sums, metrics, subject="team", turnover=turnover)

        for root in roots:
            teams[root] = subject_values(subtree(children, root))
        if with_tenant:
            tenant_values = subject_values(None)
    return Figures(agents, teams, tenant_values)


@dataclass
class Card:
    """What a scorecard needs, loaded once for a period and its previous one."""

    tenant: Tenant
    period: Period
    previous: Period | None
    settings: Settings
    catalogue: dict[str, CatalogueKpi]
    children: dict[int | None, list[int]]
    parents: dict[int, int | None]
    targets: TargetBook
    now: Figures
    before: Figures | None

    @classmethod
    def load(
        cls,
        tenant: Tenant,
        period: Period,
        *,
        agent_ids: set[int],
        team_roots: set[int],
        with_tenant: bool = False,
    ) -> Card:
        settings = coaching_settings(tenant)
        catalogue = kpi_catalogue(tenant)
        parents: dict[int, int | None] = dict(
            Team.objects.for_tenant(tenant).values_list("id", "parent_id")
        )
        children = team_tree(tenant)
        wants_turnover = (team_roots or with_tenant) and "turnover" in settings.scorecard
        timelines = agent_timelines(tenant=tenant) if wants_turnover else {}
        previous = previous_period(period, tenant)
        common: dict[str, Any] = {
            "tenant": tenant,
            "catalogue": catalogue,
            "agent_ids": agent_ids,
            "team_roots": team_roots,
            "children": children,
            "timelines": timelines,
            "moves_count_as_leaving": settings.move_counts_as_leaving,
            "with_tenant": with_tenant,
        }
        return cls(
            tenant=tenant,
            period=period,
            previous=previous,
            settings=settings,
            catalogue=catalogue,
            children=children,
            parents=parents,
            targets=TargetBook.load(tenant, period, parents),
            now=figures(period=period, **common),
            before=figures(period=previous, **common) if previous is not None else None,
        )

    def kpis(self, subject: str) -> list[CatalogueKpi]:
        return scorecard_kpis(self.settings, self.catalogue, subject)

    def item(
        self,
        kpi: CatalogueKpi,
        value: KpiValue,
        previous: KpiValue | None,
        target: Target | None,
        *,
        team_average: KpiValue | None = None,
        percentile: float | None = None,
    ) -> dict[str, Any]:
        return {
            "code": kpi.code,
            "name": kpi.name,
            "unit": kpi.unit,
            "direction": kpi.direction,
            **value.as_dict(),
            "target": float(target.target) if target else None,
            "op": target.op if target else None,
            "goal": target.goal_id if target else None,
            "status": status_of(
                value,
                target.op if target else None,
                target.target if target else None,
                self.settings.close_band_percent,
            ),
            "previous": previous.value if previous else None,
            "trend": trend(value, previous),
            "team_average": team_average.value if team_average else None,
            "team_percentile": percentile,
        }

    def team_items(self, root: int | None) -> list[dict[str, Any]]:
        """A team's (or, with None, the tenant's) own row."""
        values = self.now.tenant if root is None else self.now.teams[root]
        before = None
        if self.before is not None:
            before = self.before.tenant if root is None else self.before.teams[root]
        items = []
        for kpi in self.kpis("team"):
            value = (values or {}).get(kpi.code)
            if value is None:
                continue
            target = (
                self.targets.tenant.get(kpi.code)
                if root is None
                else self.targets.for_team(root, kpi.code)
            )
            items.append(self.item(kpi, value, (before or {}).get(kpi.code), target))
        return items

    def agent_items(
        self, agent: Agent, group: Sequence[int], team_root: int | None
    ) -> list[dict[str, Any]]:
        """An agent's row: percentiles among `group` (the team's agents), the team average of
        `team_root` (the agent's team with its sub-teams)."""
        items = []
        team_values = self.now.teams.get(team_root) if team_root is not None else None
        for kpi in self.kpis("agent"):
            value = self.now.agents[agent.pk][kpi.code]
            before = self.before.agents[agent.pk][kpi.code] if self.before else None
            ranks = self._percentiles(kpi, tuple(group))
            items.append(
                self.item(
                    kpi,
                    value,
                    before,
                    self.targets.for_agent(agent.pk, agent.team_id, kpi.code),
                    team_average=(team_values or {}).get(kpi.code),
                    percentile=ranks.get(agent.pk),
                )
            )
        return items

    def _percentiles(self, kpi: CatalogueKpi, group: tuple[int, ...]) -> dict[int, float]:
        cache = self.__dict__.setdefault("_rank_cache", {})
        key = (kpi.code, group)
        if key not in cache:
            values = {}
            for pk in group:
                value = self.now.agents[pk][kpi.code]
                values[pk] = value.value if value.qualified else None
            cache[key] = percentiles(values, kpi.higher_is_better)
        return cache[key]


# --- points and badges ----------------------------------------------------------------------
def period_days(period: Period, tenant: Tenant) -> tuple[date | None, date | None]:
    """The local days a period covers, [first, after) (a custom window: the days it touches)."""
    tz = tenant.tz
    first = period.start.astimezone(tz).date() if period.start else None
    after = None
    if period.end is not None:
        after = (period.end - timedelta(microseconds=1)).astimezone(tz).date() + timedelta(days=1)
    return first, after


def points_and_badges(
    *, tenant: Tenant, period: Period, agent_ids: set[int]
) -> tuple[dict[int, int], dict[int, list[dict[str, Any]]]]:
    """{agent: points in the period}, {agent: badges awarded in it, latest first} (2 queries)."""
    first, after = period_days(period, tenant)
    rows = AgentDayPoints.objects.filter(tenant=tenant, agent_id__in=agent_ids)
    if first is not None:
        rows = rows.filter(day__gte=first)
    if after is not None:
        rows = rows.filter(day__lt=after)
    points = dict(
        rows.values("agent_id").annotate(total=Sum("points")).values_list("agent_id", "total")
    )
    awards = BadgeAward.objects.for_tenant(tenant).filter(agent_id__in=agent_ids)
    if period.start is not None:
        awards = awards.filter(awarded_at__gte=period.start)
    if period.end is not None:
        awards = awards.filter(awarded_at__lt=period.end)
    badges: dict[int, list[dict[str, Any]]] = {pk: [] for pk in agent_ids}
    for award in awards.select_related("badge").order_by("-awarded_at", "-id"):
        badges[award.agent_id].append(
            {
                "code": award.badge.code,
                "name": award.badge.name,
                "icon": award.badge.icon,
                "awarded_at": award.awarded_at.astimezone(tenant.tz).isoformat(),
            }
        )
    return {pk: int(points.get(pk) or 0) for pk in agent_ids}, badges


# --- the three scorecards -------------------------------------------------------------------
def _team_agents(tenant: Tenant, team_ids: set[int]) -> list[Agent]:
    return list(
        Agent.objects.for_tenant(tenant)
        .filter(team_id__in=team_ids, active=True)
        .select_related("team")
        .order_by("display_name", "external_id")
    )


def _agent_row(
    card: Card,
    agent: Agent,
    group: Sequence[int],
    root: int | None,
    points: dict[int, int],
    badges: dict[int, list[dict[str, Any]]],
) -> dict[str, Any]:
    return {
        "agent": agent.external_id,
        "display_name": agent.display_name,
        "team": agent.team.external_id if agent.team else None,
        "kpis": card.agent_items(agent, group, root),
        "points": points.get(agent.pk, 0),
        "badges": badges.get(agent.pk, []),
    }


def agent_scorecard(*, tenant: Tenant, agent: Agent, period: Period) -> dict[str, Any]:
    """One agent's scorecard: team average and percentile within the agent's current team
    (with its sub-teams); an agent without a team has neither."""
    children = team_tree(tenant)
    group_ids = subtree(children, agent.team_id) if agent.team_id else set()
    members = [a.pk for a in _team_agents(tenant, group_ids)] if group_ids else []
    group = sorted(set(members) | {agent.pk})
    roots = {agent.team_id} if agent.team_id else set()
    card = Card.load(tenant, period, agent_ids=set(group), team_roots=roots)
    points, badges = points_and_badges(tenant=tenant, period=period, agent_ids={agent.pk})
    return {
        "period": period.as_dict(tenant.tz),
        **_agent_row(card, agent, group, agent.team_id, points, badges),
    }


def sort_rows(
    rows: list[dict[str, Any]],
    sort: str,
    catalogue: Mapping[str, CatalogueKpi],
    codes: Sequence[str],
) -> list[dict[str, Any]]:
    """`sort`: name, points, or a scorecard KPI code (best first; `-code` worst first);
    agents not qualified for the KPI come last either way."""
    reverse = sort.startswith("-")
    key = sort.removeprefix("-")
    if key == "name":
        return sorted(rows, key=lambda r: (r["display_name"], r["agent"]), reverse=reverse)
    if key == "points":
        return sorted(rows, key=lambda r: (-r["points"], r["display_name"]), reverse=reverse)
    if key not in codes:
        raise InvalidInputError(
            {"sort": f"Must be name, points or a scorecard KPI: {', '.join(codes)}."}
        )
    better = catalogue[key].higher_is_better

    def value(row: dict[str, Any]) -> float | None:
        item = next(i for i in row["kpis"] if i["code"] == key)
        return item["value"] if item["qualified"] else None

    ranked = [r for r in rows if value(r) is not None]
    unranked = [r for r in rows if value(r) is None]
    ranked.sort(key=lambda r: (value(r), r["display_name"]), reverse=better != reverse)
    return ranked + unranked


def team_scorecard(
    *, tenant: Tenant, team: Team, period: Period, sort: str = "name"
) -> dict[str, Any]:
    """A team's own row (sub-teams and team-level events included, turnover with it) and a row
    per active agent of the team and its sub-teams."""
    children = team_tree(tenant)
    team_ids = subtree(children, team.pk)
    agents = _team_agents(tenant, team_ids)
    group = sorted(a.pk for a in agents)
    card = Card.load(tenant, period, agent_ids=set(group), team_roots={team.pk})
    points, badges = points_and_badges(tenant=tenant, period=period, agent_ids=set(group))
    rows = [_agent_row(card, a, group, team.pk, points, badges) for a in agents]
    codes = [k.code for k in card.kpis("agent")]
    return {
        "period": period.as_dict(tenant.tz),
        "team": {
            "external_id": team.external_id,
            "name": team.name,
            "kpis": card.team_items(team.pk),
        },
        "sort": sort,
        "agents": sort_rows(rows, sort, card.catalogue, codes),
    }


def tenant_scorecard(*, tenant: Tenant, period: Period) -> dict[str, Any]:
    """The tenant's own row (every event: its teams' and those of agents without a team;
    turnover of all agents) and a row per team (with its sub-teams)."""
    teams = list(Team.objects.for_tenant(tenant).order_by("name", "external_id"))
    external = {t.pk: t.external_id for t in teams}
    card = Card.load(
        tenant, period, agent_ids=set(), team_roots={t.pk for t in teams}, with_tenant=True
    )
    return {
        "period": period.as_dict(tenant.tz),
        "tenant": {"name": tenant.name, "kpis": card.team_items(None)},
        "teams": [
            {
                "external_id": t.external_id,
                "name": t.name,
                "parent": external.get(t.parent_id) if t.parent_id else None,
                "kpis": card.team_items(t.pk),
            }
            for t in teams
        ],
    }
