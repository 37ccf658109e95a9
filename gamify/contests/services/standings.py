"""Contest standings: a contest as a leaderboard `Board` over its window and participants,
ranked from SQL, frozen once finished; who wins which prize; and the live copy in Redis that
running agent contests keep."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from accounts.models import Agent, Team, Tenant
from accounts.selectors import team_descendants
from gamify.contests.models import Contest
from gamify.leaderboards import live
from gamify.leaderboards.boards import Board, Guardrail, Standing, rank, standings
from gamify.leaderboards.service import board_fill


def participant_ids(
    tenant: Tenant, contests: list[Contest]
) -> tuple[dict[str, int], dict[str, int]]:
    """{external id: id} of the teams and agents these contests name (two queries at most)."""
    team_ext = {t for c in contests for t in c.participants.get("teams", [])}
    agent_ext = {a for c in contests for a in c.participants.get("agents", [])}
    teams: dict[str, int] = {}
    agents: dict[str, int] = {}
    if team_ext:
        found = Team.objects.for_tenant(tenant).filter(external_id__in=team_ext)
        teams = dict(found.values_list("external_id", "id"))
    if agent_ext:
        known = Agent.objects.for_tenant(tenant).filter(external_id__in=agent_ext)
        agents = dict(known.values_list("external_id", "id"))
    return teams, agents


def contest_board(
    contest: Contest, known: tuple[dict[str, int], dict[str, int]] | None = None
) -> Board:
    tenant = contest.tenant
    teams, agents = known if known is not None else participant_ids(tenant, [contest])
    team_ids = {teams[t] for t in contest.participants.get("teams", []) if t in teams}
    agent_ids = {agents[a] for a in contest.participants.get("agents", []) if a in agents}
    everyone = not team_ids and not agent_ids
    return Board(
        tenant=tenant,
        key=f"contest:{contest.pk}",
        metric=contest.metric,
        start=contest.starts_at,
        end=contest.ends_at,
        entity=contest.entity,
        agent_ids=None if everyone else frozenset(agent_ids),
        team_ids=None if everyone else frozenset(team_ids),
        min_volume=contest.min_volume,
        guardrails=tuple(
            Guardrail(r["kpi"], r["op"], Decimal(str(r["value"]))) for r in contest.guardrails
        ),
    )


def target_met(contest: Contest, entry: Standing, better: bool) -> bool:
    if contest.target is None or entry.value is None:
        return False
    value = Decimal(str(entry.value))
    return value >= contest.target if better else value <= contest.target


def prize_for(contest: Contest, entry: Standing, better: bool) -> dict[str, Any] | None:
    if not entry.qualified or entry.rank is None:
        return None
    if contest.kind == Contest.Kind.TARGET:
        if not target_met(contest, entry, better):
            return None
        return contest.prizes[0] if contest.prizes else {"coins": 0, "badge": None}
    for prize in contest.prizes:
        if prize["rank_from"] <= entry.rank <= prize["rank_to"]:
            return prize
    return None


def contest_standings(contest: Contest) -> tuple[list[Standing], list[Standing]]:
    """(ranked, not qualified): frozen once finished, else live from the buckets."""
    if contest.status == Contest.Status.FINISHED:
        ranked: list[Standing] = []
        unranked: list[Standing] = []
        for row in contest.results.all():
            entry = Standing(
                row.entity_id,
                row.external_id,
                row.display_name,
                row.value,
                row.volume,
                row.qualified,
                row.reason,
                rank=row.rank,
                extra={"prize": {"coins": row.prize_coins, "badge": row.prize_badge or None}},
            )
            (ranked if row.qualified else unranked).append(entry)
        return ranked, unranked
    return rank(standings(contest_board(contest)))


def agents_of(contest: Contest, entry: Standing) -> list[int]:
    """Who receives a prize: the agent, or every active agent of the team (sub-teams too)."""
    if contest.entity == "agent":
        return [entry.entity_id]
    teams = team_descendants(tenant=contest.tenant, team_id=entry.entity_id)
    return list(
        Agent.objects.for_tenant(contest.tenant)
        .filter(team_id__in=teams, active=True)
        .values_list("id", flat=True)
    )


def running_contests_refresh(*, tenant: Tenant, agent_ids: set[int]) -> int:
    """Keep running agent contests' live boards for the touched agents."""
    if not live.available() or not agent_ids:
        return 0
    written = 0
    for contest in Contest.objects.for_tenant(tenant).filter(
        status__in=[Contest.Status.RUNNING, Contest.Status.FINALIZING], entity="agent"
    ):
        board = contest_board(contest)
        if not live.is_ready(board):
            continue  # populated on first read
        entries = standings(board, only=agent_ids)
        live.remove(board, agent_ids - {e.entity_id for e in entries})
        live.write(board, entries, full=False)
        written += len(entries)
    return written


def running_contests_populate(*, tenant: Tenant) -> int:
    """Refill the live standings of running agent contests (after everything was recomputed);
    boards nobody read stay unfilled. The caller holds the apply lock."""
    if not live.available():
        return 0
    written = 0
    for contest in Contest.objects.for_tenant(tenant).filter(
        status__in=[Contest.Status.RUNNING, Contest.Status.FINALIZING], entity="agent"
    ):
        board = contest_board(contest)
        if live.is_ready(board):
            entries = standings(board)
            live.write(board, entries, full=True)
            written += len(entries)
    return written


def contest_boards_fill_wanted(*, tenant: Tenant, keys: Iterable[str]) -> int:
    """Fill the running agent contests' boards among `keys` (live.wanted_take) that are still
    not live; the caller holds the apply lock. Returns entries written."""
    ids = [int(k[8:]) for k in keys if k.startswith("contest:") and k[8:].isdigit()]
    if not ids:
        return 0
    contests = Contest.objects.for_tenant(tenant).filter(
        pk__in=ids, status__in=[Contest.Status.RUNNING, Contest.Status.FINALIZING], entity="agent"
    )
    return sum(
        contest_board_populate(contest=contest, unless_live=True) or 0 for contest in contests
    )


def contest_board_populate(*, contest: Contest, unless_live: bool = False) -> int | None:
    """Fill a running agent contest's live standings from SQL; returns entries written, or
    None when `unless_live` and they are live already. The caller holds the apply lock, so no
    refresh computed earlier lands after this fill."""
    if contest.status not in (Contest.Status.RUNNING, Contest.Status.FINALIZING):
        return 0
    if contest.entity != "agent":
        return 0
    return board_fill(contest_board(contest), unless_live=unless_live)
