"""Managers edit goals, alert rules and scorecard settings in the admin through the same
services (and validation) as the API, and read an agent's or a team's scorecard on a page of
its own, linked from the agent and team change pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from accounts.admin import TenantScopedAdmin, tenant_ids
from accounts.models import Agent, Team, Tenant
from core.errors import ApplicationError
from core.localdates import admin_datetime
from gamify.coaching import selectors, services
from gamify.coaching.models import AlertRule, CoachingSettings, Goal
from gamify.coaching.progress import goals_progress
from kpis.admin import KpiNameColumns
from kpis.catalogue import kpi_choices
from kpis.periods import PERIOD_TYPES, parse_period

BLANK = [("", "---------")]
PERIOD_NAMES = {
    "day": _("day"),
    "week": _("week"),
    "month": _("month"),
    "quarter": _("quarter"),
    "year": _("year"),
}
GOAL_SCOPES = {"agent": _("agent"), "team": _("team"), "tenant": _("tenant")}
GOAL_STATUSES = {
    "on_track": _("on track"),
    "at_risk": _("at risk"),
    "achieved": _("achieved"),
    "missed": _("missed"),
}


def copy_errors(
    form: forms.BaseForm, exc: ApplicationError, aliases: dict[str, str] | None = None
) -> None:
    """A service's field errors onto the form's fields (the page-level list otherwise)."""
    for field, messages_ in exc.errors.items():
        name = (aliases or {}).get(field, field)
        form.add_error(name if name in form.fields else None, messages_)


class GoalForm(forms.ModelForm[Goal]):
    tenant: Tenant | None = None  # set by TenantScopedAdmin.get_form
    kpi = forms.ChoiceField(label=_("KPI"), help_text=_("A KPI of the tenant's catalogue"))
    op = forms.ChoiceField(
        label=_("Comparison"),
        required=False,
        choices=[("", _("the KPI's better side")), (">=", _("≥ at least")), ("<=", _("≤ at most"))],
    )

    class Meta:
        model = Goal
        fields = ["tenant", *services.GOAL_FIELDS]
        labels = {
            "tenant": _("Tenant"),
            "name": _("Name"),
            "target": _("Target"),
            "period": _("Period"),
            "start": _("Start"),
            "deadline": _("Deadline"),
            "agent": _("Agent"),
            "team": _("Team"),
            "min_volume": _("Minimum volume"),
            "active": _("Active"),
        }
        help_texts = {
            "agent": _("The agent the goal is for; leave agent and team blank for the tenant"),
            "team": _("The team (its own figures, sub-teams included)"),
            "period": _("Recurring every period; or leave blank and give a deadline"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kpi"].choices = BLANK + kpi_choices(self.tenant)  # type: ignore[attr-defined]
        self.fields["start"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is not None and not self.errors:
            values = {k: data.get(k) for k in services.GOAL_FIELDS}
            previous = self.instance if self.instance.pk else None
            try:
                cleaned = services.goal_validate(tenant=tenant, values=values, previous=previous)
            except ApplicationError as exc:
                copy_errors(self, exc, {"scope": "agent"})
            else:
                data.update(cleaned)
        return data


@admin.register(Goal)
class GoalAdmin(KpiNameColumns, TenantScopedAdmin):
    form = GoalForm
    list_display = [
        "__str__",
        "kpi",
        "op",
        "target",
        "period",
        "deadline",
        "scope",
        "status",
        "active",
        "tenant",
    ]
    list_filter = ["active", "period", "kpi"]
    search_fields = ["name", "kpi", "agent__external_id", "team__external_id"]
    list_select_related = ["agent", "team", "tenant"]

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # Progress for the page's goals at once (bounded queries), per tenant.
        by_tenant: dict[int, list[Goal]] = {}
        for goal in changelist.result_list:
            by_tenant.setdefault(goal.tenant_id, []).append(goal)
        progress: dict[int, Any] = {}
        for goals in by_tenant.values():
            progress.update(goals_progress(tenant=goals[0].tenant, goals=goals))
        request._coaching_progress = progress  # type: ignore[attr-defined]
        return changelist

    @admin.display(description=_("scope"))
    def scope(self, obj: Goal) -> str:
        return str(GOAL_SCOPES.get(obj.scope, obj.scope))

    @admin.display(description=_("Status"))
    def status(self, obj: Goal) -> str:

        return "-"  # replaced per request by get_list_display (progress read per page)

    def get_list_display(self, request: HttpRequest) -> Any:
        def status(obj: Goal) -> str:
            progress = getattr(request, "_coaching_progress", {}).get(obj.pk)
            return str(GOAL_STATUSES.get(progress.status, progress.status)) if progress else "-"

        status.short_description = _("Status")  # type: ignore[attr-defined]
        return [status if c == "status" else c for c in super().get_list_display(request)]

    def get_urls(self) -> list[URLPattern]:
        views = [
            path(
                "scorecard/agent/<int:agent_id>/",
                self.admin_site.admin_view(self.agent_scorecard_view),
                name="coaching_scorecard_agent",
            ),
            path(
                "scorecard/team/<int:team_id>/",
                self.admin_site.admin_view(self.team_scorecard_view),
                name="coaching_scorecard_team",
            ),
        ]
        return views + super().get_urls()

    def save_model(self, request: HttpRequest, obj: Goal, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise Http404
        values = {k: getattr(obj, k) for k in services.GOAL_FIELDS}
        if change:
            saved = services.goal_update(goal=Goal.objects.get(pk=obj.pk), changes=values)
        else:
            saved = services.goal_create(tenant=obj.tenant, values=values)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: Goal) -> None:
        services.goal_delete(goal=obj)  # audited, as from the API

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Goal]) -> None:
        for goal in queryset:
            services.goal_delete(goal=goal)

    # --- scorecard pages ---------------------------------------------------------------
    def _visible(self, request: HttpRequest, tenant_id: int) -> None:
        if not request.user.is_superuser and tenant_id not in tenant_ids(request):
            raise Http404  # another tenant's agent is simply not found

    def _period(self, request: HttpRequest, tenant: Tenant) -> Any:
        params: dict[str, str] = {
            k: str(v) for k, v in request.GET.items() if k in ("period", "date") and v
        }
        params.setdefault("period", "week")
        try:
            return parse_period(params, tenant, default="week")
        except ApplicationError as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items()))
            return parse_period({"period": "week"}, tenant)

    def _render(
        self, request: HttpRequest, title: str, tenant: Tenant, period: Any, context: dict[str, Any]
    ) -> TemplateResponse:
        tz = tenant.tz
        return TemplateResponse(
            request,
            "admin/coaching/scorecard.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "tenant": tenant,
                "period_types": [(p, PERIOD_NAMES.get(p, p)) for p in PERIOD_TYPES if p != "all"],
                "period": period,
                # Formatted here: the template's date filter would show the server's zone.
                "period_start": admin_datetime(period.start, tz) if period.start else "",
                "period_end": admin_datetime(period.end, tz) if period.end else "",
                "chosen_date": request.GET.get("date", ""),
                "opts": self.model._meta,
                **context,
            },
        )

    def agent_scorecard_view(self, request: HttpRequest, agent_id: int) -> HttpResponse:
        agent = Agent.objects.select_related("team", "tenant").filter(pk=agent_id).first()
        if agent is None:
            raise Http404
        self._visible(request, agent.tenant_id)
        period = self._period(request, agent.tenant)
        card = selectors.agent_scorecard(tenant=agent.tenant, agent=agent, period=period)
        return self._render(
            request,
            _("Scorecard: %(name)s") % {"name": agent.display_name},
            agent.tenant,
            period,
            {
                "card": card,
                "subject": agent,
                "back": reverse("admin:accounts_agent_change", args=[agent.pk]),
            },
        )

    def team_scorecard_view(self, request: HttpRequest, team_id: int) -> HttpResponse:
        team = Team.objects.select_related("tenant").filter(pk=team_id).first()
        if team is None:
            raise Http404
        self._visible(request, team.tenant_id)
        period = self._period(request, team.tenant)
        sort = request.GET.get("sort", "name")
        try:
            card = selectors.team_scorecard(tenant=team.tenant, team=team, period=period, sort=sort)
        except ApplicationError as exc:
            messages.error(request, "; ".join(" ".join(v) for v in exc.errors.values()))
            card = selectors.team_scorecard(tenant=team.tenant, team=team, period=period)
        pages = dict(
            Agent.objects.for_tenant(team.tenant)
            .filter(external_id__in=[r["agent"] for r in card["agents"]])
            .values_list("external_id", "id")
        )
        for row in card["agents"]:
            row["admin_url"] = reverse("admin:coaching_scorecard_agent", args=[pages[row["agent"]]])
        return self._render(
            request,
            _("Scorecard: %(name)s") % {"name": team.name},
            team.tenant,
            period,
            {
                "team_card": card,
                "subject": team,
                "columns": [i["code"] for i in card["agents"][0]["kpis"]] if card["agents"] else [],
                "back": reverse("admin:accounts_team_change", args=[team.pk]),
            },
        )


class AlertRuleForm(forms.ModelForm[AlertRule]):
    tenant: Tenant | None = None  # set by TenantScopedAdmin.get_form
    kpi = forms.ChoiceField(
        label=_("KPI"),
        required=False,
        help_text=_("Required for team_average; blank: any goal's KPI"),
    )

    class Meta:
        model = AlertRule
        fields = ["tenant", *services.RULE_FIELDS]
        labels = {
            "tenant": _("Tenant"),
            "name": _("Name"),
            "kind": _("Kind"),
            "basis": _("Basis"),
            "percent": _("Percent"),
            "periods": _("Periods in a row"),
            "period": _("Period"),
            "min_volume": _("Minimum volume"),
            "cooldown_minutes": _("Cool-down (minutes)"),
            "active": _("Active"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = BLANK + kpi_choices(self.tenant, measured_for="agent")
        self.fields["kpi"].choices = choices  # type: ignore[attr-defined]
        # The model's own minimum would answer before the service: one message, the service's.
        periods: Any = self.fields["periods"]
        periods.min_value = None
        periods.validators = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is not None and not self.errors:
            values = {k: data.get(k) for k in services.RULE_FIELDS}
            try:
                data.update(services.alert_rule_validate(tenant=tenant, values=values))
            except ApplicationError as exc:
                copy_errors(self, exc)
        return data


@admin.register(AlertRule)
class AlertRuleAdmin(KpiNameColumns, TenantScopedAdmin):
    form = AlertRuleForm
    list_display = [
        "name",
        "kind",
        "basis",
        "kpi",
        "percent",
        "periods",
        "period",
        "cooldown_minutes",
        "active",
        "tenant",
    ]
    list_filter = ["active", "kind", "basis", "period"]
    search_fields = ["name", "kpi"]

    def save_model(self, request: HttpRequest, obj: AlertRule, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise Http404
        values = {k: getattr(obj, k) for k in services.RULE_FIELDS}
        if change:
            saved = services.alert_rule_update(
                rule=AlertRule.objects.get(pk=obj.pk), changes=values
            )
        else:
            saved = services.alert_rule_create(tenant=obj.tenant, values=values)
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: AlertRule) -> None:
        services.alert_rule_delete(rule=obj)  # audited, as from the API

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AlertRule]) -> None:
        for rule in queryset:
            services.alert_rule_delete(rule=rule)


class CoachingSettingsForm(forms.ModelForm[CoachingSettings]):
    tenant: Tenant | None = None
    scorecard_kpis = forms.CharField(
        required=False,
        label=_("Scorecard KPIs"),
        help_text=_("KPI codes in order, separated by commas; blank: the default list"),
    )

    class Meta:
        model = CoachingSettings
        fields = ["tenant", "scorecard_kpis", "close_band_percent", "move_counts_as_leaving"]
        labels = {
            "tenant": _("Tenant"),
            "close_band_percent": _("Close band (%)"),
            "move_counts_as_leaving": _("A move counts as leaving"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["scorecard_kpis"] = ", ".join(self.instance.scorecard_kpis)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is not None and not self.errors:
            raw = str(data.get("scorecard_kpis") or "")
            changes = {
                "scorecard_kpis": [c.strip() for c in raw.split(",") if c.strip()],
                "close_band_percent": data.get("close_band_percent"),
                "move_counts_as_leaving": bool(data.get("move_counts_as_leaving")),
            }
            try:
                data.update(services.coaching_settings_validate(tenant=tenant, changes=changes))
            except ApplicationError as exc:
                copy_errors(self, exc)
        return data


@admin.register(CoachingSettings)
class CoachingSettingsAdmin(TenantScopedAdmin):
    form = CoachingSettingsForm
    list_display = ["tenant", "close_band_percent", "move_counts_as_leaving"]

    def save_model(
        self, request: HttpRequest, obj: CoachingSettings, form: Any, change: bool
    ) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise Http404
        services.coaching_settings_update(
            tenant=obj.tenant,
            changes={
                "scorecard_kpis": form.cleaned_data["scorecard_kpis"],
                "close_band_percent": obj.close_band_percent,
                "move_counts_as_leaving": obj.move_counts_as_leaving,
            },
        )
