"""A tenant's widget settings (the framing origins stay on Tenant.widget_origins)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import Tenant, TenantQuerySet


class WidgetSettings(models.Model):
    """Per tenant; a tenant without a row has the defaults (names shown)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, verbose_name=_("tenant")
    )
    anonymize_others = models.BooleanField(
        _("anonymize other agents"),
        default=False,
        help_text=_(
            "Show other agents as 'Agent #4' in widgets and on wallboards: no name, no "
            "external id. An agent always sees their own name."
        ),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        verbose_name = _("widget settings")
        verbose_name_plural = _("widget settings")

    def __str__(self) -> str:
        return f"Widget settings of {self.tenant}"


def anonymize_others(tenant: Tenant) -> bool:
    return bool(
        WidgetSettings.objects.filter(tenant=tenant)
        .values_list("anonymize_others", flat=True)
        .first()
    )
