"""The span of time Gamify keeps: every time and date a client sends is checked against it.

Periods are worked out in the tenant's zone, up to a year (plus a zone offset of up to 14 h)
around a date. Python's dates end at the years 1 and 9999, so near those ends that arithmetic
overflows — and nothing a contact center does happened before 2000 or is planned past 2999.
Events are further bounded by now (API.md: at most 15 minutes in the future).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils.dateparse import parse_datetime

from core.errors import InvalidInputError

EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(3000, 1, 1, tzinfo=UTC)  # exclusive
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2999, 12, 31)

TIME_RANGE = "Must be from 2000-01-01T00:00:00Z up to the end of 2999."
DAY_RANGE = "Must be a date from 2000-01-01 to 2999-12-31."
EVENT_TOO_OLD = "Must be 2000-01-01T00:00:00Z or later."
OFFSET_REQUIRED = (
    "Give the time with its UTC offset, e.g. 2026-11-20T09:15:00+08:00 or 2026-11-20T01:15:00Z."
)


def time_range_error(instant: datetime) -> str | None:
    """The message for an aware time outside the kept span, or None when it is inside.

    Comparing aware times never overflows, whatever their offsets (unlike converting them).
    """
    return None if EARLIEST_TIME <= instant < LATEST_TIME else TIME_RANGE


def day_range_error(day: date) -> str | None:
    return None if EARLIEST_DAY <= day <= LATEST_DAY else DAY_RANGE


def parse_aware_datetime(value: str, field: str) -> datetime:
    """Parse a query parameter time; an InvalidInputError (400) naming `field` when it is not
    a time, has no offset or lies outside the kept span."""
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidInputError({field: "Not an ISO 8601 time."})
    if parsed.tzinfo is None:
        raise InvalidInputError({field: OFFSET_REQUIRED})
    if error := time_range_error(parsed):
        raise InvalidInputError({field: error})
    return parsed
