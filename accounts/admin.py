"""The Django admin, scoped by membership: a manager sees and changes only their tenants.

`TenantScopedAdmin` is the base of every tenant-owned model's admin in every app.
Owners and managers may change; viewers may only look; superusers see everything.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from accounts import services
from accounts.api.auth import forget_key
from accounts.api.problems import Problem
from accounts.models import Agent, AgentHistory, ApiKey, Membership, Team, Tenant

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


def problem_message(exc: Problem) -> str:
    if exc.errors:
        return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.errors.items())
    return str(exc.detail)


class TenantScopedAdmin(admin.ModelAdmin[Any]):
    """Admin for a model with a `tenant` foreign key."""

    tenant_path = "tenant"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_path}__in": tenant_ids(request)})

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


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin[Tenant]):
    list_display = ["name", "slug", "timezone", "week_start", "auto_create_agents"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at"]

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


class ApiKeyForm(forms.ModelForm[ApiKey]):
    scopes = forms.MultipleChoiceField(
        choices=[(s, s) for s in ("ingest", "read", "manage")],
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
        messages.warning(request, f"The API key is {raw} — copy it now, it is not shown again.")


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
                self.add_error("parent", "The parent belongs to another tenant.")
            else:
                try:
                    services.team_parent_check(
                        tenant=tenant,
                        external_id=external_id,
                        parent_external_id=parent.external_id if parent else None,
                    )
                except Problem as exc:
                    self.add_error("parent", problem_message(exc))
        return data


@admin.register(Team)
class TeamAdmin(TenantScopedAdmin):
    form = TeamForm
    list_display = ["external_id", "name", "parent", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["external_id", "name"]
    list_select_related = ["parent", "tenant"]

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
