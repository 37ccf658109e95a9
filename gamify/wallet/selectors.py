"""Reads of the wallet: balances, ledger pages, the catalogue, redemptions."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from accounts.models import Tenant
from gamify.wallet.models import LedgerEntry, Redemption, Reward, Wallet


def wallet_balance(*, tenant: Tenant, agent_id: int) -> int:
    """The agent's coins; 0 before its first movement."""
    balance = (
        Wallet.objects.for_tenant(tenant)
        .filter(agent_id=agent_id)
        .values_list("balance", flat=True)
        .first()
    )
    return int(balance or 0)


def wallet_balances(*, tenant: Tenant, agent_ids: Iterable[int]) -> dict[int, int]:
    """{agent id: coins} for each asked agent (0 for those without a wallet), in one query."""
    wanted = set(agent_ids)
    found = dict(
        Wallet.objects.for_tenant(tenant)
        .filter(agent_id__in=wanted)
        .values_list("agent_id", "balance")
    )
    return {agent_id: int(found.get(agent_id, 0)) for agent_id in wanted}


def ledger_list(*, tenant: Tenant, agent_id: int) -> QuerySet[LedgerEntry]:
    """The agent's ledger entries (order them newest first: `-id`)."""
    return LedgerEntry.objects.for_tenant(tenant).filter(agent_id=agent_id)


def reward_list(*, tenant: Tenant, active: bool | None = None) -> QuerySet[Reward]:
    rewards = Reward.objects.for_tenant(tenant)
    if active is not None:
        rewards = rewards.filter(active=active)
    return rewards


def redemption_list(
    *, tenant: Tenant, status: str | None = None, agent_id: int | None = None
) -> QuerySet[Redemption]:
    redemptions = Redemption.objects.for_tenant(tenant).select_related("agent", "reward")
    if status:
        redemptions = redemptions.filter(status=status)
    if agent_id is not None:
        redemptions = redemptions.filter(agent_id=agent_id)
    return redemptions
