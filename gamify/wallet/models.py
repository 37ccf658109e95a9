"""Coins: the ledger (append-only), the balance it implies, the rewards and their redemptions.

The database holds the invariants, the services are a second line:
* a balance is never negative (`CHECK balance >= 0`) and always equals the sum of the agent's
  ledger entries, because both are written in one transaction by `services.py`;
* an idempotency key moves coins at most once per tenant (unique constraint);
* a ledger entry is never updated (the ORM refuses, and a trigger refuses any UPDATE).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Agent, Tenant, TenantOwned, TenantQuerySet

MAX_AMOUNT = 1_000_000_000  # the largest single movement of coins
MAX_QUANTITY = 100  # units of one reward in one redemption


class LedgerAppendOnly(RuntimeError):
    """Something tried to change or delete a ledger entry: corrections are new entries."""


class LedgerQuerySet(TenantQuerySet):
    """Bulk updates and deletes would bypass `LedgerEntry.save`/`delete`: refuse them too."""

    def update(self, **kwargs: Any) -> NoReturn:
        raise LedgerAppendOnly("Ledger entries are never updated; add a correction entry.")

    def delete(self) -> NoReturn:
        raise LedgerAppendOnly("Ledger entries are never deleted; add a correction entry.")


class LedgerKind(models.TextChoices):  # labels translated for the admin
    BADGE_PRIZE = "badge_prize", _("Badge prize")
    CONTEST_PRIZE = "contest_prize", _("Contest prize")
    CONVERSION = "conversion", _("Points conversion")
    GRANT = "grant", _("Grant")
    REDEMPTION = "redemption", _("Redemption")
    REFUND = "refund", _("Refund")
    CORRECTION = "correction", _("Correction")


class RedemptionStatus(models.TextChoices):
    # Labels translated for the admin (the API answers the values).
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    FULFILLED = "fulfilled", _("Fulfilled")


class LedgerEntry(TenantOwned):
    """One movement of coins: positive credits, negative debits."""

    Kind = LedgerKind

    agent = models.ForeignKey(
        Agent, on_delete=models.RESTRICT, related_name="+", verbose_name=_("agent")
    )
    amount = models.BigIntegerField(_("amount"))
    # The balance right after this entry: the running total an auditor would recompute.
    balance_after = models.BigIntegerField(_("balance after"))
    kind = models.CharField(_("kind"), max_length=20, choices=LedgerKind.choices)
    reference = models.CharField(_("reference"), max_length=500, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255)
    actor = models.CharField(_("actor"), max_length=160, default="system")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = LedgerQuerySet.as_manager()  # type: ignore[misc]

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="ledger_unique_idempotency_key"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=LedgerKind.values), name="ledger_kind_valid"
            ),
            # Debits are redemptions (and corrections); everything else adds coins.
            models.CheckConstraint(
                condition=Q(amount__lt=0, kind__in=["redemption", "correction"])
                | (Q(amount__gt=0) & ~Q(kind="redemption")),
                name="ledger_amount_sign",
            ),
            models.CheckConstraint(
                condition=Q(balance_after__gte=0), name="ledger_balance_after_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "agent", "-id"], name="ledger_agent_feed")]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.kind} (agent {self.agent_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise LedgerAppendOnly("Ledger entries are never updated; add a correction entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LedgerAppendOnly("Ledger entries are never deleted; add a correction entry.")


class Wallet(TenantOwned):
    """An agent's balance: Σ of its ledger entries, kept in the same transaction."""

    agent = models.ForeignKey(
        Agent, on_delete=models.RESTRICT, related_name="+", verbose_name=_("agent")
    )
    balance = models.BigIntegerField(_("balance"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "agent"], name="wallet_unique_agent"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_non_negative"),
        ]

    def __str__(self) -> str:
        return f"agent {self.agent_id}: {self.balance} coins"


class Reward(TenantOwned):
    """An item of the tenant's store. `stock` is the units left (None: unlimited)."""

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    image_url = models.URLField(_("image URL"), max_length=500, null=True, blank=True)  # noqa: DJ001 - null is the API's 'no image'
    cost = models.PositiveIntegerField(_("cost"), help_text=_("Coins per unit"))
    stock = models.PositiveIntegerField(
        _("stock"), null=True, blank=True, help_text=_("Units left; empty means unlimited")
    )
    per_agent_monthly_limit = models.PositiveIntegerField(
        _("monthly limit per agent"),
        null=True,
        blank=True,
        help_text=_("Most units one agent may redeem per calendar month"),
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        constraints = [
            models.CheckConstraint(condition=Q(cost__gt=0), name="reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0), name="reward_stock_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(per_agent_monthly_limit__isnull=True)
                | Q(per_agent_monthly_limit__gte=1),
                name="reward_monthly_limit_positive",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "active", "id"], name="reward_catalogue")]

    def __str__(self) -> str:
        return self.name


class Redemption(TenantOwned):
    """An agent spending coins on a reward: requested → approved → fulfilled, or rejected."""

    Status = RedemptionStatus

    agent = models.ForeignKey(
        Agent, on_delete=models.RESTRICT, related_name="+", verbose_name=_("agent")
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.RESTRICT, related_name="redemptions", verbose_name=_("reward")
    )
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_cost = models.PositiveIntegerField(
        _("unit cost"), help_text=_("The reward's cost when requested")
    )
    total_cost = models.BigIntegerField(_("total cost"))
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=RedemptionStatus.choices,
        default=RedemptionStatus.REQUESTED,
    )
    request_key = models.CharField(_("request key"), max_length=255)
    requested_by = models.CharField(_("requested by"), max_length=160)
    note = models.CharField(
        _("note"), max_length=500, blank=True, help_text=_("The manager's last note")
    )
    decided_by = models.CharField(_("decided by"), max_length=160, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    fulfilled_at = models.DateTimeField(_("fulfilled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("redemption")
        verbose_name_plural = _("redemptions")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request_key"], name="redemption_unique_request_key"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="redemption_quantity_valid",
            ),
            models.CheckConstraint(
                condition=Q(total_cost=F("unit_cost") * F("quantity")),
                name="redemption_total_cost",
            ),
            models.CheckConstraint(
                condition=Q(status__in=RedemptionStatus.values), name="redemption_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="redemption_list"),
            models.Index(fields=["tenant", "status", "-id"], name="redemption_status_list"),
            models.Index(fields=["tenant", "agent", "-id"], name="redemption_agent_list"),
            models.Index(
                fields=["tenant", "agent", "reward", "created_at"], name="redemption_monthly"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.quantity}× reward {self.reward_id} ({self.status})"


class ConversionRule(TenantOwned):
    """A tenant's points-to-coins rate, applied once per agent per finalized period."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="+", verbose_name=_("tenant")
    )
    points_per_coin = models.PositiveIntegerField(
        _("points per coin"), help_text=_("e.g. 10: 10 points give 1 coin")
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("conversion rule")
        verbose_name_plural = _("conversion rules")
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_coin__gte=1), name="conversion_rate_positive"
            )
        ]

    def __str__(self) -> str:
        return f"{self.points_per_coin} points = 1 coin"
