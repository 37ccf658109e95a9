"""Managers create, schedule and cancel contests in the admin, through the same services (and
validation) as the API, picking participants among their own teams and agents; a contest's
page shows its current standings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import TenantScopedAdmin, problem_message, tenant_ids
from accounts.models import Agent, Team, Tenant
from core.admin_fields import RowsField
from core.errors import ApplicationError
from gamify.contests import selectors, services
from gamify.contests.models import Contest
from gamify.game.models import Badge
from kpis.admin import KpiNameColumns
from kpis.catalogue import kpi_choices

BLANK: list[tuple[str, Any]] = [("", "---------")]
OPS: list[tuple[str, Any]] = [(">=", _("≥ at least")), ("<=", _("≤ at most"))]
NARROW = forms.NumberInput(attrs={"class": "vIntegerField"})  # the admin's width for numbers


def field_of(error_key: str, fields: Mapping[str, forms.Field]) -> tuple[str, str]:
    """(form field, where in it) of a service error key: "prizes.1.rank_to" is the prizes
    table's row 2, column "to rank"; "participants.teams.0" the teams field."""
    parts = error_key.split(".")
    if parts[0] == "participants" and len(parts) > 1:
        return parts[1], ""
    if len(parts) > 1 and parts[1].isdigit():
        where = gettext("Row %(number)s") % {"number": int(parts[1]) + 1}
        columns = getattr(fields.get(parts[0]), "columns", {})
        if len(parts) > 2:
            column = columns.get(parts[2])
            where += f", {column.label if column is not None else parts[2]}"
        return parts[0], where
    return parts[0], ""


class ContestForm(forms.ModelForm[Contest]):
    tenant: Tenant | None = None  # set by TenantScopedAdmin.get_form
    metric = forms.ChoiceField(
        label=_("Metric"), help_text=_("Points, or a KPI of the tenant's catalogue")
    )
    guardrails = RowsField(
        columns={
            "kpi": forms.ChoiceField(label=_("KPI")),
            "op": forms.ChoiceField(label=_("comparison"), choices=BLANK + OPS),
            "value": forms.FloatField(label=_("value"), widget=NARROW),
        },
        label=_("Guardrails"),
        help_text=_(
            "An entry qualifies only while each of these KPIs holds over the contest's "
            "window (e.g. CSAT at least 80). Blank rows are ignored."
        ),
    )
    prizes = RowsField(
        columns={
            "rank_from": forms.IntegerField(label=_("from rank"), widget=NARROW),
            "rank_to": forms.IntegerField(label=_("to rank"), required=False, widget=NARROW),
            "coins": forms.IntegerField(label=_("coins"), required=False, widget=NARROW),
            "badge": forms.ChoiceField(label=_("badge"), required=False),
        },
        label=_("Prizes"),
        help_text=_(
            "Ranks from–to win the coins and the badge (to rank: blank for one rank). "
            "A target contest pays its first prize to everyone who reaches the target."
        ),
    )
    teams = forms.ModelMultipleChoiceField(
        label=_("Teams"),
        queryset=Team.objects.none(),
        required=False,
        help_text=_("Empty: everyone takes part"),
    )
    agents = forms.ModelMultipleChoiceField(
        label=_("Agents"), queryset=Agent.objects.none(), required=False
    )
    draft = forms.BooleanField(
        label=_("Draft"), required=False, help_text=_("Keep as a draft (not scheduled)")
    )

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
        labels = {
            "tenant": _("Tenant"),
            "name": _("Name"),
            "kind": _("Kind"),
            "entity": _("Entity"),
            "starts_at": _("Starts at"),
            "ends_at": _("Ends at"),
            "min_volume": _("Minimum volume"),
            "target": _("Target"),
            "recurrence": _("Recurrence"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tenant = self.tenant
        self.fields["metric"].choices = [  # type: ignore[attr-defined]
            *BLANK,
            ("points", gettext("Points (points)")),
            *kpi_choices(tenant),
        ]
        # Guardrails are judged from the counters: built-in KPIs only, as the service says.
        rails = self.fields["guardrails"].columns  # type: ignore[attr-defined]
        rails["kpi"].choices = BLANK + kpi_choices(tenant, custom=False)
        badges = Badge.objects.for_tenant(tenant).order_by("name") if tenant else []
        self.fields["prizes"].columns["badge"].choices = [  # type: ignore[attr-defined]
            ("", gettext("no badge")),
            *((b.code, f"{b.icon} {b.name} ({b.code})".strip()) for b in badges),
        ]
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
        tenant = self.instance.tenant if self.instance.pk else data.get("tenant")
        if tenant is None or self.errors:
            return data
        if self.instance.pk and self.instance.status not in services.EDITABLE:
            # Said here, so the page shows the form again instead of "changed successfully"
            # (contest_update refuses it too, should the status move meanwhile).
            raise forms.ValidationError(
                gettext("A %(status)s contest can no longer be changed; cancel it instead.")
                % {"status": str(self.instance.get_status_display()).lower()}
            )
        values = {name: data.get(name) for name in services.FIELDS if name != "participants"}
        values["metric"] = data.get("metric") or None
        # A blank cell is a value not given (rank_to: the same as rank_from; coins: none).
        for name in ("guardrails", "prizes"):
            values[name] = [
                {k: v for k, v in row.items() if v not in (None, "")}
                for row in data.get(name) or []
            ]
        values["participants"] = {
            "teams": [t.external_id for t in data.get("teams") or [] if t.tenant_id == tenant.pk],
            "agents": [a.external_id for a in data.get("agents") or [] if a.tenant_id == tenant.pk],
        }
        try:
            self.cleaned_values = services.contest_validate(tenant=tenant, values=values)
        except ApplicationError as exc:
            self._show(exc)
        else:  # the rows as the service stores them (floats, defaults filled in)
            data["guardrails"] = self.cleaned_values["guardrails"]
            data["prizes"] = self.cleaned_values["prizes"]
        return data

    def _show(self, exc: ApplicationError) -> None:
        """Each service error on the field it names."""
        for key, problems in exc.errors.items():
            name, where = field_of(key, self.fields)
            words = " ".join(problems)
            message = f"{where}: {words}" if where else words
            self.add_error(name if name in self.fields else None, message)


@admin.register(Contest)
class ContestAdmin(KpiNameColumns, TenantScopedAdmin):
    form = ContestForm
    kpi_columns = ("metric",)
    list_display = ["name", "kind", "entity", "metric", "starts_at", "ends_at", "status", "tenant"]
    list_filter = ["status", "kind", "entity"]
    search_fields = ["name"]
    readonly_fields = ["status", "standings"]
    actions = ["cancel"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A contest stays with its tenant (the services keep the stored one): say so.
        fields = list(super().get_readonly_fields(request, obj))
        return ["tenant", *fields] if obj is not None else fields

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
            form.base_fields[name].queryset = queryset
        return form

    def save_model(self, request: HttpRequest, obj: Contest, form: Any, change: bool) -> None:
        values = dict(form.cleaned_values)
        draft = bool(form.cleaned_data.get("draft"))
        try:
            if change:
                saved = services.contest_update(contest=obj, changes=values, draft=draft)
            else:
                saved = services.contest_create(tenant=obj.tenant, values=values, draft=draft)
        except ApplicationError as exc:
            messages.error(request, problem_message(exc))
            return
        obj.pk, obj.status = saved.pk, saved.status

    @admin.action(description=_("Cancel the selected contests"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[Contest]) -> None:
        done = 0
        for contest in queryset:
            try:
                services.contest_cancel(contest=contest)
                done += 1
            except ApplicationError as exc:
                messages.warning(request, f"{contest}: {problem_message(exc)}")
        messages.success(
            request,
            ngettext("%(count)s contest cancelled.", "%(count)s contests cancelled.", done)
            % {"count": done},
        )

    @admin.display(description=_("Standings"))
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
            return gettext("No activity in the window yet.")
        return format_html(
            "<table class='gamify-standings'><caption>{}</caption><thead><tr>"
            "<th scope='col'>{}</th><th scope='col'>{}</th><th scope='col'>{}</th>"
            "<th scope='col'>{}</th><th scope='col'>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("Current standings (the first 20, then those not qualified)"),
            gettext("Rank"),
            gettext("Name"),
            gettext("Value"),
            gettext("Volume"),
            gettext("Why not ranked"),
            format_html_join(
                "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows
            ),
        )
