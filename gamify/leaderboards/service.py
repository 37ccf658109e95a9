"""Leaderboards: answered from Redis for current periods, from SQL for everything else.

* `leaderboard(...)` answers GET /leaderboards: the live board when Redis has it (current day,
  week or month, tenant scope, agents), else SQL over the buckets — the same standings either
  way (a test compares them on random data).
* `boards_refresh(...)` keeps the live boards: called by the apply task after points were
  recomputed, it *sets* the touched agents' entries from recomputed values.
* `board_populate(...)` fills a whole live board (cold start, flush, rebuild).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

from accounts.models import Agent, Team, Tenant
from accounts.selectors import team_descendants
from core.errors import InvalidInputError
from gamify.leaderboards import live, tasks  # tasks: a module, it calls back in here
from gamify.leaderboards.boards import (
    Board,
    Standing,
    board_counter_sums,
    board_metric_sums,
    higher_is_better,
    plain_number,
    points_sums,
    qualifies,
    rank,
    standing_of,
    standings,
)
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import BUILTIN, builtin_value
from kpis.periods import Period, local_today, period_of
from kpis.selectors import custom_value

LIVE_KINDS = ("day", "week", "month")
AROUND = 2


def period_board(
    tenant: Tenant, metric: str, period: Period, *, entity: str = "agent", **filters: Any
) -> Board:
    start = period.start.astimezone(tenant.tz).date().isoformat() if period.start else "all"
    key = f"{metric}:{period.type}:{start}"
    if period.type == "custom":
        key = f"{metric}:custom:{period.start}:{period.end}"
    return Board(
        tenant=tenant,
        key=key,
        metric=metric,
        start=period.start,
        end=period.end,
        entity=entity,
        **filters,
    )


def live_metrics(catalogue: Mapping[str, CatalogueKpi]) -> list[str]:
    """The metrics kept live: points and every KPI measured per agent."""
    return ["points"] + [
        code
        for code, kpi in catalogue.items()
        if kpi.formula is None or "agent" in kpi.formula.scopes
    ]


def current_periods(tenant: Tenant) -> list[Period]:
    today = local_today(tenant)
    return [period_of(kind, today, tenant) for kind in LIVE_KINDS]


def _is_live(period: Period, tenant: Tenant) -> bool:
    return period.type in LIVE_KINDS and period in current_periods(tenant)


# --- reads ----------------------------------------------------------------------------------
def leaderboard(
    *,
    tenant: Tenant,
    metric: str,
    period: Period,
    scope: str = "tenant",
    entity: str = "agent",
    limit: int = 10,
    around: str | None = None,
) -> dict[str, Any]:
    """A board as API.md shapes it; `around` is an agent's external id."""
    # Built-in KPIs and points are known without the database: a live board costs no query.
    if metric == "points" or metric in BUILTIN:
        scopes = BUILTIN[metric].scopes if metric in BUILTIN else ("agent", "team")
    else:
        custom = kpi_catalogue(tenant).get(metric)
        if custom is None:
            raise InvalidInputError({"metric": f"Use points or a KPI code (unknown {metric!r})."})
        scopes = ("agent", "team")
    if entity not in scopes:
        raise InvalidInputError({"metric": f"{metric} is not measured per {entity}."})
    filters: dict[str, Any] = {}
    if scope != "tenant":
        prefix, _, external_id = scope.partition(":")
        if prefix != "team" or not external_id:
            raise InvalidInputError({"scope": "Use tenant or team:<external id>."})
        team = Team.objects.for_tenant(tenant).filter(external_id=external_id).first()
        if team is None:
            raise InvalidInputError({"scope": f"No team {external_id!r}."})
        subtree = team_descendants(tenant=tenant, team_id=team.pk)
        if entity == "team":
            filters["team_ids"] = frozenset(subtree - {team.pk})
        else:
            filters["team_ids"] = frozenset({team.pk})
    board = period_board(tenant, metric, period, entity=entity, **filters)
    better = higher_is_better(board)
    body = {"source": "sql", "metric": metric, "period": period.as_dict(tenant.tz)}
    if entity == "agent" and scope == "tenant" and _is_live(period, tenant) and live.available():
        reply = live.read(board, limit=limit, better=better, around=around, around_size=AROUND)
        if reply is not None:
            entries, nearby_rows, unranked_rows = reply.rows(entity)
            return {**body, "source": "live", "entries": entries, "around": nearby_rows,
                    "not_qualified": unranked_rows}  # fmt: skip
        populate_later(board, lambda: _populate_board(board))
    ranked, not_qualified = rank(standings(board))
    nearby: list[Standing] = []
    if around is not None:
        position = next((i for i, e in enumerate(ranked) if e.external_id == around), None)
        if position is not None:
            nearby = ranked[max(0, position - AROUND) : position + AROUND + 1]
    return {
        **body,
        "entries": [entry_row(e, entity) for e in ranked[:limit]],
        "around": [entry_row(e, entity) for e in nearby],
        "not_qualified": [entry_row(e, entity, reason=True) for e in not_qualified[:limit]],
    }


def entry_row(entry: Standing, entity: str, *, reason: bool = False) -> dict[str, Any]:
    row: dict[str, Any] = {
        "rank": entry.rank,
        entity: entry.external_id,
        "display_name": entry.name,
        "value": plain_number(entry.value) if entry.value is not None else None,
        "volume": plain_number(entry.volume),
    }
    if reason:
        row.pop("rank")
        row["reason"] = entry.reason
    return row


def populate_later(board: Board, enqueue: Callable[[], Any]) -> None:
    """Have a worker fill a board that is not live yet: the tenant's next apply run, or the
    task `enqueue` queues (once however many read the board meanwhile) if that comes first.

    The fill runs under the tenant's apply lock: a fill computed here, in the web process,
    could land after a refresh computed later and leave the board behind the truth. Under
    sustained ingestion an apply run holds that lock group after group, and every worker can
    be busy applying, so the task alone waited until ingestion paused; the run fills the board
    after its next group instead (`boards_fill_wanted`).
    """
    with live.tolerated(f"populating {live.board_key(board)}"):
        if live.want(board):
            enqueue()


def _populate_board(board: Board) -> None:
    tasks.populate_board.delay(board.tenant.pk, board.metric, board.key.split(":")[1])


# --- writes ---------------------------------------------------------------------------------
def current_board(tenant: Tenant, metric: str, kind: str) -> Board:
    """The board of the current day, week or month (`kind`), in the tenant's zone."""
    return period_board(tenant, metric, period_of(kind, local_today(tenant), tenant))


def board_fill(board: Board, *, unless_live: bool = False) -> int | None:
    """Fill a live board from SQL; the caller holds the apply lock. Returns its number of
    entries, or None when `unless_live` and it is live already."""
    if unless_live and live.is_ready(board):
        return None
    entries = standings(board)
    live.write(board, entries, full=True)
    return len(entries)


def board_populate(*, tenant: Tenant, metric: str, kind: str) -> int:
    """Fill a current period's live board from SQL; returns its number of entries."""
    return board_fill(current_board(tenant, metric, kind)) or 0


def boards_fill_wanted(*, tenant: Tenant, keys: Iterable[str]) -> int:
    """Fill the current period boards among `keys` (live.wanted_take) that are still not
    live; the caller holds the apply lock. Returns entries written."""
    metrics = set(live_metrics(kpi_catalogue(tenant)))
    written = 0
    for key in keys:
        metric, _, rest = key.partition(":")
        kind = rest.partition(":")[0]
        if metric not in metrics or kind not in LIVE_KINDS:
            continue  # a contest's, a KPI since deleted, or not a current period's kind
        board = current_board(tenant, metric, kind)
        if board.key == key:  # the period has not turned since the read
            written += board_fill(board, unless_live=True) or 0
    return written


def boards_populate_all(*, tenant: Tenant, only_live: bool = True) -> int:
    """Refill the tenant's live boards from SQL (after a rebuild or a settings recompute);
    `only_live=False` fills every current board, read or not. Returns entries written."""
    if not live.available():
        return 0
    catalogue = kpi_catalogue(tenant)
    periods = {kind: period_of(kind, local_today(tenant), tenant) for kind in LIVE_KINDS}
    wanted = [(metric, kind) for metric in live_metrics(catalogue) for kind in LIVE_KINDS]
    if only_live:
        boards = [period_board(tenant, metric, periods[kind]) for metric, kind in wanted]
        wanted = [pair for pair, ready in zip(wanted, live.ready(boards), strict=True) if ready]
    return sum(board_populate(tenant=tenant, metric=metric, kind=kind) for metric, kind in wanted)


def boards_refresh(*, tenant: Tenant, agent_days: Mapping[int, Iterable[date]]) -> int:
    """Set the live entries of agents whose current periods changed. Returns entries written.

    Only boards that are live — populated in full, because somebody read them — are kept:
    a board nobody asked for costs nothing, and its first read fills it from SQL. Points boards
    go first (what agents watch most); one query per period kind then gives the KPI sums every
    live KPI board is derived from, so the cost does not grow with the number of KPIs.
    """
    if not live.available() or not agent_days:
        return 0
    catalogue = kpi_catalogue(tenant)
    periods = current_periods(tenant)
    boards = [
        [_metric_board(period_board(tenant, "points", period), metric) for metric in
         live_metrics(catalogue)]
        for period in periods
    ]  # fmt: skip
    ready = iter(live.ready([board for row in boards for board in row]))
    kept = [[board for board in row if next(ready)] for row in boards]
    if not any(kept):
        return 0
    people = {
        pk: (ext, name, active)
        for pk, ext, name, active in Agent.objects.for_tenant(tenant)
        .filter(pk__any=agent_days)
        .values_list("id", "external_id", "display_name", "active")
    }
    written = 0
    for period, row in zip(periods, kept, strict=True):
        assert period.start is not None
        assert period.end is not None
        first = period.start.astimezone(tenant.tz).date()
        after = period.end.astimezone(tenant.tz).date()
        ids = {
            agent
            for agent, days in agent_days.items()
            if agent in people and any(first <= d < after for d in days)
        }
        if not ids or not row:
            continue
        gone = {a for a in ids if not people[a][2]}
        ids -= gone
        points: dict[int, int] = {}
        sums: dict[int, list[int]] | None = None
        for board in row:  # points first: live_metrics lists it first
            if board.metric == "points":
                points = points_sums(board, ids)
            elif sums is None:
                sums = board_counter_sums(board, ids, "agent")
            if gone:
                live.remove(board, gone)
            entries = _entries_from_sums(
                board, catalogue, board.metric, ids, people, sums or {}, points
            )
            missing = ids - {e.entity_id for e in entries}
            if missing:
                live.remove(board, missing)
            live.write(board, entries, full=False)
            written += len(entries)
    return written


def _metric_board(points_board: Board, metric: str) -> Board:
    return replace(points_board, metric=metric, key=points_board.key.replace("points", metric, 1))


def _entries_from_sums(
    board: Board,
    catalogue: Mapping[str, CatalogueKpi],
    metric: str,
    ids: set[int],
    people: Mapping[int, tuple[str, str, bool]],
    sums: Mapping[int, list[int]],
    points: Mapping[int, int],
) -> list[Standing]:
    better = higher_is_better(board, dict(catalogue))
    out: list[Standing] = []
    if metric == "points":
        for agent in ids:
            if agent in points:
                total = points[agent]
                who = people[agent][:2]
                out.append(standing_of(agent, who, float(total), Decimal(total), True, better))
        return out
    kpi = catalogue[metric]
    if kpi.formula is None:
        values = {
            a: custom_value(kpi, v, c)
            for a, (v, c) in board_metric_sums(board, ids, "agent", metric).items()
        }
    else:
        values = {a: builtin_value(kpi.formula, s, kpi.min_volume) for a, s in sums.items()}
    for agent, value in values.items():
        volume = Decimal(str(value.volume))
        if volume <= 0 or agent not in ids:
            continue
        qualified, reason = qualifies(board, value, volume, kpi.min_volume, {})
        who = people[agent][:2]
        out.append(standing_of(agent, who, value.value, volume, qualified, better, reason))
    return out


def agent_rank(*, tenant: Tenant, agent: Agent, metric: str, period: Period) -> int | None:
    """An agent's rank on a board (None when not ranked): live when Redis has the board."""
    board = leaderboard(
        tenant=tenant, metric=metric, period=period, limit=1, around=agent.external_id
    )
    mine = next((e for e in board["around"] if e["agent"] == agent.external_id), None)
    return mine["rank"] if mine else None
