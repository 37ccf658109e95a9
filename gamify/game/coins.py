"""Coins for game prizes go through the wallet's one credit service."""

from __future__ import annotations

from accounts.models import Tenant


def coins_credit(
    *, tenant: Tenant, agent_id: int, amount: int, kind: str, reference: str, idempotency_key: str
) -> None:
    """Credit prize coins exactly once per idempotency key."""
    from gamify.wallet.services import wallet_credit

    wallet_credit(
        tenant=tenant,
        agent_id=agent_id,
        amount=amount,
        kind=kind,
        reference=reference,
        idempotency_key=idempotency_key,
    )
