"""The Django admin, scoped by membership: a manager sees and changes only their tenants.

`TenantScopedAdmin` is the base of every tenant-owned model's admin in every app.
Owners and managers may change; viewers may only look; superusers see everything.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext, gettext_lazy
from rest_framework_api_key.models import APIKey

from accounts import services
from accounts.api.auth import forget_key
from accounts.models import Agent, AgentHistory, ApiKey, Membership, Team, Tenant
from core.errors import ApplicationError
from core.localdates import admin_datetime

WRITE_ROLES = (Membership.Role.OWNER, Membership.Role.MANAGER)


def tenant_ids(request: HttpRequest, *, write: bool = False) -> set[int]:
    """The tenants this admin user may see (or, with write=True, change)."""
    cache_attr = "_gamify_tenant_ids_write" if write else "_gamify_tenant_ids"
    cached = getattr(request, cache_attr, None)
    if cached is None:
        memberships = Membership.objects.filter(user_id=int(request.user.pk or 0))
        if write:
            memberships = memberships.filter(role__in=WRITE_ROLES)
        cached = set(memberships.values_list("tenant_id", flat=True))
        setattr(request, cache_attr, cached)
    return cached


def problem_message(exc: ApplicationError) -> str:
    if exc.errors:
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
    return str(exc.detail)


def zone_help(help_text: str, zone: str | None) -> str:
    """A datetime field's help text, saying in which zone it is read and shown."""
    where = (
        gettext("%(zone)s time (the tenant's time zone).") % {"zone": zone}
        if zone
        else gettext("In the chosen tenant's time zone.")
    )
    return f"{help_text} {where}".strip() if help_text else where


# Datetime columns' headers in the page's language (a model's field names are English).
TIME_LABELS = {
    "created_at": gettext_lazy("Created at"),
    "updated_at": gettext_lazy("Updated at"),
    "decided_at": gettext_lazy("Decided at"),
    "fulfilled_at": gettext_lazy("Fulfilled at"),
    "starts_at": gettext_lazy("Starts at"),
    "ends_at": gettext_lazy("Ends at"),
    "awarded_at": gettext_lazy("Awarded at"),
    "occurred_at": gettext_lazy("Occurred at"),
    "disabled_at": gettext_lazy("Disabled at"),
    "failing_since": gettext_lazy("Failing since"),
}


@admin.display(description=gettext_lazy("ID"), ordering="pk")
def id_column(obj: Any) -> Any:
    """The "id" column, headed in the page's language (Django's catalogues leave "ID" as is)."""
    return obj.pk


def local_time_column(
    field: str, label: str, zones: dict[int, str], shared: str | None
) -> Callable[[Any], str]:
    """A changelist column showing a datetime in its row's tenant's zone (`zones`: tenant id →
    zone). With one zone for every row the header names it; otherwise each cell does."""

    @admin.display(description=f"{label} ({shared})" if shared else label, ordering=field)
    def column(obj: Any) -> str:
        value = getattr(obj, field)
        if value is None:
            return "-"
        zone = zones.get(obj.pk if isinstance(obj, Tenant) else obj.tenant_id, "UTC")
        shown = admin_datetime(value, zoneinfo.ZoneInfo(zone))
        return shown if shared else f"{shown} {zone}"

    return column


class TenantTimesAdmin(admin.ModelAdmin[Any]):
    """Shows and reads every time of a page in the tenant's time zone, and says which.

    Django reads and renders datetimes in the *current* time zone (UTC by default), so a
    manager in Shanghai who typed 14:00 got 14:00 UTC, 22:00 local. Here a change page runs in
    its object's tenant's zone; an add page in the zone of the tenant chosen in the posted form
    (or `?tenant=<id>`), else of the only tenant the user may write to. A list shows each row
    in its own tenant's zone.
    """

    change_form_template = "admin/tenant_change_form.html"

    def tenant_object(self, obj: Model) -> Tenant | None:
        return obj if isinstance(obj, Tenant) else getattr(obj, "tenant", None)

    def form_tenant(self, request: HttpRequest, obj: Model | None = None) -> Tenant | None:
        """The tenant whose zone (and catalogue) a change or add page uses; None if unknown."""
        if obj is not None:
            return self.tenant_object(obj)
        if hasattr(request, "_gamify_form_tenant"):
            cached: Tenant | None = request._gamify_form_tenant
            return cached
        allowed = None if request.user.is_superuser else tenant_ids(request, write=True)
        chosen = (request.POST if request.method == "POST" else request.GET).get("tenant", "")
        candidates = (
            Tenant.objects.all() if allowed is None else Tenant.objects.filter(pk__in=allowed)
        )
        if chosen.isdigit():
            candidates = candidates.filter(pk=int(chosen))
        found = list(candidates[:2])
        tenant = found[0] if len(found) == 1 else None
        setattr(request, "_gamify_form_tenant", tenant)  # noqa: B010 - set once per request
        return tenant

    def list_zones(self, request: HttpRequest) -> dict[int, str]:
        """{tenant id: zone} of the tenants this user sees."""
        tenants = Tenant.objects.all()
        if not request.user.is_superuser:
            tenants = tenants.filter(pk__in=tenant_ids(request))
        return dict(tenants.values_list("id", "timezone"))

    @contextmanager
    def _in_zone(self, zone: str | None) -> Iterator[None]:
        if zone is None:
            yield
            return
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            yield

    @staticmethod
    def _rendered(response: HttpResponse) -> HttpResponse:
        # A TemplateResponse renders after the view returns, outside the zone: render it now.
        render = getattr(response, "render", None)
        if render is not None and not getattr(response, "is_rendered", True):
            render()
        return response

    def _zone(self, request: HttpRequest, obj: Model | None) -> str | None:
        tenant = self.form_tenant(request, obj)
        return tenant.timezone if tenant is not None else None

    def _shows_times(self, request: HttpRequest, obj: Model | None) -> bool:
        """Whether the page has a datetime field, its own or an inline's."""
        for each in (self, *self.get_inline_instances(request, obj)):
            names = set(flatten_fieldsets(each.get_fieldsets(request, obj)))
            for field in each.model._meta.concrete_fields:
                if isinstance(field, models.DateTimeField) and field.name in names:
                    return True
        return False

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        zone = self._zone(request, obj)
        context = {
            **(extra_context or {}),
            "tenant_zone": zone,
            "shows_times": self._shows_times(request, obj),
        }
        with self._in_zone(zone):
            return self._rendered(super().changeform_view(request, object_id, form_url, context))

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        with self._in_zone(self._zone(request, obj)):
            return self._rendered(super().history_view(request, object_id, extra_context))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        zones = self.list_zones(request)
        shared = next(iter(zones.values())) if len(set(zones.values())) == 1 else None
        setattr(request, "_gamify_zones", (zones, shared))  # noqa: B010 - for get_list_display
        with self._in_zone(shared):  # the date hierarchy's days
            return self._rendered(super().changelist_view(request, extra_context))

    def get_list_display(self, request: HttpRequest) -> Any:
        zones, shared = getattr(request, "_gamify_zones", ({}, None))
        columns: list[Any] = []
        for name in super().get_list_display(request):
            field = self._datetime_field(name)
            if name == "id":
                columns.append(id_column)
            elif field is None:
                columns.append(name)
            else:
                label = str(TIME_LABELS.get(field.name, str(field.verbose_name).capitalize()))
                columns.append(local_time_column(field.name, label, zones, shared))
        return columns

    def _datetime_field(self, name: Any) -> models.DateTimeField[Any, Any] | None:
        if not isinstance(name, str):
            return None
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        return field if isinstance(field, models.DateTimeField) else None

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        tenant = self.form_tenant(request, obj)
        form.tenant = tenant  # type: ignore[attr-defined] # whose KPIs and badges it offers
        if tenant is not None and obj is None and "tenant" in form.base_fields:
            form.base_fields["tenant"].initial = tenant.pk  # the one whose zone the page says
        for field in form.base_fields.values():
            if isinstance(field, forms.SplitDateTimeField | forms.DateTimeField):
                field.help_text = zone_help(
                    str(field.help_text or ""), tenant.timezone if tenant else None
                )
        return form


class TenantListFilter(admin.RelatedFieldListFilter):
    """The tenant filter offers the user's tenants only: Django's would list every tenant's
    name to a manager of one."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> Any:
        choices = super().field_choices(field, request, model_admin)
        if request.user.is_superuser:
            return choices
        allowed = tenant_ids(request)
        return [(pk, label) for pk, label in choices if pk in allowed]


class TenantScopedAdmin(TenantTimesAdmin):
    """Admin for a model with a `tenant` foreign key."""

    tenant_path = "tenant"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_path}__in": tenant_ids(request)})

    def get_list_filter(self, request: HttpRequest) -> Any:
        """A filter on a foreign key offers only the related objects of rows this user sees.

        Django's plain related filter lists every row of the related table: the "tenant"
        filter showed every tenant's name to every manager (found by the cross-tenant matrix).
        """
        filters: list[Any] = []
        for entry in super().get_list_filter(request):
            if entry == "tenant":
                entry = (entry, TenantListFilter)
            elif isinstance(entry, str) and self._is_relation(entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            filters.append(entry)
        return filters

    def _is_relation(self, name: str) -> bool:
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return False
        return bool(field.is_relation)

    def _tenant_of(self, obj: Model) -> int | None:
        target: Any = obj
        for part in self.tenant_path.split("__"):
            target = (
                getattr(target, part + "_id", None)
                if part == "tenant"
                else getattr(target, part, None)
            )
            if target is None:
                return None
        return int(target) if not isinstance(target, Tenant) else target.pk

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or tenant_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return True
        return bool(tenant_ids(request)) and (
            obj is None or self._tenant_of(obj) in tenant_ids(request)
        )

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        if request.user.is_superuser:
            return True
        allowed = tenant_ids(request, write=True)
        return bool(allowed) and (obj is None or self._tenant_of(obj) in allowed)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_superuser or tenant_ids(request, write=True))

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField | None:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and field.queryset is not None and not request.user.is_superuser:
            allowed = tenant_ids(request, write=True)
            related = db_field.related_model
            if related is Tenant:
                field.queryset = field.queryset.filter(pk__in=allowed)
                if len(allowed) == 1:
                    field.initial = next(iter(allowed))
            elif any(f.name == "tenant" for f in related._meta.get_fields()):
                field.queryset = field.queryset.filter(tenant_id__in=allowed)
        return field

    def formfield_for_manytomany(
        self, db_field: Any, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        related = db_field.related_model
        if (
            field is not None
            and field.queryset is not None
            and not request.user.is_superuser
            and any(f.name == "tenant" for f in related._meta.get_fields())
        ):
            field.queryset = field.queryset.filter(tenant_id__in=tenant_ids(request, write=True))
        return field

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser and self._tenant_of(obj) not in tenant_ids(
            request, write=True
        ):
            raise PermissionDenied
        super().save_model(request, obj, form, change)


class ReadOnlyAdmin(TenantScopedAdmin):
    """Look, never touch: derived rows (awards, ledger entries, balances) change only through
    the services, so the admin shows them without add, change or delete."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


# The key library's own concrete model and its admin: Gamify's keys are accounts.ApiKey
# (per tenant, scoped, hashed; below). The library's table stays empty, and its admin page —
# English only, with no tenant — would only mislead a manager.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(Tenant)
class TenantAdmin(TenantTimesAdmin):
    list_display = ["name", "slug", "timezone", "week_start", "auto_create_agents"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Tenant | None = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # The rate limit protects the deployment, not the tenant: its operators set it.
            fields.append("api_rate_limit_per_minute")
        return fields

    def save_model(self, request: HttpRequest, obj: Tenant, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and "api_rate_limit_per_minute" in form.changed_data:
            # Authenticated keys are cached with their tenant (accounts.api.auth): forget them,
            # so the new limit applies from the next request on, in this process at once and
            # in the others within their local copy's two seconds.
            for prefix in ApiKey.objects.filter(tenant=obj).values_list("prefix", flat=True):
                forget_key(prefix)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Tenant]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(pk__in=tenant_ids(request))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser or tenant_ids(request))

    def has_view_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return bool(request.user.is_superuser) or (
            bool(tenant_ids(request)) and (obj is None or obj.pk in tenant_ids(request))
        )

    def has_change_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        if request.user.is_superuser:
            return True
        owned = set(
            Membership.objects.filter(
                user_id=int(request.user.pk or 0), role=Membership.Role.OWNER
            ).values_list("tenant_id", flat=True)
        )
        return bool(owned) and (obj is None or obj.pk in owned)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return bool(request.user.is_superuser)


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdmin):
    list_display = ["user", "tenant", "role"]
    list_filter = ["role"]
    autocomplete_fields = ["user"]


# What each of a key's scopes lets it do (API.md); the choice shows the scope's name too.
SCOPE_LABELS = {
    "ingest": gettext_lazy("send events and imports"),
    "read": gettext_lazy("read KPIs, leaderboards, the game's state and activity"),
    "manage": gettext_lazy("change teams, agents and the game's configuration"),
}


class ApiKeyForm(forms.ModelForm[ApiKey]):
    scopes = forms.MultipleChoiceField(
        label=capfirst(ApiKey._meta.get_field("scopes").verbose_name),
        choices=[(s, format_lazy("{} — {}", s, SCOPE_LABELS[s])) for s in SCOPE_LABELS],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "scopes", "expiry_date", "revoked"]


@admin.register(ApiKey)
class ApiKeyAdmin(TenantScopedAdmin):
    form = ApiKeyForm
    list_display = ["name", "tenant", "prefix", "scopes", "created", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    readonly_fields = ["prefix", "created", "last_used_at"]
    search_fields = ["name", "prefix"]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            forget_key(obj.prefix)  # a revocation or expiry takes effect now
            return
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        raw = ApiKey.objects.assign_key(obj)
        obj.save()
        messages.warning(
            request,
            gettext("The API key is %(key)s — copy it now, it is not shown again.") % {"key": raw},
        )


class TeamForm(forms.ModelForm[Team]):
    class Meta:
        model = Team
        fields = ["tenant", "external_id", "name", "parent"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        tenant, external_id = data.get("tenant"), data.get("external_id")
        parent = data.get("parent")
        if tenant is not None and external_id:
            errors = services.external_id_errors(external_id)
            if errors:
                self.add_error("external_id", errors)
            if parent is not None and parent.tenant_id != tenant.pk:
                self.add_error("parent", gettext("The parent belongs to another tenant."))
            else:
                try:
                    services.team_parent_check(
                        tenant=tenant,
                        external_id=external_id,
                        parent_external_id=parent.external_id if parent else None,
                    )
                except ApplicationError as exc:
                    self.add_error("parent", problem_message(exc))
        return data


@admin.register(Team)
class TeamAdmin(TenantScopedAdmin):
    form = TeamForm
    list_display = ["external_id", "name", "parent", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["external_id", "name"]
    list_select_related = ["parent", "tenant"]
    readonly_fields = ["scorecard"]

    @admin.display(description=gettext_lazy("Scorecard"))
    def scorecard(self, obj: Team) -> str:
        return scorecard_link("team", obj)

    def save_model(self, request: HttpRequest, obj: Team, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        team, _ = services.team_upsert(
            tenant=obj.tenant,
            external_id=obj.external_id,
            name=obj.name,
            parent_external_id=obj.parent.external_id if obj.parent else None,
        )
        obj.pk = team.pk


def scorecard_link(kind: str, obj: Model) -> str:
    """A link to the coaching app's scorecard page of an agent or a team (none on an add
    page, or without the coaching app)."""
    if obj.pk is None:
        return "-"
    try:
        url = reverse(f"admin:coaching_scorecard_{kind}", args=[obj.pk])
    except NoReverseMatch:
        return "-"
    return format_html('<a href="{}">{}</a>', url, gettext("This week's scorecard"))


class AgentHistoryInline(admin.TabularInline[AgentHistory, Agent]):
    model = AgentHistory
    extra = 0
    can_delete = False
    fields = ["valid_from", "team", "active"]
    readonly_fields = ["valid_from", "team", "active"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agent)
class AgentAdmin(TenantScopedAdmin):
    list_display = ["external_id", "display_name", "team", "active", "locale", "tenant"]
    list_filter = ["active", "locale", "tenant"]
    search_fields = ["external_id", "display_name"]
    list_select_related = ["team", "tenant"]
    inlines = [AgentHistoryInline]
    readonly_fields = ["scorecard"]

    @admin.display(description=gettext_lazy("Scorecard"))
    def scorecard(self, obj: Agent) -> str:
        return scorecard_link("agent", obj)

    def save_model(self, request: HttpRequest, obj: Agent, form: Any, change: bool) -> None:
        if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
            raise PermissionDenied
        agent, _ = services.agent_upsert(
            tenant=obj.tenant,
            external_id=obj.external_id,
            display_name=obj.display_name,
            team_external_id=obj.team.external_id if obj.team else None,
            active=obj.active,
            locale=obj.locale,
            avatar_url=obj.avatar_url,
        )
        obj.pk = agent.pk

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # agents are deactivated, never deleted: their history is kept
