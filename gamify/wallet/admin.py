"""Managers keep the rewards catalogue and decide redemptions in the admin, through the same
services (and validation) as the API. The ledger and the balances are read-only here:
coins move only through the services, and corrections are new entries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accounts.admin import ReadOnlyAdmin, TenantScopedAdmin, problem_message, tenant_ids
from core.errors import ApplicationError
from gamify.wallet import services
from gamify.wallet.models import ConversionRule, LedgerEntry, Redemption, Reward, Wallet


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "agent",
        "amount",
        "balance_after",
        "kind",
        "reference",
        "actor",
        "tenant",
    ]
    list_filter = ["kind"]
    search_fields = ["agent__external_id", "agent__display_name", "reference", "idempotency_key"]
    list_select_related = ["agent", "tenant"]
    date_hierarchy = "created_at"


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    list_display = ["agent", "balance", "updated_at", "tenant"]
    search_fields = ["agent__external_id", "agent__display_name"]
    list_select_related = ["agent", "tenant"]


class RewardForm(forms.ModelForm[Reward]):
    class Meta:
        model = Reward
        fields = [
            "tenant",
            "name",
            "description",
            "image_url",
            "cost",
            "stock",
            "per_agent_monthly_limit",
            "active",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            values = {name: data.get(name) for name in services.REWARD_FIELDS}
            try:
                services.reward_validate(values=values)
            except ApplicationError as exc:
                for field, problems in exc.errors.items():
                    self.add_error(field if field in self.fields else None, problems)
        return data


@admin.register(Reward)
class RewardAdmin(TenantScopedAdmin):
    form = RewardForm
    list_display = ["name", "cost", "stock", "per_agent_monthly_limit", "active", "tenant"]
    list_filter = ["active"]
    search_fields = ["name"]
    list_select_related = ["tenant"]

    def save_model(self, request: HttpRequest, obj: Reward, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        values = {name: form.cleaned_data.get(name) for name in services.REWARD_FIELDS}
        if change:
            services.reward_update(reward=obj, changes=values)
        else:
            obj.pk = services.reward_create(tenant=obj.tenant, values=values).pk

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # Redemptions "protect" a reward from deletion, but deleting here deactivates a
        # redeemed reward instead (delete_model), and nothing else hangs off a reward: the
        # confirmation lists just the rewards rather than refusing.
        rewards = [str(obj) for obj in objs]
        return rewards, {Reward._meta.verbose_name_plural: len(rewards)}, set(), []

    def delete_model(self, request: HttpRequest, obj: Reward) -> None:
        if not services.reward_delete(reward=obj):
            messages.warning(request, f"{obj} has redemptions: it was deactivated instead.")

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        for reward in queryset:
            self.delete_model(request, reward)


@admin.register(Redemption)
class RedemptionAdmin(TenantScopedAdmin):
    list_display = [
        "id",
        "created_at",
        "agent",
        "reward",
        "quantity",
        "total_cost",
        "status",
        "decided_by",
        "tenant",
    ]
    list_filter = ["status"]  # not "reward": its choices would list every tenant's rewards
    search_fields = ["agent__external_id", "agent__display_name", "reward__name"]
    list_select_related = ["agent", "reward", "tenant"]
    readonly_fields = [
        "tenant",
        "agent",
        "reward",
        "quantity",
        "unit_cost",
        "total_cost",
        "status",
        "request_key",
        "requested_by",
        "note",
        "decided_by",
        "created_at",
        "decided_at",
        "fulfilled_at",
    ]
    actions = ["approve", "reject", "fulfil"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # agents redeem through the API (their store widget)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a redemption moved coins: it is rejected, never deleted

    def _decide(self, request: HttpRequest, queryset: QuerySet[Redemption], action: str) -> None:
        # Only where this user may write: a viewer of one tenant who manages another must not
        # decide the first one's redemptions.
        if not request.user.is_superuser:
            queryset = queryset.filter(tenant_id__in=tenant_ids(request, write=True))
        done = 0
        for redemption in queryset.select_related("tenant"):
            try:
                services.redemption_transition(
                    tenant=redemption.tenant,
                    redemption_id=redemption.pk,
                    action=action,
                    actor=f"user:{request.user.pk}",
                )
                done += 1
            except ApplicationError as exc:
                messages.warning(request, f"Redemption #{redemption.pk}: {problem_message(exc)}")
        if done:
            messages.success(request, f"{done} redemption(s) done: {action}.")

    @admin.action(description="Approve the selected redemptions", permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self._decide(request, queryset, "approve")

    @admin.action(
        description="Reject the selected redemptions (refund coins and stock)",
        permissions=["change"],
    )
    def reject(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self._decide(request, queryset, "reject")

    @admin.action(description="Mark the selected redemptions fulfilled", permissions=["change"])
    def fulfil(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self._decide(request, queryset, "fulfil")


@admin.register(ConversionRule)
class ConversionRuleAdmin(TenantScopedAdmin):
    list_display = ["tenant", "points_per_coin", "active"]
