"""Managers keep the rewards catalogue and decide redemptions in the admin, through the same
services (and validation) as the API. The ledger and the balances are read-only here:
coins move only through the services, and corrections are new entries."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

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
            messages.warning(
                request,
                gettext("%(reward)s has redemptions: it was deactivated instead.")
                % {"reward": obj},
            )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Reward]) -> None:
        for reward in queryset:
            self.delete_model(request, reward)


class RejectForm(forms.Form):
    note = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The agent sees it with the rejected redemption (their store, the API)."),
    )


REJECTABLE = (Redemption.Status.REQUESTED, Redemption.Status.APPROVED)
# The message after a decision, by action, for `count` redemptions.
DONE = {
    "approve": lambda n: ngettext(
        "%(count)s redemption approved.", "%(count)s redemptions approved.", n
    ),
    "reject": lambda n: ngettext(
        "%(count)s redemption rejected.", "%(count)s redemptions rejected.", n
    ),
    "fulfil": lambda n: ngettext(
        "%(count)s redemption fulfilled.", "%(count)s redemptions fulfilled.", n
    ),
}


@admin.register(Redemption)
class RedemptionAdmin(TenantScopedAdmin):
    change_form_template = "admin/wallet/redemption_change_form.html"
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

    def _decide(
        self, request: HttpRequest, queryset: QuerySet[Redemption], action: str, note: str = ""
    ) -> None:
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
                    note=note,
                )
                done += 1
            except ApplicationError as exc:
                messages.warning(
                    request,
                    gettext("Redemption #%(id)s: %(problem)s")
                    % {"id": redemption.pk, "problem": problem_message(exc)},
                )
        if done:
            messages.success(request, DONE[action](done) % {"count": done})

    @admin.action(description=_("Approve the selected redemptions"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self._decide(request, queryset, "approve")

    @admin.action(
        description=_("Reject the selected redemptions (refund coins and stock)"),
        permissions=["change"],
    )
    def reject(
        self, request: HttpRequest, queryset: QuerySet[Redemption]
    ) -> TemplateResponse | None:
        """First a page asking for the reason (the agent reads it), then the rejection."""
        if not request.user.is_superuser:
            queryset = queryset.filter(tenant_id__in=tenant_ids(request, write=True))
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            self._decide(request, queryset, "reject", note=form.cleaned_data["note"])
            return None
        chosen = list(queryset.select_related("agent", "reward"))
        for closed in (r for r in chosen if r.status not in REJECTABLE):
            messages.warning(
                request,
                gettext("Redemption #%(id)s (%(status)s) cannot be rejected.")
                % {"id": closed.pk, "status": closed.get_status_display()},
            )
        rejectable = [r for r in chosen if r.status in REJECTABLE]
        if not rejectable:
            return None
        return self._reject_page(request, rejectable, form)

    def _reject_page(
        self,
        request: HttpRequest,
        redemptions: list[Redemption],
        form: RejectForm,
        single: bool = False,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Reject redemptions"),
            "opts": self.model._meta,
            "redemptions": redemptions,
            "form": form,
            "single": single,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/wallet/redemption_reject.html", context)

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/reject/", wrap(self.reject_view), name="redemption-reject"),
            *super().get_urls(),
        ]

    def reject_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """One redemption, from its page: the reason, then the rejection."""
        redemption = self.get_object(request, unquote(object_id))
        if redemption is None:
            raise Http404("No such redemption.")  # another tenant's does not exist here
        if not self.has_change_permission(request, redemption):
            raise PermissionDenied
        form = RejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            queryset = self.get_queryset(request).filter(pk=redemption.pk)
            self._decide(request, queryset, "reject", note=form.cleaned_data["note"])
            return HttpResponseRedirect(
                reverse("admin:wallet_redemption_change", args=[redemption.pk])
            )
        return self._reject_page(request, [redemption], form, single=True)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        context["can_reject"] = (
            obj is not None
            and obj.status in REJECTABLE
            and self.has_change_permission(request, obj)
        )
        return super().changeform_view(request, object_id, form_url, context)

    @admin.action(description=_("Mark the selected redemptions fulfilled"), permissions=["change"])
    def fulfil(self, request: HttpRequest, queryset: QuerySet[Redemption]) -> None:
        self._decide(request, queryset, "fulfil")


@admin.register(ConversionRule)
class ConversionRuleAdmin(TenantScopedAdmin):
    list_display = ["tenant", "points_per_coin", "active"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        saved = services.conversion_rule_set(
            tenant=obj.tenant, points_per_coin=obj.points_per_coin, active=obj.active
        )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        services.conversion_rule_delete(tenant=obj.tenant)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for rule in queryset.select_related("tenant"):
            services.conversion_rule_delete(tenant=rule.tenant)
