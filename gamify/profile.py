"""The agent profile, a read model over every part of the game: points and level (game),
latest badges, the wallet's balance, ranks on the current points boards (leaderboards) and
the running contests with the agent's standing (contests).

It sits above the parts it reads (README "Layout"), so none of them imports another to show
it.
"""

from __future__ import annotations

from typing import Any

from accounts.models import Agent, Tenant
from gamify.contests.selectors import agent_contests
from gamify.game import selectors as game_selectors
from gamify.leaderboards.service import agent_rank, current_periods
from gamify.wallet.selectors import wallet_balance

PROFILE_BADGES = 20


def agent_profile(*, tenant: Tenant, agent: Agent) -> dict[str, Any]:
    """Everything the profile shows of one agent, in the shape the endpoint answers."""
    return {**agent_own(tenant=tenant, agent=agent), **agent_standings(tenant=tenant, agent=agent)}


def agent_own(
    *,
    tenant: Tenant,
    agent: Agent,
    levels: list[tuple[int, str, int]] | None = None,
    game: game_selectors.AgentGame | None = None,
) -> dict[str, Any]:
    """What only the agent's own changes move: points, level, badges, wallet. `levels`: the
    tenant's level table, when the caller keeps it; `game`: the agent's game read
    (`agent_game` with at least PROFILE_BADGES badges), when the caller read it already."""
    if game is None:
        game = game_selectors.agent_game(tenant=tenant, agent_id=agent.pk, badges=PROFILE_BADGES)
    points = game.points
    return {
        "agent": agent.external_id,
        "display_name": agent.display_name,
        "team": agent.team.external_id if agent.team else None,
        "points": {k: int(points[k]) for k in ("lifetime", "day", "week", "month")},
        "level": game_selectors.level_info(tenant, int(points["lifetime"]), levels),
        "badges": [
            {
                "code": b.code,
                "name": b.name,
                "icon": b.icon,
                "awarded_at": b.awarded_at.isoformat(),
            }
            for b in game.badges[:PROFILE_BADGES]
        ],
        "wallet": {"balance": wallet_balance(tenant=tenant, agent_id=agent.pk)},
    }


def agent_standings(*, tenant: Tenant, agent: Agent) -> dict[str, Any]:
    """What other agents' events move too: ranks on the current points boards and the running
    contests with the agent's standing (from the live boards when Redis has them)."""
    return {
        "ranks": {
            f"points_{period.type}": agent_rank(
                tenant=tenant, agent=agent, metric="points", period=period
            )
            for period in current_periods(tenant)
        },
        "contests": agent_contests(tenant=tenant, agent=agent),
    }
