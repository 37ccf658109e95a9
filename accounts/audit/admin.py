"""The audit log in the admin: read-only, scoped to the user's tenants, filtered by actor,
object type, action and date, searchable."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import TenantScopedAdmin
from accounts.audit.models import AuditEntry

MAX_FILTER_CHOICES = 200  # a filter lists at most this many actors or object types


class ScopedValuesFilter(admin.SimpleListFilter):
    """Choices from the rows this user may see: Django's AllValuesFieldListFilter would list
    every tenant's actors."""

    field = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rows = (
            model_admin.get_queryset(request)
            .order_by(self.field)
            .values_list(self.field, flat=True)
            .distinct()[:MAX_FILTER_CHOICES]
        )
        return [(value, value) for value in rows]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


# The filters on the model's own fields, titled in the page's language.
FILTER_TITLES = {
    "actor_kind": _("actor kind"),
    "action": _("action"),
    "created_at": _("created at"),
}


class TitledChoicesFilter(admin.ChoicesFieldListFilter):
    def __init__(self, field: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(field, *args, **kwargs)
        self.title = FILTER_TITLES.get(field.name, self.title)


class TitledDateFilter(admin.DateFieldListFilter):
    def __init__(self, field: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(field, *args, **kwargs)
        self.title = FILTER_TITLES.get(field.name, self.title)


class ActorFilter(ScopedValuesFilter):
    title = _("actor")
    parameter_name = "actor"
    field = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        rows = (
            model_admin.get_queryset(request)
            .order_by("actor")
            .values_list("actor", "actor_name")
            .distinct()[:MAX_FILTER_CHOICES]
        )
        return [
            (actor, f"{name} ({actor})" if name and name != actor else actor)
            for actor, name in rows
        ]


class ObjectTypeFilter(ScopedValuesFilter):
    title = _("object type")
    parameter_name = "object_type"
    field = "object_type"


def changes_table(before: Any, after: Any) -> SafeString:
    """The changed fields as a table: field, before, after."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    names = sorted(old.keys() | new.keys())
    if not names:
        return format_html("{}", "-")

    def shown(values: dict[str, Any], name: str) -> str:
        return json.dumps(values[name], ensure_ascii=False) if name in values else "—"

    rows = format_html_join(
        "",
        "<tr><th scope='row'>{}</th><td>{}</td><td>{}</td></tr>",
        ((name, shown(old, name), shown(new, name)) for name in names),
    )
    return format_html(
        "<table class='gamify-audit-changes'><thead><tr><th scope='col'>{}</th>"
        "<th scope='col'>{}</th><th scope='col'>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        gettext("field"),
        gettext("before"),
        gettext("after"),
        rows,
    )


@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScopedAdmin):
    list_display = [
        "created_at",
        "actor_label",
        "action_label",
        "object_type_label",
        "object_id_label",
        "object_label",
        "summary",
        "tenant",
    ]
    list_filter = [
        ActorFilter,
        ("actor_kind", TitledChoicesFilter),
        ObjectTypeFilter,
        ("action", TitledChoicesFilter),
        ("created_at", TitledDateFilter),
    ]
    search_fields = ["actor", "actor_name", "object_id", "object_repr"]
    list_select_related = ["tenant"]
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "tenant",
        "actor",
        "actor_name",
        "actor_kind",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "changes",
    )
    readonly_fields = fields

    @admin.display(description=_("actor"), ordering="actor")
    def actor_label(self, obj: AuditEntry) -> str:
        return obj.actor_name if obj.actor_name and obj.actor_name != obj.actor else obj.actor

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj: AuditEntry) -> str:
        return str(obj.get_action_display())

    @admin.display(description=_("object type"), ordering="object_type")
    def object_type_label(self, obj: AuditEntry) -> str:
        return obj.object_type

    @admin.display(description=_("object id"), ordering="object_id")
    def object_id_label(self, obj: AuditEntry) -> str:
        return obj.object_id

    @admin.display(description=_("object"))
    def object_label(self, obj: AuditEntry) -> str:
        return obj.object_repr

    @admin.display(description=_("changed"))
    def summary(self, obj: AuditEntry) -> str:
        keys = sorted((obj.before or {}).keys() | (obj.after or {}).keys())
        text = ", ".join(keys)
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.display(description=_("before → after"))
    def changes(self, obj: AuditEntry) -> SafeString:
        return changes_table(obj.before, obj.after)

    # Append-only: nobody adds, changes or deletes an entry here, superusers included.
    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
