"""Managers edit point rules, levels and badges in the admin through the same services (and
validation) as the API; saving a rule recomputes open periods exactly as the API does."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from accounts.admin import TenantScopedAdmin, problem_message
from accounts.api.problems import Problem
from gamify.game import services
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


class PointRuleForm(forms.ModelForm[PointRule]):
    class Meta:
        model = PointRule
        fields = ["tenant", *services.RULE_FIELDS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is not None and not self.errors:
            values = {k: data.get(k) for k in services.RULE_FIELDS}
            try:
                cleaned = services.point_rule_validate(tenant=tenant, values=values)
            except Problem as exc:
                for field, messages in exc.errors.items():
                    target = field if field in self.fields else None
                    self.add_error(target, messages)
            else:
                data["op"] = cleaned["op"]
        return data


@admin.register(PointRule)
class PointRuleAdmin(TenantScopedAdmin):
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
        return [str(rule) for rule in objs], {"point rules": len(objs)}, set(), []

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for rule in queryset:
            services.point_rule_delete(rule=rule)


class BadgeForm(forms.ModelForm[Badge]):
    class Meta:
        model = Badge
        fields = [
            "tenant",
            "code",
            "name",
            "description",
            "icon",
            "coins",
            "repeatable",
            "criteria",
            "active",
        ]
        help_texts = {
            "criteria": 'e.g. {"kind": "streak", "kpi": "adherence", "op": ">=", '
            '"threshold": 95, "period": "day", "length": 5}'
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        code = data.get("code")
        if code and not self.instance.pk and services.badge_code_errors(code):
            self.add_error("code", services.badge_code_errors(code))
        if tenant is not None and "criteria" in data:
            try:
                data.update(services.badge_validate(tenant=tenant, values=data))
            except Problem as exc:
                field = next(iter(exc.errors), "criteria").split(".")[0]
                self.add_error(field if field in self.fields else None, problem_message(exc))
        return data


@admin.register(Badge)
class BadgeAdmin(TenantScopedAdmin):
    form = BadgeForm
    list_display = ["code", "name", "icon", "coins", "repeatable", "kind_label", "active", "tenant"]
    list_filter = ["active", "repeatable"]
    search_fields = ["code", "name"]

    @admin.display(description="criteria")
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
        except Problem as exc:
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


class ReadOnlyAdmin(TenantScopedAdmin):
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
