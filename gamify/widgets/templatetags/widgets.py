"""`{% load widgets %}`: numbers and times in the page's language (formatting.py)."""

from __future__ import annotations

from typing import Any

from django import template

from gamify.widgets import formatting

register = template.Library()


@register.simple_tag(takes_context=True)
def num(context: Any, value: Any, places: int | None = None) -> str:
    return formatting.number(value, context["lang"], places)


@register.simple_tag(takes_context=True)
def rank(context: Any, value: Any) -> str:
    return formatting.rank(value, context["lang"])


@register.simple_tag(takes_context=True)
def standing(context: Any, value: Any) -> str:
    return formatting.contest_standing(value, context["lang"])


@register.simple_tag(takes_context=True)
def signed(context: Any, value: Any) -> str:
    return formatting.signed(value, context["lang"])


@register.simple_tag(takes_context=True)
def when(context: Any, value: Any) -> str:
    return formatting.when(value, context["tz"], context["lang"])


@register.simple_tag(takes_context=True)
def day(context: Any, value: Any) -> str:
    return formatting.day(value, context["lang"])


@register.filter
def epoch_ms(value: Any) -> int:
    return int(value.timestamp() * 1000) if value else 0
