"""What each widget page shows, read through the game's own selectors and services.

Pages call one function each and render its plain dict; nothing here writes. Other agents
are named only through `Names`, so the tenant's anonymization applies everywhere at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import Agent, Team, Tenant
from accounts.selectors import team_descendants
from gamify.activity.selectors import activity_list
from gamify.contests.models import Contest
from gamify.contests.selectors import (
    RunningContests,
    agent_contest_boards,
    agent_contest_rank,
    running_contests,
    standings_body,
)
from gamify.game.engine import level_table
from gamify.game.models import PointRule
from gamify.game.selectors import AgentGame, AwardLine, agent_game, period_days
from gamify.leaderboards import live
from gamify.leaderboards.boards import Board
from gamify.leaderboards.service import agent_rank, current_periods, leaderboard, period_board
from gamify.profile import PROFILE_BADGES, agent_own
from gamify.wallet.selectors import redemption_list, reward_list, wallet_balance
from gamify.widgets.models import anonymize_others
from kpis.catalogue import kpi_catalogue
from kpis.formulas import COUNTERS
from kpis.periods import local_today, period_of
from kpis.selectors import agent_day_counters, agent_day_metrics, team_kpis, values_from

BOARD_METRICS = ("points",)
BOARD_PERIODS = ("day", "week", "month")
TOP = 10
TICKER = 12
CELEBRATED = ("badge.awarded", "level.up", "contest.won")


@dataclass
class Names:
    """How rows of other agents are labelled: their name, or 'Agent #n' when anonymized."""

    anonymous: bool
    me: int | None = None
    numbers: dict[str, int] = field(default_factory=dict)

    def row(self, external_id: str, name: str, *, number: int, my_external_id: str | None) -> dict:
        mine = my_external_id is not None and external_id == my_external_id
        if mine or not self.anonymous:
            return {"name": name, "me": mine, "anonymous": False, "number": None}
        return {"name": None, "me": False, "anonymous": True, "number": number}


# --- the agent card -------------------------------------------------------------------------
# Running contests are re-read at most this often per process (and whenever the tenant's epoch
# stamp moves: a contest saved), so a polled card reads its standings from Redis alone.
RUNNING_SECONDS = 2.0
_running: dict[int, tuple[float, int, RunningContests]] = {}


# The tenant's KPI catalogue and level table, which a card's own part reads (three queries of
# its dozen), are kept this long per process and epoch: under ingestion hundreds of open cards
# re-read their own part every few seconds. What no stamp follows (a KPI or level edited in the
# admin) shows within the own part's cache time plus this.
TABLES_SECONDS = 2.0
_tables: dict[int, tuple[float, int, dict[str, Any], list[tuple[int, str, int]]]] = {}
# The agent's contest wins per epoch (a contest finished bumps it), when the caller knows it.
_wins_kept: dict[tuple[int, int, int], int] = {}


def agent_card(*, tenant: Tenant, agent: Agent, epoch: int = 0) -> dict[str, Any]:
    return {
        **card_own(tenant=tenant, agent=agent),
        **card_standings(tenant=tenant, agent=agent, epoch=epoch),
    }


def _tenant_tables(tenant: Tenant, epoch: int) -> tuple[dict[str, Any], list[tuple[int, str, int]]]:
    now = time.monotonic()
    kept = _tables.get(tenant.pk)
    if kept is None or kept[1] != epoch or now - kept[0] >= TABLES_SECONDS:
        kept = (now, epoch, kpi_catalogue(tenant), level_table(tenant))
        _tables[tenant.pk] = kept
    return kept[2], kept[3]


def card_own(*, tenant: Tenant, agent: Agent, epoch: int | None = None) -> dict[str, Any]:
    """What only the agent's own changes move (points, level, badges, wallet, the statement):
    the part of a card a page may keep while the agent's version stamp stays the same.
    `epoch`: the tenant's epoch stamp when the caller read it (versions.py), which lets the
    tenant's tables and the agent's wins be kept in this process."""
    catalogue, levels = _tenant_tables(tenant, epoch or 0)
    game = agent_game(
        tenant=tenant, agent_id=agent.pk, badges=PROFILE_BADGES, window=period_days(tenant, "week")
    )
    data = agent_own(tenant=tenant, agent=agent, levels=levels, game=game)
    level = data["level"]
    lifetime = data["points"]["lifetime"]
    progress = 100
    if level["next_min_points"] is not None:
        span = max(1, level["next_min_points"] - level["min_points"])
        progress = max(0, min(100, math.floor(100 * (lifetime - level["min_points"]) / span)))
    return {
        **data,
        "avatar_url": agent.avatar_url,
        "level": {**level, "progress": progress},
        "badges": data["badges"][:6],
        "badge_count": len(data["badges"]),
        "why": points_statement(tenant=tenant, agent=agent, catalogue=catalogue, game=game),
        "wins": _wins(tenant, agent, epoch),
    }


def card_boards(*, tenant: Tenant, agent: Agent) -> list[Board]:
    """The boards a card's standings are read from, as this process last knew the running
    contests: for a caller reading their ranks in the same round trip as other keys, before it
    knows the epoch (`card_standings` reads again when they turn out to be others)."""
    periods = [p for p in current_periods(tenant) if p.type in ("day", "week")]
    kept = _running.get(tenant.pk)
    entered = agent_contest_boards(agent=agent, running=kept[2]) if kept else []
    return [*(period_board(tenant, "points", p) for p in periods), *(b for _, b in entered)]


def card_standings(
    *,
    tenant: Tenant,
    agent: Agent,
    epoch: int = 0,
    read: tuple[list[Board], list[int | None]] | None = None,
) -> dict[str, Any]:
    """What other agents' events move on a card, as it shows them: its ranks today and this
    week and its running contests with its rank. One Redis round trip for every board (no
    query while Redis has them and the running contests were read in the last
    RUNNING_SECONDS): cheap enough to recompute on every poll that follows another agent's
    change. `read`: (boards, their ranks) the caller already read (`card_boards`), used when
    they are the boards wanted."""
    now = time.monotonic()
    kept = _running.get(tenant.pk)
    if kept is not None and kept[1] == epoch and now - kept[0] < RUNNING_SECONDS:
        running = kept[2]
    else:
        running = running_contests(tenant=tenant)
        _running[tenant.pk] = (now, epoch, running)
    periods = [p for p in current_periods(tenant) if p.type in ("day", "week")]
    boards = [period_board(tenant, "points", p) for p in periods]
    entered = agent_contest_boards(agent=agent, running=running)
    wanted = [*boards, *(board for _, board in entered)]
    if read is not None and live.ranks_keys(read[0]) == live.ranks_keys(wanted):
        found = read[1]
    else:
        found = live.ranks(wanted, agent.pk)
    ranks = {}
    for period, rank in zip(periods, found, strict=False):
        if rank == live.NOT_LIVE:  # read from SQL; the board is filled for the next poll
            rank = agent_rank(tenant=tenant, agent=agent, metric="points", period=period)
        ranks[f"points_{period.type}"] = rank
    contests = []
    for (contest, board), rank in zip(entered, found[len(periods) :], strict=True):
        if rank == live.NOT_LIVE:
            rank = agent_contest_rank(contest, board, agent)[0]
        contests.append(
            {"id": contest.pk, "name": contest.name, "rank": rank, "ends_at": contest.ends_at}
        )
    return {"ranks": ranks, "contests": contests}


def forget() -> None:
    """Drop this process's remembered running contests, tables and wins (tests)."""
    _running.clear()
    _tables.clear()
    _wins_kept.clear()


def _wins(tenant: Tenant, agent: Agent, epoch: int | None = None) -> int:
    key = (tenant.pk, agent.pk, epoch or 0)
    if epoch and key in _wins_kept:
        return _wins_kept[key]
    wins = activity_list(tenant=tenant, agent_id=agent.pk, types=["contest.won"]).count()
    if epoch:
        if len(_wins_kept) > 20_000:
            _wins_kept.clear()
        _wins_kept[key] = wins
    return wins


def points_statement(
    *,
    tenant: Tenant,
    agent: Agent,
    catalogue: dict[str, Any] | None = None,
    game: AgentGame | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Today's and this week's points, line by line: awards rule by rule with the KPI figure
    that earned them, manual adjustments with their reason, late-event corrections.

    The lines of each section add up to the card's "today" and "this week" totals: awards
    and adjustments are exactly the rows the day totals are summed from. `game`: the agent's
    game read over this week's days, when the caller read it already.
    """
    today = local_today(tenant)
    week_first, week_after = period_days(tenant, "week")
    if game is None:
        game = agent_game(
            tenant=tenant, agent_id=agent.pk, badges=0, window=(week_first, week_after)
        )
    week_start_at = timezone.make_aware(
        datetime.combine(week_first, datetime.min.time()), tenant.tz
    )
    corrections = list(
        activity_list(tenant=tenant, agent_id=agent.pk, types=["points.late_adjustment"])
        .filter(occurred_at__gte=week_start_at)
        .order_by("-occurred_at")[:20]
    )
    if catalogue is None:
        catalogue = kpi_catalogue(tenant)
    figures = _kpi_figures(tenant, agent, game.awards, week_first, week_after, catalogue)
    today_lines: list[dict[str, Any]] = []
    week_lines: list[dict[str, Any]] = []
    for award in game.awards:
        value = figures.get((award.kpi, award.rule_period, award.period_start))
        line = {
            "kind": "award",
            "label": award.rule_name,
            "kpi": catalogue[award.kpi].name if award.kpi in catalogue else award.kpi,
            "value": value,
            "points": award.points,
            "day": award.day,
        }
        (today_lines if award.day == today else week_lines).append(line)
    for adjustment in game.adjustments:
        line = {
            "kind": "adjustment",
            "label": adjustment.reason,
            "points": adjustment.points,
            "day": adjustment.day,
        }
        (today_lines if adjustment.day == today else week_lines).append(line)
    for activity in corrections:
        d = activity.data
        line = {
            "kind": "correction",
            "label": d.get("rule_name", ""),
            "was": d.get("frozen_points"),
            "now": d.get("recomputed_points"),
            "points": int(d.get("recomputed_points", 0)) - int(d.get("frozen_points", 0)),
            "day": date.fromisoformat(d["period_start"]) if d.get("period_start") else None,
        }
        week_lines.append(line)
    return {"today": today_lines, "week": week_lines}


def _kpi_figures(
    tenant: Tenant,
    agent: Agent,
    awards: Iterable[AwardLine],
    first: date,
    after: date,
    catalogue: dict[str, Any],
) -> dict[tuple[str, str, date], float | None]:
    """{(kpi, rule period, period start): the agent's KPI value over it}, in at most two
    queries: the day counters when a built-in KPI is wanted, the custom metrics when a custom
    one is."""
    wanted = {(a.kpi, a.rule_period, a.period_start) for a in awards}
    known = {kpi: catalogue[kpi] for kpi, _, _ in wanted if kpi in catalogue}
    if not known:
        return {}
    start = min([first, *(s for _, _, s in wanted)])
    counters: dict[tuple[int, date], list[int]] = {}
    metrics: dict[tuple[int, str, date], tuple[int, int]] = {}
    if any(kpi.formula is not None for kpi in known.values()):
        counters = agent_day_counters(tenant=tenant, agent_ids={agent.pk}, start=start, end=after)
    if any(kpi.formula is None for kpi in known.values()):
        metrics = agent_day_metrics(tenant=tenant, agent_ids={agent.pk}, start=start, end=after)
    out: dict[tuple[str, str, date], float | None] = {}
    for kpi, kind, period_start in wanted:
        if kpi not in known:
            out[(kpi, kind, period_start)] = None
            continue
        p_first, p_after = period_days(tenant, kind, period_start)
        days = [d for (_, d) in counters if p_first <= d < p_after]
        sums = [sum(counters[(agent.pk, d)][i] for d in days) for i in range(len(COUNTERS))]
        mine: dict[str, tuple[int, int]] = {}
        for (_, code, d), (v, c) in metrics.items():
            if p_first <= d < p_after:
                pv, pc = mine.get(code, (0, 0))
                mine[code] = (pv + v, pc + c)
        values = values_from({kpi: known[kpi]}, sums, mine, subject="agent")
        found = values.get(kpi)
        out[(kpi, kind, period_start)] = found.value if found else None
    return out


# --- leaderboards ---------------------------------------------------------------------------
def board_rows(
    *,
    tenant: Tenant,
    board: dict[str, Any],
    me: str | None,
    anonymous: bool,
    min_volume: Decimal | None = None,
) -> dict[str, Any]:
    names = Names(anonymous=anonymous)

    def row(entry: dict[str, Any], number: int) -> dict[str, Any]:
        who = entry.get("agent") or entry.get("team") or ""
        label = names.row(who, entry["display_name"], number=number, my_external_id=me)
        if "team" in entry:  # teams are never anonymized
            label = {"name": entry["display_name"], "me": False, "anonymous": False, "number": None}
        return {
            "rank": entry.get("rank"),
            "value": entry["value"],
            "volume": entry["volume"],
            **label,
        }

    # Anonymous rows are numbered by their place in the list (ties share a rank, not a number).
    top = [row(e, n) for n, e in enumerate(board["entries"], start=1)]
    shown = {e.get("agent") for e in board["entries"]}
    around = [row(e, e["rank"]) for e in board["around"] if e.get("agent") not in shown]
    pending = []
    for n, e in enumerate(board["not_qualified"], start=1):
        item = row(e, len(board["entries"]) + n)
        more = None
        if min_volume is not None:
            more = max(1, math.ceil(min_volume - Decimal(str(e["volume"]))))
        pending.append({**item, "more": more})
    return {"top": top, "around": around, "pending": pending}


def agent_leaderboard(
    *, tenant: Tenant, agent: Agent, metric: str, period: str, scope: str
) -> dict[str, Any]:
    board = leaderboard(
        tenant=tenant,
        metric=metric,
        period=period_of(period, local_today(tenant), tenant),
        scope=scope,
        limit=TOP,
        around=agent.external_id,
    )
    minimum = None
    if metric != "points":
        kpi = kpi_catalogue(tenant).get(metric)
        minimum = kpi.min_volume if kpi else None
    rows = board_rows(
        tenant=tenant,
        board=board,
        me=agent.external_id,
        anonymous=anonymize_others(tenant),
        min_volume=minimum,
    )
    return {"metric": metric, "period": period, "scope": scope, **rows}


def metric_choices(tenant: Tenant) -> list[tuple[str, str]]:
    catalogue = kpi_catalogue(tenant)
    return [("points", "")] + [
        (code, kpi.name)
        for code, kpi in catalogue.items()
        if kpi.formula is None or "agent" in kpi.formula.scopes
    ]


# --- the store ------------------------------------------------------------------------------
def store(*, tenant: Tenant, agent: Agent) -> dict[str, Any]:
    balance = wallet_balance(tenant=tenant, agent_id=agent.pk)
    rewards = list(reward_list(tenant=tenant, active=True).order_by("cost", "name"))
    requests = list(redemption_list(tenant=tenant, agent_id=agent.pk).order_by("-id")[:20])
    return {
        "balance": balance,
        "rewards": [
            {
                "id": r.pk,
                "name": r.name,
                "description": r.description,
                "cost": r.cost,
                "stock": r.stock,
                "affordable": r.cost <= balance and (r.stock is None or r.stock > 0),
            }
            for r in rewards
        ],
        "requests": [
            {
                "id": r.pk,
                "reward": r.reward.name,
                "quantity": r.quantity,
                "cost": r.total_cost,
                "status": r.status,
                "at": r.created_at,
            }
            for r in requests
        ],
    }


# --- the wallboard --------------------------------------------------------------------------
def wallboard(*, tenant: Tenant, team: Team) -> dict[str, Any]:
    today = local_today(tenant)
    day = period_of("day", today, tenant)
    anonymous = anonymize_others(tenant)
    board = leaderboard(
        tenant=tenant, metric="points", period=day, scope=f"team:{team.external_id}", limit=TOP
    )
    rows = board_rows(tenant=tenant, board=board, me=None, anonymous=anonymous)
    subtree = team_descendants(tenant=tenant, team_id=team.pk)
    contests = []
    for contest in (
        Contest.objects.for_tenant(tenant)
        .filter(status=Contest.Status.RUNNING)
        .select_related("tenant")
        .order_by("ends_at")
    ):
        teams = set(contest.participants.get("teams") or [])
        if teams and not teams & set(
            Team.objects.for_tenant(tenant)
            .filter(pk__in=subtree)
            .values_list("external_id", flat=True)
        ):
            continue
        body = standings_body(contest, limit=3)
        leaders = board_rows(
            tenant=tenant,
            board={"entries": body["entries"], "around": [], "not_qualified": []},
            me=None,
            anonymous=anonymous,
        )["top"]
        contests.append(
            {
                "name": contest.name,
                "ends_at": contest.ends_at,
                "leaders": leaders,
                "metric": contest.metric,
            }
        )
    return {
        "team": team.name,
        "top": rows["top"],
        "contests": contests[:4],
        "kpis": team_targets(tenant=tenant, team=team, period=day),
        "ticker": ticker(tenant=tenant, team_ids=subtree, anonymous=anonymous),
    }


def team_targets(*, tenant: Tenant, team: Team, period: Any) -> list[dict[str, Any]]:
    """Today's team KPIs against the targets the tenant's daily target rules set."""
    rules = list(
        PointRule.objects.for_tenant(tenant)
        .filter(active=True, deleted=False, kind=PointRule.Kind.TARGET, period="day")
        .order_by("kpi", "id")
    )
    if not rules:
        return []
    values = team_kpis(tenant=tenant, team=team, period=period)
    catalogue = kpi_catalogue(tenant)
    out, seen = [], set()
    for rule in rules:
        if rule.kpi in seen or rule.kpi not in catalogue or rule.threshold is None:
            continue
        seen.add(rule.kpi)
        kpi = catalogue[rule.kpi]
        op = rule.op or (">=" if kpi.higher_is_better else "<=")
        found = values.get(rule.kpi)
        value = found.value if found else None
        target = float(rule.threshold)
        met = value is not None and (value >= target if op == ">=" else value <= target)
        out.append(
            {
                "name": kpi.name,
                "unit": kpi.unit,
                "value": value,
                "target": target,
                "op": op,
                "met": met,
            }
        )
    return out[:6]


def ticker(*, tenant: Tenant, team_ids: set[int], anonymous: bool) -> list[dict[str, Any]]:
    since = timezone.now() - timedelta(days=7)
    feed = (
        activity_list(tenant=tenant, team_ids=team_ids, types=CELEBRATED)
        .filter(occurred_at__gte=since)
        .order_by("-occurred_at", "-id")[:TICKER]
    )
    items = []
    for n, item in enumerate(feed, start=1):
        who = item.agent.display_name if item.agent else ""
        items.append(
            {
                "type": item.type,
                "name": None if anonymous else who,
                "number": n,
                "what": item.data.get("badge_name")
                or item.data.get("name")
                or item.data.get("contest_name")
                or item.data.get("level_name")
                or "",
                "at": item.occurred_at,
            }
        )
    return items
