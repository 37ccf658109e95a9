"""Managers edit point rules, levels and badges in the admin through the same services (and
validation) as the API; saving a rule recomputes open periods exactly as the API does."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import ReadOnlyAdmin, TenantScopedAdmin, problem_message, tenant_ids
from accounts.models import Tenant
from core.errors import ApplicationError
from gamify.game import admin_pages, services
from gamify.game.models import (
    Badge,
    BadgeAward,
    GameSettings,
    Level,
    PeriodClose,
    PointAdjustment,
    PointAward,
    PointRule,
)
from kpis.admin import KpiNameColumns
from kpis.catalogue import kpi_choices

BLANK = [("", "---------")]
__all__ = ["admin_pages"]  # imported for its registrations: the agent and team pages' panels


def agent_kpi_choices(tenant: Tenant | None) -> list[tuple[str, str]]:
    """Rules and badges judge agents: the tenant's KPIs measured per agent."""
    return BLANK + kpi_choices(tenant, measured_for="agent")


class PointRuleForm(forms.ModelForm[PointRule]):
    tenant: Tenant | None = None  # set by TenantScopedAdmin.get_form
    kpi = forms.ChoiceField(label=_("KPI"), help_text=_("A KPI of the tenant's catalogue"))

    class Meta:
        model = PointRule
        fields = ["tenant", *services.RULE_FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kpi"].choices = agent_kpi_choices(self.tenant)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is not None and not self.errors:
            values = {k: data.get(k) for k in services.RULE_FIELDS}
            try:
                cleaned = services.point_rule_validate(tenant=tenant, values=values)
            except ApplicationError as exc:
                for field, messages in exc.errors.items():
                    target = field if field in self.fields else None
                    self.add_error(target, messages)
            else:
                data["op"] = cleaned["op"]
        return data


@admin.register(PointRule)
class PointRuleAdmin(KpiNameColumns, TenantScopedAdmin):
    form = PointRuleForm
    list_display = ["name", "kpi", "kind", "points", "period", "active", "tenant"]
    list_filter = ["active", "kind", "period"]
    search_fields = ["name", "kpi"]

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(deleted=False)

    def save_model(self, request: HttpRequest, obj: PointRule, form: Any, change: bool) -> None:
        values = {k: getattr(obj, k) for k in services.RULE_FIELDS}
        if change:
            saved = services.point_rule_update(rule=obj, changes=values)
        else:
            saved = services.point_rule_create(tenant=obj.tenant, values=values)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: PointRule) -> None:
        services.point_rule_delete(rule=obj)

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # "Deleting" a rule retires it (its finalized awards are history and stay), so the
        # confirmation lists only the rules and asks for no permission on their awards.
        return (
            [str(rule) for rule in objs],
            {PointRule._meta.verbose_name_plural: len(objs)},
            set(),
            [],
        )

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rule in queryset:
            services.point_rule_delete(rule=rule)


KINDS = [
    ("kpi_threshold", _("KPI threshold over a period (judged when the period closes)")),
    ("count", _("Count of a KPI's units in a period (awarded at once)")),
    ("streak", _("Streak: periods in a row meeting a threshold")),
    ("points", _("Lifetime points milestone")),
    ("contest_place", _("Contest placement")),
]
# The criteria's fields, each a form field "criteria_<name>". Which kinds use which field is
# the service's CRITERIA_FIELDS; one filled in for a kind that does not use it is an error.
CRITERIA = ("kpi", "op", "threshold", "period", "min_volume", "count", "length", "points",
            "rank", "contest")  # fmt: skip


class BadgeForm(forms.ModelForm[Badge]):
    tenant: Tenant | None = None  # set by TenantScopedAdmin.get_form
    kind = forms.ChoiceField(label=_("Kind"), choices=KINDS)
    # Each criterion's help names the kinds that use it (the kind menu's words).
    criteria_kpi = forms.ChoiceField(
        label=_("KPI"), required=False, help_text=_("KPI threshold, count and streak badges")
    )
    criteria_op = forms.ChoiceField(
        label=_("Comparison"),
        required=False,
        choices=[("", _("the KPI's better side")), (">=", _("≥ at least")), ("<=", _("≤ at most"))],
        help_text=_("KPI threshold and streak badges"),
    )
    criteria_threshold = forms.FloatField(
        label=_("Threshold"), required=False, help_text=_("KPI threshold and streak badges")
    )
    criteria_period = forms.ChoiceField(
        label=_("Period"),
        required=False,
        choices=[
            *BLANK,
            ("day", _("day")),
            ("week", _("week")),
            ("month", _("month")),
            ("lifetime", _("lifetime")),
        ],
        help_text=_("KPI threshold, streak (day or week) and count badges (blank: lifetime)"),
    )
    criteria_min_volume = forms.FloatField(
        label=_("Minimum volume"),
        required=False,
        help_text=_("KPI threshold and streak badges: the KPI's volume needed in a period"),
    )
    criteria_count = forms.IntegerField(
        label=_("Count"), required=False, help_text=_("Count badges: how many units")
    )
    criteria_length = forms.IntegerField(
        label=_("Length"), required=False, help_text=_("Streak badges: how many periods in a row")
    )
    criteria_points = forms.IntegerField(
        label=_("Points"),
        required=False,
        help_text=_("Points milestone badges: the lifetime points to reach"),
    )
    criteria_rank = forms.IntegerField(
        label=_("Rank (at most)"), required=False, help_text=_("Contest placement badges")
    )
    criteria_contest = forms.IntegerField(
        label=_("Contest id"),
        required=False,
        help_text=_("Contest placement badges: one contest (blank: any contest)"),
    )

    class Meta:
        model = Badge
        fields = ["tenant", "code", "name", "description", "icon", "coins", "repeatable", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = agent_kpi_choices(self.tenant)
        self.fields["criteria_kpi"].choices = choices  # type: ignore[attr-defined]
        criteria = self.instance.criteria if self.instance.pk else {}
        self.initial["kind"] = criteria.get("kind")
        for name in CRITERIA:
            self.initial[f"criteria_{name}"] = criteria.get(name)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        code = data.get("code")
        if code and not self.instance.pk and services.badge_code_errors(code):
            self.add_error("code", services.badge_code_errors(code))
        unparsed = any(f"criteria_{name}" in self.errors for name in CRITERIA)
        if tenant is None or "kind" not in data or unparsed:
            return data
        criteria = {"kind": data["kind"]}
        for name in CRITERIA:
            value = data.get(f"criteria_{name}")
            if value not in (None, ""):
                criteria[name] = value
        try:
            clean = services.badge_validate(tenant=tenant, values={**data, "criteria": criteria})
        except ApplicationError as exc:
            for key, messages in exc.errors.items():
                field = {"criteria": "kind", "criteria.kind": "kind"}.get(
                    key, key.replace("criteria.", "criteria_")
                )
                self.add_error(field if field in self.fields else None, messages)
        else:
            data.update(clean)
            self.instance.criteria = clean["criteria"]
        return data


@admin.register(Badge)
class BadgeAdmin(TenantScopedAdmin):
    form = BadgeForm
    fieldsets = [
        (None, {"fields": ["tenant", "code", "name", "description", "icon", "coins"]}),
        (None, {"fields": ["repeatable", "active"]}),
        (
            _("Criteria"),
            {
                "fields": ["kind", *(f"criteria_{name}" for name in CRITERIA)],
                "description": _("Fill in the fields the kind uses (each says which kinds do)."),
            },
        ),
    ]
    list_display = ["code", "name", "icon", "coins", "repeatable", "kind_label", "active", "tenant"]
    list_filter = ["active", "repeatable"]
    search_fields = ["code", "name"]

    @admin.display(description=_("criteria"))
    def kind_label(self, obj: Badge) -> str:
        return json.dumps(obj.criteria)[:80]

    def save_model(self, request: HttpRequest, obj: Badge, form: Any, change: bool) -> None:
        values = {k: getattr(obj, k) for k in services.BADGE_FIELDS}
        if change:
            services.badge_update(badge=obj, changes=values)
        else:
            obj.pk = services.badge_create(tenant=obj.tenant, code=obj.code, values=values).pk

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # awarded badges are history: deactivate instead


class LevelForm(forms.ModelForm[Level]):
    class Meta:
        model = Level
        fields = ["tenant", "number", "name", "min_points"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is None or self.errors:
            return data
        table = {
            lv.number: {"number": lv.number, "name": lv.name, "min_points": lv.min_points}
            for lv in Level.objects.for_tenant(tenant).exclude(pk=self.instance.pk)
        }
        table[data["number"]] = {
            "number": data["number"], "name": data["name"], "min_points": data["min_points"]
        }  # fmt: skip
        try:
            services.levels_validate([table[n] for n in sorted(table)])
        except ApplicationError as exc:
            self.add_error(None, problem_message(exc))
        return data


@admin.register(Level)
class LevelAdmin(TenantScopedAdmin):
    form = LevelForm
    list_display = ["number", "name", "min_points", "tenant"]
    list_filter = ["tenant"]
    ordering = ["tenant", "number"]

    def save_model(self, request: HttpRequest, obj: Level, form: Any, change: bool) -> None:
        """A single level edited: validate and store the whole table through the service."""
        table = {
            lv.number: {"number": lv.number, "name": lv.name, "min_points": lv.min_points}
            for lv in Level.objects.for_tenant(obj.tenant)
        }
        if change:
            previous = Level.objects.get(pk=obj.pk)
            table.pop(previous.number, None)
        table[obj.number] = {"number": obj.number, "name": obj.name, "min_points": obj.min_points}
        rows = services.levels_replace(tenant=obj.tenant, levels=[table[n] for n in sorted(table)])
        obj.pk = next(r.pk for r in rows if r.number == obj.number)

    def _without(self, request: HttpRequest, levels: list[Level]) -> bool:
        """Store each tenant's table without `levels` through the service; False (and say
        why) when what is left is not a valid table (a gap in the numbers)."""
        by_tenant = {lv.tenant_id: lv.tenant for lv in levels}
        gone = {lv.pk for lv in levels}
        for tenant in by_tenant.values():
            rest = [
                {"number": lv.number, "name": lv.name, "min_points": lv.min_points}
                for lv in Level.objects.for_tenant(tenant).order_by("number")
                if lv.pk not in gone
            ]
            try:
                services.levels_replace(tenant=tenant, levels=rest)
            except ApplicationError as exc:
                messages.error(
                    request,
                    gettext("Not deleted — %(problem)s") % {"problem": problem_message(exc)},
                )

                setattr(request, "_gamify_level_kept", True)  # noqa: B010 - for response_delete
                return False
        return True

    def delete_model(self, request: HttpRequest, obj: Level) -> None:
        self._without(request, [obj])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        self._without(request, list(queryset.select_related("tenant")))

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        if getattr(request, "_gamify_level_kept", False):
            return HttpResponseRedirect(reverse("admin:game_level_changelist"))
        return super().response_delete(request, obj_display, obj_id)


@admin.register(PointAward)
class PointAwardAdmin(ReadOnlyAdmin):
    list_display = ["agent", "rule", "period_start", "points", "finalized"]
    list_filter = ["finalized"]
    list_select_related = ["agent", "rule"]


@admin.register(PointAdjustment)
class PointAdjustmentAdmin(ReadOnlyAdmin):
    list_display = ["agent", "points", "reason", "day", "actor", "created_at"]
    list_select_related = ["agent"]


@admin.register(BadgeAward)
class BadgeAwardAdmin(ReadOnlyAdmin):
    list_display = ["agent", "badge", "period_key", "coins", "awarded_at"]
    list_select_related = ["agent", "badge"]


@admin.register(PeriodClose)
class PeriodCloseAdmin(ReadOnlyAdmin):
    list_display = ["period", "start", "finalized_at", "tenant"]
    list_filter = ["period"]


class GameSettingsForm(forms.ModelForm[GameSettings]):
    grace_minutes = forms.IntegerField(
        label=capfirst(GameSettings._meta.get_field("grace_minutes").verbose_name),
        min_value=0,
        max_value=services.MAX_GRACE_MINUTES,
        help_text=GameSettings._meta.get_field("grace_minutes").help_text,
    )

    class Meta:
        model = GameSettings
        fields = ["tenant", "grace_minutes"]


@admin.register(GameSettings)
class GameSettingsAdmin(TenantScopedAdmin):
    form = GameSettingsForm
    list_display = ["tenant", "grace_minutes"]

    def save_model(self, request: HttpRequest, obj: GameSettings, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        services.game_settings_set(tenant=obj.tenant, grace_minutes=obj.grace_minutes)

    def delete_model(self, request: HttpRequest, obj: GameSettings) -> None:
        services.game_settings_delete(tenant=obj.tenant)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for row in queryset.select_related("tenant"):
            services.game_settings_delete(tenant=row.tenant)
