"""What the profile shows from the wallet and contests, behind one seam each."""

from __future__ import annotations

from typing import Any

from accounts.models import Tenant


def wallet_balance(*, tenant: Tenant, agent_id: int) -> int:
    from gamify.wallet.selectors import wallet_balance as balance

    return balance(tenant=tenant, agent_id=agent_id)


def active_contests(*, tenant: Tenant, agent_id: int) -> list[dict[str, Any]]:
    """The agent's running contests with its standing."""
    from accounts.models import Agent
    from gamify.contests.selectors import agent_contests

    return agent_contests(tenant=tenant, agent=Agent.objects.get(pk=agent_id))
