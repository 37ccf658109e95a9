"""Reads of contests: standings (frozen, live from Redis, or from SQL) and an agent's contests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from accounts.models import Agent, Team, Tenant
from gamify.contests.models import Contest
from gamify.contests.services import (
    contest_board,
    contest_standings,
    participant_ids,
    prize_for,
)
from gamify.contests.tasks import populate_contest
from gamify.leaderboards import live
from gamify.leaderboards.boards import Board, Standing
from gamify.leaderboards.service import AROUND, entry_row, populate_later
from kpis.catalogue import kpi_catalogue
from kpis.formulas import BUILTIN
from kpis.periods import Period

LIVE = (Contest.Status.RUNNING, Contest.Status.FINALIZING)


def _better(contest: Contest) -> bool:
    if contest.metric == "points":
        return True
    if contest.metric in BUILTIN:
        return BUILTIN[contest.metric].direction == "higher_is_better"
    return kpi_catalogue(contest.tenant)[contest.metric].higher_is_better


def standings_of(
    contest: Contest, *, limit: int, around: Agent | None = None, board: Board | None = None
) -> tuple[list[Standing], list[Standing], list[Standing]]:
    better = _better(contest)
    if contest.status in LIVE and contest.entity == "agent" and live.available():
        board = board or contest_board(contest)
        reply = live.read(
            board,
            limit=limit,
            better=better,
            around=around.external_id if around else None,
            around_size=AROUND,
        )
        if reply is not None:
            return reply.standings()
        ranked, unranked = contest_standings(contest)
        populate_later(board, lambda: populate_contest.delay(contest.pk))
    else:
        ranked, unranked = contest_standings(contest)
    nearby: list[Standing] = []
    if around is not None:
        position = next((i for i, e in enumerate(ranked) if e.entity_id == around.pk), None)
        if position is not None:
            nearby = ranked[max(0, position - AROUND) : position + AROUND + 1]
    return ranked[:limit], unranked[:limit], nearby


def standings_body(contest: Contest, *, limit: int, around: Agent | None = None) -> dict[str, Any]:
    top, unranked, nearby = standings_of(contest, limit=limit, around=around)
    final = contest.status == Contest.Status.FINISHED
    better = _better(contest)

    def entry(e: Standing, *, reason: bool = False) -> dict[str, Any]:
        row = entry_row(e, contest.entity, reason=reason)
        if final and not reason:
            row["prize"] = e.extra.get("prize")
        elif not reason:
            prize = prize_for(contest, e, better)
            row["prize"] = (
                {"coins": prize.get("coins", 0), "badge": prize.get("badge")} if prize else None
            )
        return row

    return {
        "contest": contest.pk,
        "status": contest.status,
        "final": final,
        "metric": contest.metric,
        "period": Period("custom", contest.starts_at, contest.ends_at).as_dict(contest.tenant.tz),
        "entries": [entry(e) for e in top],
        "around": [entry(e) for e in nearby],
        "not_qualified": [entry(e, reason=True) for e in unranked],
    }


@dataclass(frozen=True)
class RunningContests:
    """What `agent_contests` reads from the database: the tenant's live agent contests, their
    participants' ids and the team tree (when a contest names teams). Read once, it answers
    any agent's contests from the live boards alone (the widgets keep one for a second or two).
    """

    contests: list[Contest]
    known: Any
    parents: dict[int, int | None]


def running_contests(*, tenant: Tenant) -> RunningContests:
    contests = list(
        Contest.objects.for_tenant(tenant)
        .filter(status__in=LIVE, entity=Contest.Entity.AGENT)
        .select_related("tenant")
        .order_by("ends_at")
    )
    if not contests:
        return RunningContests([], None, {})
    parents: dict[int, int | None] = {}
    if any(c.participants.get("teams") for c in contests):
        parents = dict(Team.objects.for_tenant(tenant).values_list("id", "parent_id"))
    return RunningContests(contests, participant_ids(tenant, contests), parents)


def agent_contest_boards(*, agent: Agent, running: RunningContests) -> list[tuple[Contest, Board]]:
    """The running contests the agent takes part in, with their boards (no query)."""
    if not running.contests:
        return []
    ancestors: set[int] = set()
    if running.parents and agent.team_id:
        node: int | None = agent.team_id
        while node is not None and node not in ancestors:
            ancestors.add(node)
            node = running.parents.get(node)
    out = []
    for contest in running.contests:
        board = contest_board(contest, running.known)
        everyone = board.agent_ids is None and board.team_ids is None
        if (
            not everyone
            and agent.pk not in (board.agent_ids or ())
            and not (ancestors & set(board.team_ids or ()))
        ):
            continue
        out.append((contest, board))
    return out


def agent_contest_rank(contest: Contest, board: Board, agent: Agent) -> tuple[int | None, Any]:
    """(rank, value) of the agent in a contest, live when Redis has the board."""
    _, _, nearby = standings_of(contest, limit=1, around=agent, board=board)
    mine = next((e for e in nearby if e.entity_id == agent.pk), None)
    return (mine.rank, mine.value) if mine else (None, None)


def agent_contests(
    *, tenant: Tenant, agent: Agent, running: RunningContests | None = None
) -> list[dict[str, Any]]:
    """Running contests the agent takes part in, with its rank and value (profile).

    A fixed number of queries however many contests run: contests, their participants and
    the team tree are read once (or passed in `running`); standings come from the live boards.
    """
    if running is None:
        running = running_contests(tenant=tenant)
    out = []
    for contest, board in agent_contest_boards(agent=agent, running=running):
        rank, value = agent_contest_rank(contest, board, agent)
        out.append(
            {
                "id": contest.pk,
                "name": contest.name,
                "status": contest.status,
                "rank": rank,
                "value": value,
            }
        )
    return out
