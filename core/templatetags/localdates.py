"""`{% load localdates %}`: dates on managers' pages in the page's language, Persian in the
Solar Hijri calendar (core.localdates)."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime
from typing import Any

from django import template

from core import localdates

register = template.Library()


@register.filter
def admin_date(value: date | None) -> str:
    return localdates.admin_date(value) if value is not None else ""


@register.filter
def admin_datetime(value: datetime | None, zone: Any = "UTC") -> str:
    """A moment in the zone named by `zone` (the tenant's), e.g. `|admin_datetime:tenant_zone`."""
    if value is None:
        return ""
    tz = zone if isinstance(zone, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(str(zone or "UTC"))
    return localdates.admin_datetime(value, tz)
