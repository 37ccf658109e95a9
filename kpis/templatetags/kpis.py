"""`{% load kpis %}`: `{{ name|kpi_name:code }}`, a KPI's name in the page's language
(built-in KPIs translated; a tenant's own KPI keeps its name)."""

from __future__ import annotations

from django import template

from kpis.formulas import display_name

register = template.Library()


@register.filter
def kpi_name(name: str, code: str) -> str:
    return display_name(str(code), str(name))
