"""Redemptions: spend coins on a reward, then approve → fulfil, or reject (refund)."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.audit.services import audit_record
from accounts.models import Agent, Tenant
from core.errors import InvalidInputError
from gamify.activity.services import activity_record
from gamify.wallet.models import MAX_AMOUNT, MAX_QUANTITY, LedgerEntry, Redemption, Reward
from gamify.wallet.services.errors import (
    InsufficientFunds,
    InvalidTransition,
    LimitReached,
    NotFoundError,
    OutOfStock,
    RewardUnavailable,
)
from gamify.wallet.services.ledger import wallet_credit, wallet_debit, wallet_for_update
from kpis.periods import local_today, period_of


def _monthly_quantity(*, tenant: Tenant, agent_id: int, reward_id: int) -> int:
    month = period_of("month", local_today(tenant), tenant)
    taken = (
        Redemption.objects.for_tenant(tenant)
        .filter(
            agent_id=agent_id,
            reward_id=reward_id,
            created_at__gte=month.start,
            created_at__lt=month.end,
        )
        .exclude(status=Redemption.Status.REJECTED)
        .aggregate(n=Sum("quantity"))["n"]
    )
    return int(taken or 0)


def redemption_request(
    *,
    tenant: Tenant,
    agent: Agent,
    reward_id: int,
    quantity: int = 1,
    actor: str,
    request_key: str | None = None,
) -> tuple[Redemption, bool]:
    """Spend coins on a reward: debit at once and reserve stock; status `requested`.

    Returns (redemption, created); a repeated `request_key` returns the first redemption.
    Raises 404 for an unknown reward, 409 `reward-inactive`, `limit-reached`,
    `insufficient-funds` or `out-of-stock`.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise InvalidInputError({"quantity": "Must be a whole number."})
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidInputError({"quantity": f"Must be from 1 to {MAX_QUANTITY}."})
    key = request_key or f"redemption:{uuid.uuid4().hex}"
    with transaction.atomic():
        # The agent's wallet lock comes first: it serializes this agent's spending, so the
        # balance and monthly-limit checks below cannot be raced by a concurrent request.
        wallet = wallet_for_update(tenant=tenant, agent_id=agent.pk)
        if request_key:
            existing = Redemption.objects.for_tenant(tenant).filter(request_key=key).first()
            if existing is not None:
                return existing, False
        reward = Reward.objects.for_tenant(tenant).filter(pk=reward_id).first()
        if reward is None:
            raise NotFoundError(f"No reward {reward_id}.", errors={"reward": ["Not found."]})
        if not reward.active:
            raise RewardUnavailable(f"The reward {reward.name!r} is no longer offered.")
        if reward.per_agent_monthly_limit is not None:
            taken = _monthly_quantity(tenant=tenant, agent_id=agent.pk, reward_id=reward.pk)
            if taken + quantity > reward.per_agent_monthly_limit:
                left = max(0, reward.per_agent_monthly_limit - taken)
                raise LimitReached(
                    f"{reward.name!r} is limited to {reward.per_agent_monthly_limit} per agent "
                    f"per month; {left} left this month.",
                    extra={"limit": reward.per_agent_monthly_limit, "remaining": left},
                )
        total = reward.cost * quantity
        if total > MAX_AMOUNT:
            raise InvalidInputError({"quantity": f"At most {MAX_AMOUNT} coins in one redemption."})
        if wallet.balance < total:  # checked again by wallet_debit; fail before touching stock
            raise InsufficientFunds(
                f"The balance is {wallet.balance} coins; {total} are needed.",
                extra={"balance": wallet.balance, "needed": total},
            )
        if reward.stock is not None:
            # A conditional decrement: the row lock it takes serializes the last units.
            reserved = Reward.objects.filter(
                tenant_id=reward.tenant_id, pk=reward.pk, stock__gte=quantity
            ).update(stock=F("stock") - quantity)
            if not reserved:
                raise OutOfStock(f"Not enough {reward.name!r} left for {quantity}.")
        redemption = Redemption.objects.create(
            tenant=tenant,
            agent=agent,
            reward=reward,
            quantity=quantity,
            unit_cost=reward.cost,
            total_cost=total,
            request_key=key,
            requested_by=actor[:160],
        )
        wallet_debit(
            tenant=tenant,
            agent_id=agent.pk,
            amount=total,
            kind=LedgerEntry.Kind.REDEMPTION,
            reference=f"redemption:{redemption.pk} {reward.name}",
            idempotency_key=f"redemption:{redemption.pk}",
            actor=actor,
        )
        _announce(redemption, "requested", actor)
    return redemption, True


# action → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({Redemption.Status.REQUESTED}), Redemption.Status.APPROVED),
    "reject": (
        frozenset({Redemption.Status.REQUESTED, Redemption.Status.APPROVED}),
        Redemption.Status.REJECTED,
    ),
    "fulfil": (frozenset({Redemption.Status.APPROVED}), Redemption.Status.FULFILLED),
}


def _announce(redemption: Redemption, status: str, actor: str) -> None:
    activity_record(
        tenant=redemption.tenant_id,
        type=f"redemption.{status}",
        key=f"redemption:{redemption.pk}:{status}",
        agent_id=redemption.agent_id,
        data={
            "redemption": redemption.pk,
            "reward": redemption.reward_id,
            "reward_name": redemption.reward.name,
            "quantity": redemption.quantity,
            "coins": redemption.total_cost,
            "actor": actor,
            **({"note": redemption.note} if redemption.note else {}),
        },
    )


def redemption_transition(
    *, tenant: Tenant, redemption_id: int, action: str, actor: str, note: str = ""
) -> Redemption:
    """Approve, reject (refunding coins and stock) or fulfil a redemption.

    Repeating the transition that led to the current status changes nothing (a safe retry);
    any other move out of the allowed order is a 409 `invalid-transition`.
    """
    allowed, target = TRANSITIONS[action]
    with transaction.atomic():
        redemption = (
            Redemption.objects.for_tenant(tenant)
            # of=self: lock the redemption, not the joined reward (lock order, module doc).
            .select_for_update(of=("self",))
            .select_related("reward")
            .filter(pk=redemption_id)
            .first()
        )
        if redemption is None:
            raise NotFoundError(f"No redemption {redemption_id}.")
        if redemption.status == target:
            return redemption
        if redemption.status not in allowed:
            raise InvalidTransition(
                f"A {redemption.status} redemption cannot be {target}.",
                extra={"redemption_status": redemption.status},
            )
        now = timezone.now()
        if target == Redemption.Status.REJECTED:
            # The compensating entries: coins back to the wallet, units back on the shelf.
            wallet_credit(
                tenant=tenant,
                agent_id=redemption.agent_id,
                amount=redemption.total_cost,
                kind=LedgerEntry.Kind.REFUND,
                reference=f"redemption:{redemption.pk} rejected",
                idempotency_key=f"refund:redemption:{redemption.pk}",
                actor=actor,
            )
            Reward.objects.filter(
                tenant_id=redemption.tenant_id, pk=redemption.reward_id, stock__isnull=False
            ).update(stock=F("stock") + redemption.quantity)
        before = {"status": redemption.status, "note": redemption.note}
        redemption.status = target
        fields = ["status"]
        if target == Redemption.Status.FULFILLED:
            redemption.fulfilled_at = now
            fields.append("fulfilled_at")
        else:
            redemption.decided_at, redemption.decided_by = now, actor[:160]
            fields += ["decided_at", "decided_by"]
        if note or target == Redemption.Status.REJECTED:
            # A rejection's note is its reason, which the agent reads: an earlier approval's
            # note must not pass for it, so a rejection without one clears it.
            redemption.note = note[:500]
            fields.append("note")
        redemption.save(update_fields=fields)
        audit_record(
            tenant=tenant,
            action=action,
            object_type="redemption",
            object_id=redemption.pk,
            object_repr=f"{redemption.reward.name} × {redemption.quantity}",
            before=before,
            after={"status": redemption.status, "note": redemption.note},
            actor=actor,
        )
        _announce(redemption, target, actor)
    return redemption


def redemption_approve(
    *, tenant: Tenant, redemption_id: int, actor: str, note: str = ""
) -> Redemption:
    return redemption_transition(
        tenant=tenant, redemption_id=redemption_id, action="approve", actor=actor, note=note
    )


def redemption_reject(
    *, tenant: Tenant, redemption_id: int, actor: str, note: str = ""
) -> Redemption:
    """Reject a requested or approved redemption; its coins and stock come back."""
    return redemption_transition(
        tenant=tenant, redemption_id=redemption_id, action="reject", actor=actor, note=note
    )


def redemption_fulfil(
    *, tenant: Tenant, redemption_id: int, actor: str, note: str = ""
) -> Redemption:
    return redemption_transition(
        tenant=tenant, redemption_id=redemption_id, action="fulfil", actor=actor, note=note
    )
