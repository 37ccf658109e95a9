"""Boards: who stands where on a metric over a window, computed from SQL.

A `Board` is a metric (points or a KPI) over a window (a period, or a contest's window) for
agents or teams, optionally limited to participants, with a minimum volume and guardrails.
`standings` evaluates it from the buckets; `rank` orders the result. The Redis copy
(live.py) stores exactly these standings under exactly this order, so both answer alike.

Order (API.md): by value in the KPI's direction; ties share a rank (1, 2, 2, 4) and are
listed by higher volume, then display name. The tie-break is encoded once, in `member`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from django.db.models import Sum

from accounts.models import Agent, Team, Tenant
from accounts.selectors import subtree, team_tree
from gamify.game.engine import meets
from gamify.game.models import AgentDayPoints
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import BUILTIN, N_COUNTERS, KpiValue, builtin_value
from kpis.selectors import counter_sums_by_subject, custom_value, metric_sums_by_subject

# A member starts with the volume in thousandths, inverted around this offset in 16 digits,
# so that a higher volume sorts first — negative ones too: an agent's points (the volume of a
# points board) go below zero with a manual adjustment.
VOLUME_OFFSET_E3 = 5 * 10**15
_LOWEST_E3 = VOLUME_OFFSET_E3 - (10**16 - 1)
NAME_KEY_LENGTH = 40


@dataclass(frozen=True)
class Guardrail:
    kpi: str
    op: str
    value: Decimal


@dataclass(frozen=True)
class Board:
    tenant: Tenant
    key: str  # names the board in Redis ("points:day:2026-11-23", "contest:42")
    metric: str  # "points" or a KPI code
    start: datetime | None  # window [start, end); None = open-ended ("all")
    end: datetime | None
    entity: str = "agent"  # or "team"
    agent_ids: frozenset[int] | None = None  # participants (None: every active agent)
    team_ids: frozenset[int] | None = None  # participants' teams, sub-teams included
    min_volume: Decimal | None = None  # None: the KPI's own minimum volume
    guardrails: tuple[Guardrail, ...] = ()

    @property
    def day_aligned(self) -> bool:
        tz = self.tenant.tz
        return all(
            t is None or t.astimezone(tz).time() == datetime.min.time()
            for t in (self.start, self.end)
        )

    def days(self) -> tuple[date | None, date | None]:
        tz = self.tenant.tz
        return (
            self.start.astimezone(tz).date() if self.start else None,
            self.end.astimezone(tz).date() if self.end else None,
        )


@dataclass(slots=True)
class Standing:
    entity_id: int
    external_id: str
    name: str
    value: float | None
    volume: Decimal
    qualified: bool
    reason: str = ""
    member: str = ""
    score: float = 0.0
    rank: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=65_536)
def name_key(name: str) -> str:
    return name.casefold().replace("|", "/")[:NAME_KEY_LENGTH]


def member(entity_id: int, name: str, volume: Decimal) -> str:
    """The tie-break as a string whose byte order is the listing order: higher volume first,
    then display name (case-insensitive), then id. Redis orders equal scores by member."""
    thousandths = int(volume) * 1000 if volume == volume.to_integral_value() else int(volume * 1000)
    inverted = VOLUME_OFFSET_E3 - max(_LOWEST_E3, min(VOLUME_OFFSET_E3, thousandths))
    return f"{inverted:016d}|{name_key(name)}|{entity_id}"


def plain_number(value: Decimal | float | int) -> int | float:
    """A whole number as an int (3, not 3.0), else a float."""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return int(value) if value == value.to_integral_value() else float(value)


def entity_of(member_string: str) -> int:
    return int(member_string.rsplit("|", 1)[1])


def score_of(value: float, higher_is_better: bool) -> float:
    """Ascending score: the best entry has the lowest score."""
    return -value if higher_is_better else value


def higher_is_better(board: Board, catalogue: Mapping[str, CatalogueKpi] | None = None) -> bool:
    """The metric's direction; built-in KPIs and points need no database."""
    if board.metric == "points":
        return True
    formula = BUILTIN.get(board.metric)
    if formula is not None:
        return formula.direction == "higher_is_better"
    catalogue = catalogue if catalogue is not None else kpi_catalogue(board.tenant)
    return catalogue[board.metric].higher_is_better


# --- sums from the buckets (read through kpis.selectors, the one bucket-read API) ----------
def board_counter_sums(
    board: Board, ids: Iterable[int] | None, entity: str
) -> dict[int, list[int]]:
    """{agent or team id: Σ of every counter} over the board's window."""
    return counter_sums_by_subject(
        tenant_id=board.tenant.pk,
        entity=entity,
        start=board.start,
        end=board.end,
        tz=board.tenant.tz,
        by_day=board.day_aligned,
        ids=ids,
    )


def board_metric_sums(
    board: Board, ids: Iterable[int] | None, entity: str, code: str
) -> dict[int, tuple[int, int]]:
    """{agent or team id: (Σ value_e4, Σ count_e4)} of a custom KPI over the board's window."""
    return metric_sums_by_subject(
        tenant_id=board.tenant.pk,
        entity=entity,
        kpi=code,
        start=board.start,
        end=board.end,
        ids=ids,
    )


def points_sums(board: Board, agent_ids: Iterable[int] | None) -> dict[int, int]:
    rows = AgentDayPoints.objects.filter(tenant=board.tenant)
    if agent_ids is not None:
        rows = rows.filter(agent_id__any=agent_ids)
    first, after = board.days()
    if first is not None:
        rows = rows.filter(day__gte=first)
    if after is not None:
        rows = rows.filter(day__lt=after)
    return dict(rows.values("agent_id").annotate(t=Sum("points")).values_list("agent_id", "t"))


def kpi_values(
    board: Board,
    kpi: CatalogueKpi,
    ids: Iterable[int] | None,
    entity: str,
    sums: dict[int, list[int]] | None = None,
) -> dict[int, KpiValue]:
    if kpi.formula is not None:
        sums = sums if sums is not None else board_counter_sums(board, ids, entity)
        return {i: builtin_value(kpi.formula, s, kpi.min_volume) for i, s in sums.items()}
    return {
        i: custom_value(kpi, v, c)
        for i, (v, c) in board_metric_sums(board, ids, entity, kpi.code).items()
    }


# --- who takes part -------------------------------------------------------------------------
def participants(board: Board) -> dict[int, tuple[str, str]]:
    """{entity id: (external id, display name)} of the board's possible entries."""
    if board.entity == "team":
        teams = Team.objects.for_tenant(board.tenant)
        if board.team_ids is not None:
            teams = teams.filter(pk__in=board.team_ids)
        return {pk: (ext, name) for pk, ext, name in teams.values_list("id", "external_id", "name")}
    agents = Agent.objects.for_tenant(board.tenant).filter(active=True)
    if board.agent_ids is not None or board.team_ids is not None:
        children = team_tree(board.tenant) if board.team_ids else {}
        in_teams: set[int] = set().union(*(subtree(children, t) for t in board.team_ids or ()))
        condition_ids = set(board.agent_ids or ())
        agents = agents.filter(pk__in=condition_ids) | agents.filter(team_id__in=in_teams)
    return {
        pk: (ext, name) for pk, ext, name in agents.values_list("id", "external_id", "display_name")
    }


# --- standings ------------------------------------------------------------------------------
def standings(board: Board, *, only: Iterable[int] | None = None) -> list[Standing]:
    """Every entity with activity in the window (or only those given), qualified or not."""
    catalogue = kpi_catalogue(board.tenant)
    people = participants(board)
    if board.entity == "team":
        team_ids = set(people) if only is None else set(only) & set(people)
        return _team_standings(board, catalogue, people, team_ids)
    # Filter by id only for a subset: for a whole tenant a join-free scan is cheaper than an
    # IN list of every agent, and inactive agents are dropped below.
    everyone = only is None and board.agent_ids is None and board.team_ids is None
    ids = None if everyone else (set(people) if only is None else set(only) & set(people))
    better = higher_is_better(board, catalogue)
    out: list[Standing] = []
    if board.metric == "points":
        for agent, points in points_sums(board, ids).items():
            if agent in people:
                who = people[agent]
                out.append(standing_of(agent, who, float(points), Decimal(points), True, better))
        return out
    kpi = catalogue[board.metric]
    values = kpi_values(board, kpi, ids, "agent")
    guard = _guardrail_values(board, catalogue, ids, "agent") if board.guardrails else {}
    minimum = kpi.min_volume if board.min_volume is None else board.min_volume
    for agent, value in values.items():
        if agent not in people:
            continue
        volume = Decimal(str(value.volume))
        if volume <= 0:
            continue  # no activity: in neither list
        qualified, reason = qualifies(board, value, volume, minimum, guard.get(agent, {}))
        out.append(
            standing_of(agent, people[agent], value.value, volume, qualified, better, reason)
        )
    return out


def qualifies(
    board: Board,
    value: KpiValue,
    volume: Decimal,
    minimum: Decimal,
    guard: dict[str, KpiValue],
) -> tuple[bool, str]:
    if value.value is None:
        return False, "no value"
    if volume < minimum:
        return False, f"volume {volume.normalize():f} under the minimum {minimum.normalize():f}"
    for rail in board.guardrails:
        rail_value = guard.get(rail.kpi)
        shown = rail_value.value if rail_value else None
        if not meets(shown, rail.op, rail.value):
            return False, guardrail_reason(rail, shown)
    return True, ""


# What a KPI's volume counts, by the counter its denominator starts with: the words for "no
# value yet" in a guardrail's reason.
VOLUME_NOUNS = {
    "answered": "answered contacts",
    "offered": "offered contacts",
    "attempts": "contacts",
    "fcr_known": "contacts with a known resolution",
    "csat_responses": "surveys",
    "nps_responses": "surveys",
    "ces_responses": "surveys",
    "qa_evaluations": "evaluations",
    "scheduled_ms": "scheduled time",
    "save_attempts": "save attempts",
}


def guardrail_reason(rail: Guardrail, value: float | None) -> str:
    """Why an entry fails a guardrail, for a person: "csat 72.5 is below 80", or "needs csat ≥ 80
    (no surveys yet)" while the guardrail's KPI has no value."""
    target = plain_number(rail.value)
    if value is None:
        formula = BUILTIN.get(rail.kpi)
        counter = formula.denominator[0][0] if formula and formula.denominator else ""
        symbol = "≥" if rail.op == ">=" else "≤"
        return f"needs {rail.kpi} {symbol} {target} (no {VOLUME_NOUNS.get(counter, 'data')} yet)"
    side = "below" if rail.op == ">=" else "above"
    return f"{rail.kpi} {plain_number(value)} is {side} {target}"


def _guardrail_values(
    board: Board, catalogue: dict[str, CatalogueKpi], ids: set[int] | None, entity: str
) -> dict[int, dict[str, KpiValue]]:
    out: dict[int, dict[str, KpiValue]] = defaultdict(dict)
    sums = board_counter_sums(board, ids, entity)
    for rail in board.guardrails:
        kpi = catalogue[rail.kpi]
        for entity_id, value in kpi_values(board, kpi, ids, entity, sums=sums).items():
            out[entity_id][rail.kpi] = value
    return out


def standing_of(
    entity_id: int,
    who: tuple[str, str],
    value: float | None,
    volume: Decimal,
    qualified: bool,
    better: bool,
    reason: str = "",
) -> Standing:
    standing = Standing(entity_id, who[0], who[1], value, volume, qualified, reason)
    standing.member = member(entity_id, who[1], volume)
    standing.score = score_of(value, better) if qualified and value is not None else float(-volume)
    return standing


def _team_standings(
    board: Board,
    catalogue: dict[str, CatalogueKpi],
    people: dict[int, tuple[str, str]],
    ids: set[int] | None,
) -> list[Standing]:
    """Teams on the ratio of the sums of their subtree (or on their agents' points)."""
    children = team_tree(board.tenant)
    subtrees = {team: subtree(children, team) for team in (ids if ids is not None else people)}
    better = higher_is_better(board, catalogue)
    out: list[Standing] = []
    if board.metric == "points":
        agent_team = dict(
            Agent.objects.for_tenant(board.tenant)
            .filter(active=True, team__isnull=False)
            .values_list("id", "team_id")
        )
        points = points_sums(board, agent_team.keys())
        per_team: dict[int, int] = defaultdict(int)
        present: set[int] = set()
        for agent, total in points.items():
            per_team[agent_team[agent]] += total
            present.add(agent_team[agent])
        for team, members in subtrees.items():
            if members & present:
                total = sum(per_team[t] for t in members)
                out.append(
                    standing_of(team, people[team], float(total), Decimal(total), True, better)
                )
        return out
    kpi = catalogue[board.metric]
    if kpi.formula is None:
        raw = board_metric_sums(board, None, "team", kpi.code)
    else:
        raw_counters = board_counter_sums(board, None, "team")
    minimum = kpi.min_volume if board.min_volume is None else board.min_volume
    for team, members in subtrees.items():
        if kpi.formula is None:
            v = sum(raw.get(t, (0, 0))[0] for t in members)
            c = sum(raw.get(t, (0, 0))[1] for t in members)
            value = custom_value(kpi, v, c)
            guard: dict[str, KpiValue] = {}
        else:
            summed = [0] * N_COUNTERS
            for t in members:
                for i, x in enumerate(raw_counters.get(t, ())):
                    summed[i] += x
            value = builtin_value(kpi.formula, summed, kpi.min_volume)
            guard = {
                rail.kpi: builtin_value(catalogue[rail.kpi].formula, summed, Decimal(0))  # type: ignore[arg-type]
                for rail in board.guardrails
                if catalogue[rail.kpi].formula is not None
            }
        volume = Decimal(str(value.volume))
        if volume <= 0:
            continue
        qualified, reason = qualifies(board, value, volume, minimum, guard)
        out.append(standing_of(team, people[team], value.value, volume, qualified, better, reason))
    return out


def rank(entries: Sequence[Standing]) -> tuple[list[Standing], list[Standing]]:
    """(ranked qualified entries, not-qualified entries), each in listing order."""
    qualified = sorted((e for e in entries if e.qualified), key=lambda e: (e.score, e.member))
    previous: float | None = None
    for position, entry in enumerate(qualified, start=1):
        if entry.score != previous:
            entry.rank, previous = position, entry.score
        else:
            entry.rank = qualified[position - 2].rank
    not_qualified = sorted(
        (e for e in entries if not e.qualified), key=lambda e: (e.score, e.member)
    )
    return qualified, not_qualified
