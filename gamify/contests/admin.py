"""Managers create, schedule and cancel contests in the admin, through the same services (and
validation) as the API, picking participants among their own teams and agents; a contest's
page shows its current standings."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from accounts.admin import TenantScopedAdmin, problem_message, tenant_ids
from accounts.api.problems import Problem
from accounts.models import Agent, Team
from gamify.contests import selectors, services
from gamify.contests.models import Contest


class ContestForm(forms.ModelForm[Contest]):
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, help_text="Empty: everyone takes part"
    )
    agents = forms.ModelMultipleChoiceField(queryset=Agent.objects.none(), required=False)
    draft = forms.BooleanField(required=False, help_text="Keep as a draft (not scheduled)")

    class Meta:
        model = Contest
        fields = [
            "tenant",
            "name",
            "kind",
            "entity",
            "metric",
            "starts_at",
            "ends_at",
            "min_volume",
            "target",
            "guardrails",
            "prizes",
            "recurrence",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            chosen = self.instance.participants or {}
            self.initial["teams"] = Team.objects.filter(
                tenant_id=self.instance.tenant_id, external_id__in=chosen.get("teams", [])
            )
            self.initial["agents"] = Agent.objects.filter(
                tenant_id=self.instance.tenant_id, external_id__in=chosen.get("agents", [])
            )
            self.initial["draft"] = self.instance.status == Contest.Status.DRAFT

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant = data.get("tenant")
        if tenant is None or self.errors:
            return data
        values = {name: data.get(name) for name in services.FIELDS if name != "participants"}
        values["participants"] = {
            "teams": [t.external_id for t in data.get("teams") or [] if t.tenant_id == tenant.pk],
            "agents": [a.external_id for a in data.get("agents") or [] if a.tenant_id == tenant.pk],
        }
        try:
            self.cleaned_values = services.contest_validate(tenant=tenant, values=values)
        except Problem as exc:
            field = next(iter(exc.errors), "").split(".")[0]
            self.add_error(field if field in self.fields else None, problem_message(exc))
        return data


@admin.register(Contest)
class ContestAdmin(TenantScopedAdmin):
    form = ContestForm
    list_display = ["name", "kind", "entity", "metric", "starts_at", "ends_at", "status", "tenant"]
    list_filter = ["status", "kind", "entity"]
    search_fields = ["name"]
    readonly_fields = ["status", "standings"]
    actions = ["cancel"]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        allowed = None if request.user.is_superuser else tenant_ids(request, write=True)
        for name, model in (("teams", Team), ("agents", Agent)):
            queryset: QuerySet[Any] = model.objects.all()
            if allowed is not None:
                queryset = queryset.filter(tenant_id__in=allowed)
            if obj is not None:
                queryset = queryset.filter(tenant_id=obj.tenant_id)
            form.base_fields[name].queryset = queryset  # type: ignore[attr-defined]
        return form

    def save_model(self, request: HttpRequest, obj: Contest, form: Any, change: bool) -> None:
        values = dict(form.cleaned_values)
        draft = bool(form.cleaned_data.get("draft"))
        try:
            if change:
                saved = services.contest_update(contest=obj, changes=values, draft=draft)
            else:
                saved = services.contest_create(tenant=obj.tenant, values=values, draft=draft)
        except Problem as exc:
            messages.error(request, problem_message(exc))
            return
        obj.pk, obj.status = saved.pk, saved.status

    @admin.action(description="Cancel the selected contests")
    def cancel(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        done = 0
        for contest in queryset:
            try:
                services.contest_cancel(contest=contest)
                done += 1
            except Problem as exc:
                messages.warning(request, f"{contest}: {problem_message(exc)}")
        messages.success(request, f"{done} contest(s) cancelled.")

    @admin.display(description="Standings")
    def standings(self, obj: Contest) -> str:
        if obj.pk is None:
            return "-"
        body = selectors.standings_body(obj, limit=20)
        rows = [
            (e.get("rank", ""), e["display_name"], e["value"], e["volume"], "")
            for e in body["entries"]
        ] + [
            ("—", e["display_name"], e["value"], e["volume"], e["reason"])
            for e in body["not_qualified"]
        ]
        if not rows:
            return "No activity in the window yet."
        return format_html(
            "<table><tr><th>Rank</th><th>Name</th><th>Value</th><th>Volume</th><th></th></tr>"
            "{}</table>",
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
            ),
        )
