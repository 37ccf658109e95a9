"""Admin pieces for the models that name a KPI by its code (point rules, goals, alert rules,
contests; their admins are the game's, coaching's and contests'): a list shows the KPI's name,
a built-in's in the manager's language. This module registers nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext

from accounts.models import Tenant
from kpis.catalogue import kpi_catalogue
from kpis.formulas import display_name


class KpiNameColumns(admin.ModelAdmin[Any]):
    """Each of `kpi_columns` (fields holding a KPI code, or "points" for a contest's metric)
    listed by the KPI's name; one catalogue read per tenant on the page."""

    kpi_columns: tuple[str, ...] = ("kpi",)

    def get_list_display(self, request: HttpRequest) -> Any:
        names: dict[int, dict[str, str]] = {}
        return [
            self._kpi_name_column(column, names) if column in self.kpi_columns else column
            for column in super().get_list_display(request)
        ]

    def _kpi_name_column(
        self, field: str, names: dict[int, dict[str, str]]
    ) -> Callable[[Any], str]:
        @admin.display(
            description=capfirst(self.model._meta.get_field(field).verbose_name), ordering=field
        )
        def column(obj: Any) -> str:
            code = getattr(obj, field)
            if not code:
                return "-"
            if code == "points":
                return gettext("Points")
            if obj.tenant_id not in names:
                # The row's tenant by its id: no query for the tenant itself.
                catalogue = kpi_catalogue(Tenant(pk=obj.tenant_id))
                names[obj.tenant_id] = {c: display_name(c, k.name) for c, k in catalogue.items()}
            return names[obj.tenant_id].get(code, code)

        column.__name__ = field  # the cells' class stays "field-<field>"
        return column
