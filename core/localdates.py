"""Dates as each of our languages writes them, Persian in its own calendar.

Django formats every language's dates in the Gregorian calendar; people reading Persian expect
the Solar Hijri (Jalali) calendar, Iran's and Afghanistan's civil calendar: 2 December 2026 is
11 Azar 1405. jdatetime converts; Persian pages also get Persian digits (۱۲۳). Other languages
keep Django's own formats for the language.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

import jdatetime
from django.utils import formats, translation

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def is_persian(lang: str | None) -> bool:
    return (lang or "").lower().split("-")[0].split("_")[0] == "fa"


def persian_digits(text: str) -> str:
    return text.translate(PERSIAN_DIGITS)


def _jalali(value: date) -> jdatetime.date:
    day = value.date() if isinstance(value, datetime) else value
    return jdatetime.date.fromgregorian(date=day, locale="fa_IR")


def short_date(value: date, lang: str) -> str:
    """1405/9/11 (Persian digits) in Persian; Django's SHORT_DATE_FORMAT otherwise."""
    if is_persian(lang):
        jalali = _jalali(value)
        return persian_digits(f"{jalali.year}/{jalali.month}/{jalali.day}")
    with translation.override(lang):
        return formats.date_format(value, "SHORT_DATE_FORMAT")


def long_date(value: date, lang: str, *, native_digits: bool = True) -> str:
    """۱۱ آذر ۱۴۰۵ in Persian; Django's DATE_FORMAT otherwise (Dec. 2, 2026, 2026年12月2日)."""
    if is_persian(lang):
        jalali = _jalali(value)
        text = f"{jalali.day} {jalali.j_months_fa[jalali.month - 1]} {jalali.year}"
        return persian_digits(text) if native_digits else text
    with translation.override(lang):
        return formats.date_format(value, "DATE_FORMAT")


def short_datetime(value: datetime, tz: tzinfo, lang: str) -> str:
    """A moment in the zone `tz`: 1405/9/11 14:05 in Persian, SHORT_DATETIME_FORMAT otherwise."""
    local = value.astimezone(tz)
    if is_persian(lang):
        return f"{short_date(local, lang)} {persian_digits(f'{local:%H:%M}')}"
    with translation.override(lang):
        return formats.date_format(local, "SHORT_DATETIME_FORMAT")


def time_of_day(value: datetime, tz: tzinfo, lang: str) -> str:
    local = value.astimezone(tz)
    with translation.override(lang):
        text = formats.date_format(local, "TIME_FORMAT")
    return persian_digits(text) if is_persian(lang) else text


def admin_datetime(value: datetime, tz: tzinfo, lang: str | None = None) -> str:
    """A moment on a manager's page, in the tenant's zone `tz`: 2026-12-02 14:05 (ISO order,
    unambiguous in English and Chinese); in Persian 11 آذر 1405، 14:05 — the month named, so
    a Solar Hijri date is never read as a Gregorian one, in the Latin digits that the admin's
    numbers and inputs use."""
    lang = lang or translation.get_language() or "en"
    local = value.astimezone(tz)
    if is_persian(lang):
        return f"{long_date(local, lang, native_digits=False)}، {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


def admin_date(value: date, lang: str | None = None) -> str:
    """A day on a manager's page: 2026-12-02, or 11 آذر 1405 in Persian."""
    lang = lang or translation.get_language() or "en"
    if is_persian(lang):
        return long_date(value, lang, native_digits=False)
    return f"{value:%Y-%m-%d}"
