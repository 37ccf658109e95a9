"""A tenant's KPI catalogue: the built-ins with the tenant's overrides, plus its custom KPIs."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from accounts.models import Tenant
from kpis import formulas
from kpis.formulas import BUILTIN, KpiFormula, display_name
from kpis.models import InteractionSettings, Kpi


@dataclass(frozen=True)
class CatalogueKpi:
    code: str
    name: str
    unit: str
    direction: str
    min_volume: Decimal
    aggregation: str
    custom: bool
    formula: KpiFormula | None  # None for custom KPIs (fed by metric events)
    settings: dict[str, int]

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "higher_is_better"

    @property
    def factor(self) -> Decimal:
        """Custom percent ratios are sent as fractions (0/1 per unit) and shown on 0–100."""
        if self.formula is not None:
            return self.formula.factor
        return Decimal(100) if self.unit == "percent" else Decimal(1)


def interaction_settings(tenant: Tenant | int) -> formulas.InteractionSettings:
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    row = InteractionSettings.objects.filter(tenant_id=tenant_id).first()
    if row is None:
        return formulas.InteractionSettings()
    return formulas.InteractionSettings(
        threshold_seconds=row.threshold_seconds, short_abandon_seconds=row.short_abandon_seconds
    )


def kpi_catalogue(tenant: Tenant) -> dict[str, CatalogueKpi]:
    """Every KPI of the tenant by code, built-ins first (two queries)."""
    rows = {k.code: k for k in Kpi.objects.for_tenant(tenant)}
    settings = interaction_settings(tenant)
    setting_values = {
        "threshold_seconds": settings.threshold_seconds,
        "short_abandon_seconds": settings.short_abandon_seconds,
    }
    catalogue: dict[str, CatalogueKpi] = {}
    for code, formula in BUILTIN.items():
        override = rows.get(code)
        catalogue[code] = CatalogueKpi(
            code=code,
            name=formula.name,
            unit=formula.unit,
            direction=formula.direction,
            min_volume=override.min_volume if override else formula.min_volume,
            aggregation=formula.aggregation,
            custom=False,
            formula=formula,
            settings={name: setting_values[name] for name in formula.settings},
        )
    for code, row in sorted(rows.items()):
        if row.custom:
            catalogue[code] = CatalogueKpi(
                code=code,
                name=row.name,
                unit=row.unit,
                direction=row.direction,
                min_volume=row.min_volume,
                aggregation=row.aggregation,
                custom=True,
                formula=None,
                settings={},
            )
    return catalogue


def kpi_choices(
    tenant: Tenant | None, *, measured_for: str | None = None, custom: bool = True
) -> list[tuple[str, str]]:
    """The KPIs a form offers, as (code, "Name (code)"), a built-in's name in the active
    language: the tenant's catalogue, or only the built-ins while the tenant is not known yet.
    `measured_for` keeps the KPIs measured for agents or teams; `custom=False` leaves out the
    tenant's custom KPIs."""
    kpis: list[tuple[str, str, KpiFormula | None]]
    if tenant is None:
        kpis = [(code, f.name, f) for code, f in BUILTIN.items()]
    else:
        kpis = [(code, k.name, k.formula) for code, k in kpi_catalogue(tenant).items()]
    return [
        (code, f"{display_name(code, name)} ({code})")
        for code, name, formula in kpis
        if (formula is not None or custom)
        and (measured_for is None or formula is None or measured_for in formula.scopes)
    ]
