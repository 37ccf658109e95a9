"""Changes to a tenant's KPI catalogue and interaction settings."""

from __future__ import annotations

import re
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.audit.services import audit_record, snapshot
from accounts.models import Tenant
from core.errors import ConflictError, InvalidInputError, NotFoundError
from kpis.catalogue import CatalogueKpi, kpi_catalogue
from kpis.formulas import BUILTIN
from kpis.ingest import changes_announce
from kpis.models import InteractionSettings, Kpi

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class KpiExists(ConflictError):
    slug = "kpi-exists"
    title = "KPI exists"


MAX_VOLUME = Decimal(10) ** 12
# The interaction settings' ranges (seconds): a service-level threshold of an hour, a short
# abandon of ten minutes, are already far beyond any contact center's.
SETTING_RANGES = {"threshold_seconds": (0, 3600), "short_abandon_seconds": (0, 600)}


# What the audit log keeps of a KPI: what a manager can change (`settings` holds the
# interaction thresholds of the KPIs that use them).
KPI_AUDIT_FIELDS = ("name", "unit", "direction", "aggregation", "min_volume", "settings")


def _volume(value: Decimal) -> Decimal:
    if not 0 <= value < MAX_VOLUME:
        raise InvalidInputError({"min_volume": "From 0 to below 10^12."})
    return value.quantize(Decimal("0.001"))


def kpi_create(
    *,
    tenant: Tenant,
    code: str,
    name: str,
    unit: str,
    direction: str,
    aggregation: str,
    min_volume: Decimal,
) -> CatalogueKpi:
    """Add a custom KPI fed by `metric` events."""
    if not CODE_PATTERN.match(code):
        raise InvalidInputError(
            {"code": "2–40 characters: lowercase letters, digits and _, starting with a letter."}
        )
    if code in BUILTIN:
        raise InvalidInputError({"code": f"{code!r} is a built-in KPI."})
    min_volume = _volume(min_volume)
    with transaction.atomic():
        if Kpi.objects.for_tenant(tenant).filter(code=code).exists():
            raise KpiExists(f"The KPI {code!r} exists.", errors={"code": ["Already exists."]})
        Kpi.objects.create(
            tenant=tenant,
            code=code,
            name=name,
            unit=unit,
            direction=direction,
            aggregation=aggregation,
            min_volume=min_volume,
            custom=True,
        )
        created = kpi_catalogue(tenant)[code]
        audit_record(
            tenant=tenant,
            action="create",
            object_type="kpi",
            object_id=code,
            object_repr=name,
            after=snapshot(created, KPI_AUDIT_FIELDS),
        )
    return created


def kpi_update(
    *,
    tenant: Tenant,
    code: str,
    min_volume: Decimal | None = None,
    threshold_seconds: int | None = None,
    short_abandon_seconds: int | None = None,
    name: str | None = None,
) -> CatalogueKpi:
    """Change a KPI's minimum volume or settings; a settings change recomputes the buckets."""
    catalogue = kpi_catalogue(tenant)
    kpi = catalogue.get(code)
    if kpi is None:
        raise NotFoundError(f"No KPI {code!r}.")
    for setting, value in (
        ("threshold_seconds", threshold_seconds),
        ("short_abandon_seconds", short_abandon_seconds),
    ):
        if value is None:
            continue
        if setting not in kpi.settings:
            raise InvalidInputError({setting: f"{code} has no {setting} setting."})
        low, high = SETTING_RANGES[setting]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInputError({setting: f"A whole number of seconds from {low} to {high}."})
    if name is not None and not kpi.custom:
        raise InvalidInputError({"name": "Built-in KPIs keep their names."})
    if min_volume is not None:
        min_volume = _volume(min_volume)
    with transaction.atomic():
        if min_volume is not None or name is not None:
            formula = BUILTIN.get(code)
            row, _ = Kpi.objects.for_tenant(tenant).get_or_create(
                code=code,
                defaults={
                    "tenant": tenant,
                    "name": kpi.name,
                    "unit": kpi.unit,
                    "direction": kpi.direction,
                    "aggregation": kpi.aggregation,
                    "min_volume": kpi.min_volume,
                    "custom": formula is None,
                },
            )
            if min_volume is not None and min_volume != row.min_volume:
                row.min_volume = min_volume
                # Who qualifies changed: points, live boards and contests follow.
                changes_announce(tenant=tenant, everything=True)
            if name is not None:
                row.name = name
            row.save()
        if threshold_seconds is not None or short_abandon_seconds is not None:
            settings, _ = InteractionSettings.objects.get_or_create(tenant=tenant)
            before = (settings.threshold_seconds, settings.short_abandon_seconds)
            if threshold_seconds is not None:
                settings.threshold_seconds = threshold_seconds
            if short_abandon_seconds is not None:
                settings.short_abandon_seconds = short_abandon_seconds
            if before != (settings.threshold_seconds, settings.short_abandon_seconds):
                from kpis.tasks import recompute_tenant

                settings.recompute_requested_at = timezone.now()
                transaction.on_commit(lambda: recompute_tenant.delay(tenant.pk), robust=True)
            settings.save()
        updated = kpi_catalogue(tenant)[code]
        audit_record(
            tenant=tenant,
            action="update",
            object_type="kpi",
            object_id=code,
            object_repr=updated.name,
            before=snapshot(kpi, KPI_AUDIT_FIELDS),
            after=snapshot(updated, KPI_AUDIT_FIELDS),
        )
    return updated
