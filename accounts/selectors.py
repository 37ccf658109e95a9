"""Reads of teams and agents, always for one tenant."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import QuerySet

from accounts.models import Agent, Team, Tenant


def team_list(*, tenant: Tenant, parent: str | None = None) -> QuerySet[Team]:
    teams = Team.objects.for_tenant(tenant).select_related("parent")
    if parent is not None:
        teams = teams.filter(parent__external_id=parent)
    return teams


def agent_list(
    *, tenant: Tenant, team: str | None = None, active: bool | None = None
) -> QuerySet[Agent]:
    agents = Agent.objects.for_tenant(tenant).select_related("team")
    if team is not None:
        agents = agents.filter(team__external_id=team)
    if active is not None:
        agents = agents.filter(active=active)
    return agents


def team_descendants(*, tenant: Tenant | int, team_id: int) -> set[int]:
    """The ids of a team and every team below it (one query for the whole tree)."""
    return subtree(team_tree(tenant), team_id)


def team_tree(tenant: Tenant | int) -> dict[int | None, list[int]]:
    """parent id → its child teams' ids, for all the tenant's teams (one query)."""
    children: dict[int | None, list[int]] = defaultdict(list)
    for pk, parent_id in Team.objects.for_tenant(tenant).values_list("id", "parent_id"):
        children[parent_id].append(pk)
    return children


def subtree(children: dict[int | None, list[int]], root: int) -> set[int]:
    """`root` and every team below it in a `team_tree` (cycles cannot loop)."""
    found, stack = {root}, [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
