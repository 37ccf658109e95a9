"""The agents and teams a batch names: looked up (and created, when the tenant allows) in a
few queries for the whole batch, with each agent's team history, so that an agent's event is
stamped with the team the agent was in when it occurred."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from django.utils import timezone

from accounts.models import Agent, AgentHistory, Team, Tenant
from kpis import buckets


class TeamHistory(NamedTuple):
    """An agent's team changes: `teams[i]` from `froms[i]` on (in order)."""

    froms: list[datetime]
    teams: list[int | None]


@dataclass
class Directory:
    agents: dict[str, int]  # external id → id
    teams: dict[str, int]
    history: dict[int, TeamHistory]  # agent id → its teams over time

    def team_at(self, agent_id: int, instant: datetime) -> int | None:
        froms, teams = self.history[agent_id]
        # Before the first recorded change, the agent was in its first recorded team.
        return teams[max(0, bisect_right(froms, instant) - 1)]


def resolve(tenant: Tenant, events: list[Any]) -> tuple[Directory, dict[int, dict[str, str]]]:
    """Look up (and, when the tenant allows, create) the agents and teams events name.

    Returns the directory and per-event errors for unknown ids when auto-create is off.
    """
    team_ids = {e.team for e in events if e.team is not None}
    agent_ids = {e.agent for e in events if e.agent is not None}
    teams = (
        dict(
            Team.objects.for_tenant(tenant)
            .filter(external_id__in=team_ids)
            .values_list("external_id", "id")
        )
        if team_ids
        else {}
    )
    missing_teams = team_ids - teams.keys()
    if missing_teams and tenant.auto_create_agents:
        Team.objects.bulk_create(
            [Team(tenant=tenant, external_id=x, name=x) for x in sorted(missing_teams)],
            ignore_conflicts=True,
        )
        teams.update(
            Team.objects.for_tenant(tenant)
            .filter(external_id__in=missing_teams)
            .values_list("external_id", "id")
        )
    agents: dict[str, int] = {}
    current_team: dict[int, int | None] = {}
    history: dict[int, TeamHistory] = {}

    def load(external_ids: set[str]) -> None:
        for ext, pk, team_id, valid_from, history_team in buckets.agents_with_history(
            tenant_id=tenant.pk, external_ids=external_ids
        ):
            agents[ext], current_team[pk] = pk, team_id
            if valid_from is not None:
                froms, team_list = history.setdefault(pk, TeamHistory([], []))
                froms.append(valid_from)
                team_list.append(history_team)

    if agent_ids:
        load(agent_ids)
    missing_agents = agent_ids - agents.keys()
    if missing_agents and tenant.auto_create_agents:
        first_team: dict[str, int | None] = {}
        for e in events:
            if e.agent in missing_agents and e.agent not in first_team:
                first_team[e.agent] = teams.get(e.team) if e.team else None
        Agent.objects.bulk_create(
            [
                Agent(tenant=tenant, external_id=x, display_name=x, team_id=first_team[x])
                for x in sorted(missing_agents)
            ],
            ignore_conflicts=True,
        )
        load(missing_agents)
    unrecorded = [pk for pk in agents.values() if pk not in history]
    if unrecorded:
        now = timezone.now()
        AgentHistory.objects.bulk_create(
            [
                AgentHistory(
                    tenant=tenant,
                    agent_id=pk,
                    valid_from=now,
                    team_id=current_team[pk],
                    active=True,
                )
                for pk in unrecorded
            ]
        )
        for pk in unrecorded:
            history[pk] = TeamHistory([now], [current_team[pk]])
    errors: dict[int, dict[str, str]] = {}
    for position, e in enumerate(events):
        if e.agent is not None and e.agent not in agents:
            errors.setdefault(position, {})["agent"] = f"Unknown agent {e.agent!r}."
        if e.team is not None and e.team not in teams:
            errors.setdefault(position, {})["team"] = f"Unknown team {e.team!r}."
    return Directory(agents=agents, teams=teams, history=history), errors
