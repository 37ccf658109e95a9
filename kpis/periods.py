"""Periods in a tenant's timezone: day, week, month, quarter, year, all, or a custom window.

A period is [start, end) between two instants that fall on local hour boundaries, so it is an
exact union of hourly buckets — including DST days of 23 and 25 hours.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.utils import timezone

from accounts.models import Tenant
from core.errors import InvalidInputError
from core.times import day_range_error, parse_aware_datetime

PERIOD_TYPES = ("day", "week", "month", "quarter", "year", "all")
GRANULARITIES = ("hour", "day", "week", "month")
MAX_CUSTOM_SPAN = timedelta(days=366 * 5)


@dataclass(frozen=True)
class Period:
    type: str  # one of PERIOD_TYPES or "custom"
    start: datetime | None  # None only for "all"
    end: datetime | None

    def as_dict(self, tz: ZoneInfo) -> dict[str, str | None]:
        return dict(_local_bounds(self, tz))

    def contains(self, instant: datetime) -> bool:
        return (self.start is None or instant >= self.start) and (
            self.end is None or instant < self.end
        )


@lru_cache(maxsize=1024)
def _local_bounds(period: Period, tz: ZoneInfo) -> tuple[tuple[str, str | None], ...]:
    # Every read names its period: the current ones over and over.
    return (
        ("type", period.type),
        ("start", period.start.astimezone(tz).isoformat() if period.start else None),
        ("end", period.end.astimezone(tz).isoformat() if period.end else None),
    )


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_today(tenant: Tenant, now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(tenant.tz).date()


def hour_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """The start of the local hour containing `instant`, as a UTC instant.

    Keeping the fold means the repeated hour of a DST fall-back is its own bucket.
    """
    local = instant.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def period_bounds(kind: str, day: date, *, tz: ZoneInfo, week_start: int) -> tuple[date, date]:
    """First day of the period containing `day`, and first day of the next one."""
    if kind == "day":
        return day, day + timedelta(days=1)
    if kind == "week":
        first = day - timedelta(days=(day.weekday() - week_start) % 7)
        return first, first + timedelta(days=7)
    if kind == "month":
        first = day.replace(day=1)
        return first, _add_months(first, 1)
    if kind == "quarter":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return first, _add_months(first, 3)
    if kind == "year":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    raise ValueError(kind)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_of(kind: str, day: date, tenant: Tenant) -> Period:
    if kind == "all":
        return Period("all", None, None)
    return _period_of(kind, day, tenant.tz, tenant.week_start)


@lru_cache(maxsize=4096)
def _period_of(kind: str, day: date, tz: ZoneInfo, week_start: int) -> Period:
    # Every board and KPI read asks for the current periods: the same few answers per day.
    first, after = period_bounds(kind, day, tz=tz, week_start=week_start)
    return Period(kind, local_midnight(first, tz), local_midnight(after, tz))


def parse_period(params: Mapping[str, str], tenant: Tenant, *, default: str = "day") -> Period:
    """`period=…&date=…` or `start=…&end=…` from query parameters; 400s name the parameter.

    A parameter that is given must be valid: an empty `period=` or `date=` is a 400, not the
    default (a client that sends one has a bug worth hearing about).
    """
    start_raw, end_raw = params.get("start"), params.get("end")
    if start_raw is not None or end_raw is not None:
        if start_raw is None or end_raw is None:
            missing = "end" if start_raw is not None else "start"
            raise InvalidInputError({missing: "A custom window needs both start and end."})
        if params.get("period") not in (None, "custom"):
            raise InvalidInputError({"period": "Give either period (and date) or start and end."})
        # Both bounded to the kept span (core/times.py) by the parser.
        start = parse_aware_datetime(start_raw, "start")
        end = parse_aware_datetime(end_raw, "end")
        for name, value in (("start", start), ("end", end)):
            if hour_start(value, tenant.tz) != value.astimezone(UTC):
                raise InvalidInputError({name: "Must fall on a whole hour of the tenant's time."})
        if end <= start:
            raise InvalidInputError({"end": "Must be after start."})
        if end - start > MAX_CUSTOM_SPAN:
            raise InvalidInputError({"end": "A custom window spans at most 5 years."})
        return Period("custom", start.astimezone(UTC), end.astimezone(UTC))
    kind = params.get("period", default)
    if kind not in PERIOD_TYPES:
        raise InvalidInputError({"period": f"Must be one of {', '.join(PERIOD_TYPES)}."})
    day = local_today(tenant)
    if "date" in params:
        raw = params["date"]
        try:
            # fromisoformat also takes 20261120 and 2026-W47-5; the API says YYYY-MM-DD.
            if not DAY_PATTERN.fullmatch(raw):
                raise ValueError(raw)
            day = date.fromisoformat(raw)
        except ValueError as exc:
            raise InvalidInputError({"date": "Must be a date, YYYY-MM-DD."}) from exc
        if error := day_range_error(day):
            raise InvalidInputError({"date": error})
    return period_of(kind, day, tenant)


DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def granules(
    period: Period, granularity: str, tenant: Tenant, *, first: datetime | None = None
) -> Iterator[tuple[datetime, datetime]]:
    """The [start, end) instants of each granule of the period (local days, weeks, months)."""
    tz = tenant.tz
    start = period.start
    if start is None and first is not None:
        # "all": from the start of the granule holding the first data, like any other period.
        if granularity == "hour":
            start = hour_start(first, tz)
        else:
            day = first.astimezone(tz).date()
            start = local_midnight(
                period_bounds(granularity, day, tz=tz, week_start=tenant.week_start)[0], tz
            )
    end = period.end or (period_of("day", local_today(tenant), tenant).end)
    if start is None or end is None:
        return
    if granularity == "hour":
        current = start
        while current < end:
            yield current, current + timedelta(hours=1)
            current += timedelta(hours=1)
        return
    day = start.astimezone(tz).date()
    kind = {"day": "day", "week": "week", "month": "month"}[granularity]
    first_day, _ = period_bounds(kind, day, tz=tz, week_start=tenant.week_start)
    current_day = first_day
    while True:
        granule_start = max(local_midnight(current_day, tz), start)
        if granule_start >= end:
            return
        _, next_day = period_bounds(kind, current_day, tz=tz, week_start=tenant.week_start)
        yield granule_start, min(local_midnight(next_day, tz), end)
        current_day = next_day
