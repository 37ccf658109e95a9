"""The agent and team change pages with the game's figures: this week's KPIs (the tenant's
week, in its zone), points and badges; and, on the agent page, a manual coins grant and a
points adjustment, through the same services as the API.

AgentAdmin and TeamAdmin live in accounts (which may not import the game): this module
re-registers them with the game's additions. Everything added sits in its own template block
(`game_panel`) and its own URLs, so other additions to these pages merge beside it.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Sum
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.admin import AgentAdmin, TeamAdmin, problem_message, tenant_ids
from accounts.models import Agent, Team, Tenant
from accounts.selectors import team_descendants
from core.errors import ApplicationError
from core.localdates import admin_date
from core.times import day_range_error
from gamify.game import selectors as game_selectors
from gamify.game.exports import MAX_SPAN_DAYS, ExportPeriod, export_period, kpi_points_rows
from gamify.game.models import AgentDayPoints, BadgeAward
from gamify.game.services import MAX_POINTS, points_adjust
from gamify.wallet.models import MAX_AMOUNT
from gamify.wallet.selectors import wallet_balance
from gamify.wallet.services import wallet_grant
from kpis.catalogue import kpi_catalogue
from kpis.formulas import KpiValue, display_name
from kpis.periods import Period, local_today, period_of
from kpis.selectors import agent_kpis, team_kpis

BADGES_SHOWN = 10  # the latest badges on a page; the count says how many there are in all


@dataclass(frozen=True)
class KpiRow:
    code: str
    name: str
    unit: str
    value: float | None
    volume: int | float
    qualified: bool


@dataclass(frozen=True)
class BadgeRow:
    name: str
    icon: str
    agent: str
    awarded_at: Any


@dataclass(frozen=True)
class WeekPanel:
    """What a page shows of the current week; every figure is one bounded query."""

    period: Period
    first_day: Any
    last_day: Any
    kpis: list[KpiRow]
    points: dict[str, int]
    badges: list[BadgeRow]
    badges_this_week: int
    badges_total: int


def kpi_rows(tenant: Tenant, values: dict[str, KpiValue]) -> list[KpiRow]:
    catalogue = kpi_catalogue(tenant)
    return [
        KpiRow(
            code=code,
            name=display_name(code, catalogue[code].name),
            unit=catalogue[code].unit,
            value=value.value,
            volume=value.volume,
            qualified=value.qualified,
        )
        for code, value in values.items()
        if code in catalogue
    ]


def this_week(tenant: Tenant) -> Period:
    return period_of("week", local_today(tenant), tenant)


def agent_panel(agent: Agent) -> WeekPanel:
    tenant = agent.tenant
    week = this_week(tenant)
    first, after = game_selectors.period_days(tenant, "week")
    # The same one-statement read as the agent's card and profile: one way to these totals.
    game = game_selectors.agent_game(tenant=tenant, agent_id=agent.pk, badges=BADGES_SHOWN)
    points = {kind: game.points[kind] for kind in ("day", "week", "month", "lifetime")}
    awards = BadgeAward.objects.for_tenant(tenant).filter(agent_id=agent.pk)
    return WeekPanel(
        period=week,
        first_day=first,
        last_day=after.fromordinal(after.toordinal() - 1),
        kpis=kpi_rows(tenant, agent_kpis(tenant=tenant, agent=agent, period=week)),
        points=points,
        badges=[BadgeRow(b.name, b.icon, agent.display_name, b.awarded_at) for b in game.badges],
        badges_this_week=awards.filter(awarded_at__gte=week.start, awarded_at__lt=week.end).count(),
        badges_total=awards.count(),
    )


def team_panel(team: Team) -> WeekPanel:
    """The team's KPIs include its sub-teams (as the API's); so do its members' points."""
    tenant = team.tenant
    week = this_week(tenant)
    first, after = game_selectors.period_days(tenant, "week")
    subtree = team_descendants(tenant=tenant, team_id=team.pk)
    members = Agent.objects.for_tenant(tenant).filter(team_id__in=subtree).values("id")
    rows = AgentDayPoints.objects.filter(tenant=tenant, agent_id__in=members)
    week_points = rows.filter(day__gte=first, day__lt=after).aggregate(n=Sum("points"))["n"]
    awards = BadgeAward.objects.for_tenant(tenant).filter(agent_id__in=members)
    latest = awards.select_related("badge", "agent").order_by("-awarded_at", "-id")
    return WeekPanel(
        period=week,
        first_day=first,
        last_day=after.fromordinal(after.toordinal() - 1),
        kpis=kpi_rows(tenant, team_kpis(tenant=tenant, team=team, period=week)),
        points={
            "week": int(week_points or 0),
            "lifetime": int(rows.aggregate(n=Sum("points"))["n"] or 0),
        },
        badges=[
            BadgeRow(a.badge.name, a.badge.icon, a.agent.display_name, a.awarded_at)
            for a in latest[:BADGES_SHOWN]
        ],
        badges_this_week=awards.filter(awarded_at__gte=week.start, awarded_at__lt=week.end).count(),
        badges_total=awards.count(),
    )


class GrantForm(forms.Form):
    amount = forms.IntegerField(
        label=_("Coins"), min_value=1, max_value=MAX_AMOUNT, help_text=_("Coins to credit")
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, help_text=_("The agent sees it"))
    # One key per rendered form: a double submit grants once (the ledger's idempotency key).
    key = forms.UUIDField(widget=forms.HiddenInput)


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        min_value=-MAX_POINTS,
        max_value=MAX_POINTS,
        help_text=_("Positive adds, negative takes away; counted today"),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500)


PERIOD_CHOICES = [
    ("day", _("Day")),
    ("week", _("Week")),
    ("month", _("Month")),
    ("quarter", _("Quarter")),
    ("year", _("Year")),
    ("all", _("All time")),
    ("custom", _("Date range")),
]


class ExportForm(forms.Form):
    """What to export: a tenant's agents (optionally one team and its sub-teams) over a
    period of the tenant's calendar."""

    tenant = forms.ModelChoiceField(label=_("Tenant"), queryset=Tenant.objects.none())
    period = forms.ChoiceField(label=_("Period"), choices=PERIOD_CHOICES, initial="week")
    date = forms.DateField(
        label=_("Date"),
        required=False,
        help_text=_("A day of the period (blank: today); for a date range, its first day"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    end_date = forms.DateField(
        required=False,
        label=_("Last day"),
        help_text=_("For a date range: its last day, included"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.none(),
        required=False,
        help_text=_("Only the agents now in this team or its sub-teams (blank: every agent)"),
    )

    def __init__(self, *args: Any, tenants: Any, teams: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["tenant"]
        field.queryset = tenants
        team_field: Any = self.fields["team"]
        team_field.queryset = teams

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant, team = data.get("tenant"), data.get("team")
        if tenant is not None and team is not None and team.tenant_id != tenant.pk:
            self.add_error("team", _("The team belongs to another tenant."))
        for name in ("date", "end_date"):
            if data.get(name) is not None and (error := day_range_error(data[name])):
                self.add_error(name, error)
        if data.get("period") == "custom" and not self.errors:
            first, last = data.get("date"), data.get("end_date")
            if first is None:
                self.add_error("date", _("A date range needs its first day."))
            elif last is None:
                self.add_error("end_date", _("A date range needs its last day."))
            elif last < first:
                self.add_error("end_date", _("Must not be before the first day."))
            elif (last - first).days >= MAX_SPAN_DAYS:
                self.add_error("end_date", _("A date range spans at most 5 years."))
        return data


class Echo:
    """A file-like object whose write returns the line: csv.writer then feeds a stream."""

    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterator[list[str]]) -> Iterator[str]:
    writer = csv.writer(Echo())
    yield "\ufeff"  # a byte-order mark: spreadsheets then read UTF-8 (non-Latin names)
    for row in rows:
        yield writer.writerow(row)


class GameAgentAdmin(AgentAdmin):
    change_form_template = "admin/gamify/agent_change_form.html"
    change_list_template = "admin/gamify/agent_change_list.html"

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name="agent-kpi-export"),
            path(
                "<path:object_id>/grant/", wrap(require_POST(self.grant_view)), name="agent-grant"
            ),
            path(
                "<path:object_id>/adjust/",
                wrap(require_POST(self.adjust_view)),
                name="agent-adjust",
            ),
            *super().get_urls(),
        ]

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        agent = self.get_object(request, unquote(object_id)) if object_id else None
        if agent is not None and self.has_view_permission(request, agent):
            context["game_panel"] = agent_panel(agent)
            context["game_balance"] = wallet_balance(tenant=agent.tenant, agent_id=agent.pk)
            if self.has_change_permission(request, agent):
                context["grant_form"] = GrantForm(initial={"key": uuid.uuid4()})
                context["adjust_form"] = AdjustForm()
        return super().changeform_view(request, object_id, form_url, context)

    def export_view(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        """The form (GET without parameters, or with errors), else the CSV, streamed."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        visible = None if request.user.is_superuser else tenant_ids(request)
        tenants = Tenant.objects.all() if visible is None else Tenant.objects.filter(pk__in=visible)
        teams = (
            Team.objects.all() if visible is None else Team.objects.filter(tenant_id__in=visible)
        )
        # Another tenant's id is not a choice to be refused: it does not exist here.
        choices: tuple[tuple[str, Any], ...] = (("tenant", tenants), ("team", teams))
        for name, among in choices:
            raw = request.GET.get(name, "")
            if raw and (not raw.isdigit() or not among.filter(pk=int(raw)).exists()):
                raise Http404(f"No such {name}.")
        initial: dict[str, Any] = {"period": "week"}
        only = list(tenants.values_list("pk", flat=True)[:2])
        if len(only) == 1:
            initial["tenant"] = only[0]
        bound = bool(request.GET)
        form = ExportForm(
            request.GET if bound else None, initial=initial, tenants=tenants, teams=teams
        )
        if bound and form.is_valid():
            data = form.cleaned_data
            tenant: Tenant = data["tenant"]
            when: ExportPeriod = export_period(
                tenant=tenant,
                kind=data["period"],
                day=data["date"] or local_today(tenant),
                last_day=data["end_date"],
            )
            rows = kpi_points_rows(
                tenant=tenant, when=when, team_id=data["team"].pk if data["team"] else None
            )
            response = StreamingHttpResponse(
                csv_stream(rows), content_type="text/csv; charset=utf-8"
            )
            name = f"kpis-{tenant.slug}-{when.label}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        context = {
            **self.admin_site.each_context(request),
            "title": _("Export agents' KPIs and points (CSV)"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(
            request, "admin/gamify/agent_export.html", context, status=400 if bound else 200
        )

    def _writable_agent(self, request: HttpRequest, object_id: str) -> Agent:
        agent = self.get_object(request, unquote(object_id))
        if agent is None:
            raise Http404("No such agent.")  # another tenant's agent does not exist here
        if not self.has_change_permission(request, agent):
            raise PermissionDenied
        return agent

    def _back(self, agent: Agent) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:accounts_agent_change", args=[agent.pk]) + "#game-actions"
        )

    def _act(
        self,
        request: HttpRequest,
        object_id: str,
        form_class: type[forms.Form],
        act: Callable[[Agent, dict[str, Any]], str],
        refused: str,
    ) -> HttpResponse:
        """One manual action from the agent's page (a grant, an adjustment): the form checked,
        the service called as the API calls it (`act` returns the success message), any
        refusal said on the page, and back to the page's actions."""
        agent = self._writable_agent(request, object_id)
        form = form_class(request.POST)
        if not form.is_valid():
            errors = "; ".join(
                f"{form.fields[name].label if name in form.fields else name}: "
                f"{' '.join(str(m) for m in msgs)}"
                for name, msgs in form.errors.items()
            )
            messages.error(request, refused % {"errors": errors})
        else:
            try:
                messages.success(request, act(agent, form.cleaned_data))
            except ApplicationError as exc:
                messages.error(request, refused % {"errors": problem_message(exc)})
        return self._back(agent)

    def grant_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def grant(agent: Agent, data: dict[str, Any]) -> str:
            entry = wallet_grant(
                tenant=agent.tenant,
                agent=agent,
                amount=data["amount"],
                reason=data["reason"],
                actor=f"user:{request.user.pk}",
                idempotency_key=f"admin-grant:{data['key']}",
            )
            return gettext(
                "Granted %(amount)s coins to %(agent)s: the balance is now %(balance)s."
            ) % {"amount": entry.amount, "agent": agent, "balance": entry.balance_after}

        return self._act(
            request, object_id, GrantForm, grant, gettext("The grant was refused — %(errors)s")
        )

    def adjust_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        def adjust(agent: Agent, data: dict[str, Any]) -> str:
            adjustment = points_adjust(
                tenant=agent.tenant,
                agent=agent,
                points=data["points"],
                reason=data["reason"],
                actor=f"user:{request.user.pk}",
            )
            return gettext("Adjusted %(agent)s's points by %(points)s on %(day)s.") % {
                "agent": agent,
                "points": f"{adjustment.points:+d}",
                "day": admin_date(adjustment.day),
            }

        return self._act(
            request,
            object_id,
            AdjustForm,
            adjust,
            gettext("The adjustment was refused — %(errors)s"),
        )


class GameTeamAdmin(TeamAdmin):
    change_form_template = "admin/gamify/team_change_form.html"

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        team = self.get_object(request, unquote(object_id)) if object_id else None
        if team is not None and self.has_view_permission(request, team):
            context["game_panel"] = team_panel(team)
        return super().changeform_view(request, object_id, form_url, context)


admin.site.unregister(Agent)
admin.site.register(Agent, GameAgentAdmin)
admin.site.unregister(Team)
admin.site.register(Team, GameTeamAdmin)
