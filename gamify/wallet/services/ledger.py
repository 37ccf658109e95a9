"""Moving coins: the one credit, the one debit, grants and the points-to-coins conversion."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.audit.services import audit_record, snapshot
from accounts.models import Agent, Tenant
from core.errors import InvalidInputError
from gamify.activity.services import activity_record
from gamify.wallet.models import MAX_AMOUNT, ConversionRule, LedgerEntry, Wallet
from gamify.wallet.services.errors import (
    BalanceLimit,
    InsufficientFunds,
    LedgerKeyConflict,
    NotFoundError,
)

log = logging.getLogger(__name__)

CREDIT_KINDS = frozenset(LedgerEntry.Kind.values) - {LedgerEntry.Kind.REDEMPTION}
DEBIT_KINDS = frozenset({LedgerEntry.Kind.REDEMPTION, LedgerEntry.Kind.CORRECTION})
# Far below BIGINT, so that no sum of credits can overflow the column.
MAX_BALANCE = 10**15


def _check_amount(amount: Any, field: str = "amount") -> int:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInputError({field: "Must be a whole number of coins."})
    if not 1 <= amount <= MAX_AMOUNT:
        raise InvalidInputError({field: f"Must be from 1 to {MAX_AMOUNT}."})
    return amount


def _checked(amount: Any, kind: str, kinds: frozenset[str]) -> int:
    """A movement's amount (coins, > 0) and kind, checked the same way for credits and debits;
    only the direction and the kinds allowed differ between the two."""
    _check_amount(amount)
    if kind not in kinds:
        raise InvalidInputError({"kind": f"Must be one of {', '.join(sorted(kinds))}."})
    return int(amount)


def wallet_for_update(*, tenant: Tenant, agent_id: int) -> Wallet:
    """The agent's wallet row, locked until the transaction ends (created at 0 if new).

    Holding this lock is what makes "check the balance, then write" safe: every movement of
    the agent's coins, and every redemption check that depends on them, waits here in turn.
    """
    locked = Wallet.objects.select_for_update().filter(tenant_id=tenant.pk, agent_id=agent_id)
    wallet = locked.first()
    if wallet is None:
        if not Agent.objects.for_tenant(tenant).filter(pk=agent_id).exists():
            raise NotFoundError(f"No agent {agent_id} in this tenant.")
        # A concurrent first movement may insert the same row: let the database pick one.
        Wallet.objects.bulk_create(
            [Wallet(tenant_id=tenant.pk, agent_id=agent_id, balance=0)], ignore_conflicts=True
        )
        wallet = locked.get()
    return wallet


def _same_movement(entry: LedgerEntry, *, agent_id: int, kind: str, amount: int) -> LedgerEntry:
    if entry.agent_id != agent_id or entry.kind != kind:
        raise LedgerKeyConflict(
            f"Idempotency key {entry.idempotency_key!r} already moved coins of another agent or "
            "kind.",
            errors={"idempotency_key": ["Already used for another movement."]},
        )
    if entry.amount != amount:
        # First one wins: a retry with a different amount (e.g. late points after a
        # conversion) must not move coins twice.
        log.warning(
            "ledger key %s repeated with amount %s (kept %s)",
            entry.idempotency_key,
            amount,
            entry.amount,
        )
    return entry


def _move(
    *,
    tenant: Tenant,
    agent_id: int,
    amount: int,
    kind: str,
    reference: str,
    idempotency_key: str,
    actor: str,
) -> LedgerEntry:
    if not 1 <= len(idempotency_key) <= 255:
        raise InvalidInputError({"idempotency_key": "Must be 1 to 255 characters."})
    by_key = LedgerEntry.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key)
    try:
        with transaction.atomic():
            wallet = wallet_for_update(tenant=tenant, agent_id=agent_id)
            # Looked up under the wallet's lock: a concurrent repeat of this key waited above
            # for us to commit, and now finds our entry instead of moving coins again.
            existing = by_key.first()
            if existing is not None:
                return _same_movement(existing, agent_id=agent_id, kind=kind, amount=amount)
            balance = wallet.balance + amount
            if balance < 0:
                raise InsufficientFunds(
                    f"The balance is {wallet.balance} coins; {-amount} are needed.",
                    extra={"balance": wallet.balance, "needed": -amount},
                )
            if balance > MAX_BALANCE:
                raise BalanceLimit(f"A balance cannot exceed {MAX_BALANCE} coins.")
            Wallet.objects.filter(tenant_id=wallet.tenant_id, pk=wallet.pk).update(
                balance=balance, updated_at=timezone.now()
            )
            return LedgerEntry.objects.create(
                tenant=tenant,
                agent_id=agent_id,
                amount=amount,
                balance_after=balance,
                kind=kind,
                reference=reference[:500],
                idempotency_key=idempotency_key,
                actor=actor[:160],
            )
    except IntegrityError as exc:
        # The key was taken meanwhile by a movement of another agent's wallet (which our lock
        # does not cover), or a CHECK fired: the database is the last line.
        existing = by_key.first()
        if existing is not None:
            return _same_movement(existing, agent_id=agent_id, kind=kind, amount=amount)
        if amount < 0:
            raise InsufficientFunds("The balance does not cover this debit.") from exc
        raise


def wallet_credit(
    *,
    tenant: Tenant,
    agent_id: int,
    amount: int,
    kind: str,
    reference: str,
    idempotency_key: str,
    actor: str = "system",
) -> LedgerEntry:
    """Add `amount` (> 0) coins to the agent's wallet, once per idempotency key.

    A repeated key returns the entry it created and moves nothing. Runs in its own transaction
    (a savepoint when the caller has one open), so prizes are paid atomically with the award.
    """
    return _move(
        tenant=tenant,
        agent_id=agent_id,
        amount=_checked(amount, kind, CREDIT_KINDS),
        kind=kind,
        reference=reference,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def wallet_debit(
    *,
    tenant: Tenant,
    agent_id: int,
    amount: int,
    kind: str,
    reference: str,
    idempotency_key: str,
    actor: str = "system",
) -> LedgerEntry:
    """Take `amount` (> 0) coins from the agent's wallet, once per idempotency key.

    Raises `InsufficientFunds` (409) rather than let the balance go below zero.
    """
    return _move(
        tenant=tenant,
        agent_id=agent_id,
        amount=-_checked(amount, kind, DEBIT_KINDS),
        kind=kind,
        reference=reference,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def wallet_grant(
    *,
    tenant: Tenant,
    agent: Agent,
    amount: int,
    reason: str,
    actor: str,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """A manager's kudos: credit coins with a reason, and tell the activity feed."""
    reason = reason.strip()
    if not reason:
        raise InvalidInputError({"reason": "Say why the coins are granted."})
    with transaction.atomic():
        # A repeated key returns the first grant: it was audited then.
        repeat = bool(idempotency_key) and (
            LedgerEntry.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).exists()
        )
        entry = wallet_credit(
            tenant=tenant,
            agent_id=agent.pk,
            amount=amount,
            kind=LedgerEntry.Kind.GRANT,
            reference=reason,
            idempotency_key=idempotency_key or f"grant:{uuid.uuid4().hex}",
            actor=actor,
        )
        if not repeat:
            audit_record(
                tenant=tenant,
                action="grant",
                object_type="agent_coins",
                object_id=agent.external_id,
                object_repr=agent.display_name or agent.external_id,
                before={"balance": entry.balance_after - entry.amount},
                after={"balance": entry.balance_after, "amount": entry.amount, "reason": reason},
                actor=actor,
            )
        activity_record(
            tenant=tenant,
            type="wallet.granted",
            key=f"ledger:{entry.pk}",
            agent_id=agent.pk,
            data={"amount": entry.amount, "reason": entry.reference, "actor": entry.actor},
        )
    return entry


# --- conversion -----------------------------------------------------------------------------
def conversion_rule_set(
    *, tenant: Tenant, points_per_coin: int, active: bool = True
) -> ConversionRule:
    """Set the tenant's points-to-coins rate (one rule per tenant)."""
    if isinstance(points_per_coin, bool) or not isinstance(points_per_coin, int):
        raise InvalidInputError({"points_per_coin": "Must be a whole number."})
    if not 1 <= points_per_coin <= MAX_AMOUNT:
        raise InvalidInputError({"points_per_coin": f"Must be from 1 to {MAX_AMOUNT}."})
    fields = ("points_per_coin", "active")
    with transaction.atomic():
        stored = ConversionRule.objects.filter(tenant=tenant).first()
        rule, created = ConversionRule.objects.update_or_create(
            tenant=tenant, defaults={"points_per_coin": points_per_coin, "active": active}
        )
        audit_record(
            tenant=tenant,
            action="create" if created else "update",
            object_type="conversion_rule",
            object_id=rule.pk,
            object_repr=f"{points_per_coin} points per coin",
            before=snapshot(stored, fields) if stored is not None else None,
            after=snapshot(rule, fields),
        )
    return rule


def conversion_rule_delete(*, tenant: Tenant) -> None:
    """The tenant stops converting points to coins."""
    with transaction.atomic():
        rule = ConversionRule.objects.filter(tenant=tenant).first()
        if rule is None:
            return
        before = snapshot(rule, ("points_per_coin", "active"))
        rule_id = rule.pk
        rule.delete()
        audit_record(
            tenant=tenant,
            action="delete",
            object_type="conversion_rule",
            object_id=rule_id,
            object_repr=f"{before['points_per_coin']} points per coin",
            before=before,
        )


def points_convert(
    *, tenant: Tenant, agent_id: int, period_key: str, points: int
) -> LedgerEntry | None:
    """Credit floor(points / points_per_coin) coins for a finalized period, once per agent and
    period. None when the tenant converts nothing (no active rule) or it comes to 0 coins.

    Called again for the same period (a retried finalization, late points), it returns the
    first conversion and credits nothing more: finalized results are frozen.
    """
    rule = ConversionRule.objects.for_tenant(tenant).filter(active=True).first()
    if rule is None or points <= 0:
        return None
    coins = min(points // rule.points_per_coin, MAX_AMOUNT)
    if coins <= 0:
        return None
    return wallet_credit(
        tenant=tenant,
        agent_id=agent_id,
        amount=coins,
        kind=LedgerEntry.Kind.CONVERSION,
        reference=f"conversion:{period_key} ({points} points at {rule.points_per_coin}/coin)",
        idempotency_key=f"conversion:{period_key}:{agent_id}",
    )
