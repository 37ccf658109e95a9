"""Numbers, times and durations as each widget language writes them.

Django localizes separators but never digits; Persian pages want Persian digits (۱۲۳) and
the Persian separators (٬ thousands, ٫ decimals), and dates in the Solar Hijri calendar
(core.localdates). The browser side does the same with Intl.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.utils import formats, translation
from django.utils.translation import gettext as _

from core import localdates

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
SEPARATORS = {"fa": ("٬", "٫")}


def digits(text: str, lang: str) -> str:
    return text.translate(PERSIAN) if lang == "fa" else text


def number(value: int | float | Decimal | None, lang: str, places: int | None = None) -> str:
    if value is None:
        return "–"
    if places is None:
        places = 0 if float(value) == int(value) else 1
    text = f"{float(value):,.{places}f}"
    thousands, decimal = SEPARATORS.get(lang, (",", "."))
    text = text.replace(",", "\0").replace(".", decimal).replace("\0", thousands)
    if text.startswith("-"):
        text = "−" + text[1:]
    return digits(text, lang)


def rank(value: int | None, lang: str) -> str:
    """A rank as the card shows it: `#3` (`#۳` in Persian), or a dash when not ranked."""
    return "#" + number(value, lang) if value else "–"


def contest_standing(value: int | None, lang: str) -> str:
    """The agent's standing in a contest, in the active language (the caller's override)."""
    if value:
        return _("You are #%(rank)s") % {"rank": number(value, lang)}
    return _("Not ranked yet")


def signed(value: int | float | None, lang: str) -> str:
    if value is None:
        return "–"
    shown = number(abs(value), lang)
    return ("+" if value >= 0 else "−") + shown


def when(value: datetime | None, tz: ZoneInfo, lang: str, *, with_date: bool = True) -> str:
    """A moment in the tenant's zone, in the language's own date format."""
    if value is None:
        return ""
    if localdates.is_persian(lang):  # the Solar Hijri calendar
        if with_date:
            return localdates.short_datetime(value, tz, lang)
        return localdates.time_of_day(value, tz, lang)
    local = value.astimezone(tz)
    with translation.override(lang):
        text = formats.date_format(local, "SHORT_DATETIME_FORMAT" if with_date else "TIME_FORMAT")
    return digits(text, lang)


def day(value: date | None, lang: str) -> str:
    if value is None:
        return ""
    if localdates.is_persian(lang):
        return localdates.short_date(value, lang)
    with translation.override(lang):
        return digits(formats.date_format(value, "SHORT_DATE_FORMAT"), lang)
