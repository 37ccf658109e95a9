"""Managers subscribe receivers and watch deliveries in the admin, through the same services
(and SSRF guard) as the API. A secret shows once, in the message after saving or rotating;
deliveries and attempts are read-only (a redelivery is an action)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin import TenantScopedAdmin, tenant_ids
from core.errors import ApplicationError
from gamify.webhooks import services
from gamify.webhooks.models import Attempt, Delivery, Endpoint

# What each activity type says happened (API.md); a choice shows the type's name too, the
# name a receiver gets.
EVENT_LABELS = {
    "badge.awarded": _("an agent earned a badge"),
    "level.up": _("an agent reached a new level"),
    "points.adjusted": _("a manager adjusted an agent's points"),
    "points.late_adjustment": _("a late event would have changed a finalized period's points"),
    "contest.started": _("a contest started"),
    "contest.finished": _("a contest finished"),
    "contest.won": _("an agent or a team won a contest"),
    "redemption.requested": _("an agent requested a reward"),
    "redemption.approved": _("a redemption was approved"),
    "redemption.rejected": _("a redemption was rejected"),
    "redemption.fulfilled": _("a redemption was fulfilled"),
    "goal.achieved": _("a goal was achieved"),
    "alert.exceeds": _("an agent exceeds expectations"),
    "alert.behind": _("an agent falls behind"),
    "webhook.disabled": _("a webhook endpoint was disabled"),
    "wallet.granted": _("coins were granted to an agent"),
    "*": _("every type"),
}


class EndpointForm(forms.ModelForm[Endpoint]):
    events = forms.MultipleChoiceField(
        choices=[
            (e, format_lazy("{} — {}", e, EVENT_LABELS[e]) if e in EVENT_LABELS else e)
            for e in services.EVENT_CHOICES
        ],
        widget=forms.CheckboxSelectMultiple,
        label=_("Events"),
        help_text=_('"*" receives every type.'),
    )
    url = forms.CharField(
        label=_("URL"), max_length=2000, help_text=_("https:// receiver (public network)")
    )

    class Meta:
        model = Endpoint
        fields = ["tenant", "url", "events", "description", "active"]
        labels = {"tenant": _("Tenant"), "description": _("Description"), "active": _("Active")}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "url" in data:
            try:
                data["url"] = services.clean_url(data["url"])
            except ApplicationError as exc:
                self.add_error("url", exc.errors.get("url", [str(exc.detail)]))
        if "events" in data:
            try:
                data["events"] = services.clean_events(list(data["events"]))
            except ApplicationError as exc:
                self.add_error("events", exc.errors.get("events", [str(exc.detail)]))
        return data


def _check_write(request: HttpRequest, obj: Endpoint) -> None:
    if not request.user.is_superuser and obj.tenant_id not in tenant_ids(request, write=True):
        raise PermissionDenied


@admin.register(Endpoint)
class EndpointAdmin(TenantScopedAdmin):
    form = EndpointForm
    list_display = ["url", "events", "active", "failing_since", "disabled_at", "tenant"]
    list_filter = ["active"]
    search_fields = ["url", "description"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "secret_prefix",
        "previous_secret_expires_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "created_at",
    ]
    actions = ["rotate_secret", "send_ping"]

    def get_readonly_fields(self, request: HttpRequest, obj: Model | None = None) -> Any:
        return [*self.readonly_fields, *(["tenant"] if obj is not None else [])]

    def save_model(self, request: HttpRequest, obj: Endpoint, form: Any, change: bool) -> None:
        _check_write(request, obj)
        data = form.cleaned_data
        if change:
            services.endpoint_update(
                endpoint=obj,
                changes={k: data[k] for k in ("url", "events", "description", "active")},
            )
            return
        result = services.endpoint_create(
            tenant=obj.tenant,
            url=data["url"],
            events=data["events"],
            active=data["active"],
            description=data.get("description", ""),
        )
        obj.pk = result.endpoint.pk
        messages.warning(
            request,
            gettext("Signing secret (shown once, copy it now): %(secret)s")
            % {"secret": result.secret},
        )

    def delete_model(self, request: HttpRequest, obj: Endpoint) -> None:
        _check_write(request, obj)
        services.endpoint_delete(endpoint=obj)  # audited, as from the API

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            self.delete_model(request, endpoint)

    @admin.action(description=_("Rotate the signing secret (the old one stays valid 24 h)"))
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            _check_write(request, endpoint)
            result = services.endpoint_rotate_secret(endpoint=endpoint)
            messages.warning(
                request,
                gettext("New secret of %(url)s (shown once): %(secret)s")
                % {"url": endpoint.url, "secret": result.secret},
            )

    @admin.action(description=_("Send a test ping"))
    def send_ping(self, request: HttpRequest, queryset: QuerySet[Endpoint]) -> None:
        for endpoint in queryset:
            _check_write(request, endpoint)
            services.endpoint_ping(endpoint=endpoint)
        messages.success(request, gettext("Ping sent: see the deliveries."))


class AttemptInline(admin.TabularInline[Attempt, Delivery]):
    model = Attempt
    extra = 0
    fields = ("started_at", "duration_ms", "status_code", "response_excerpt", "error")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(TenantScopedAdmin):
    list_display = ["id", "created_at", "event_type", "endpoint", "status", "attempts", "tenant"]
    list_filter = ["status", "event_type"]
    search_fields = ["uuid", "endpoint__url"]
    list_select_related = ["endpoint", "tenant"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["redeliver"]
    readonly_fields = (
        "uuid",
        "tenant",
        "endpoint",
        "activity",
        "event_type",
        "payload",
        "status",
        "attempts",
        "next_attempt_at",
        "locked_until",
        "first_attempt_at",
        "delivered_at",
        "created_at",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    @admin.action(description=_("Redeliver (same delivery id, a fresh 24 h of retries)"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        allowed = tenant_ids(request, write=True)
        for delivery in queryset:
            if not request.user.is_superuser and delivery.tenant_id not in allowed:
                raise PermissionDenied
            services.delivery_redeliver(delivery=delivery)
        count = queryset.count()
        messages.success(
            request,
            ngettext(
                "%(count)s delivery queued again.", "%(count)s deliveries queued again.", count
            )
            % {"count": count},
        )
