"""The built-in sections of the game document (gamify/game_templates/document.py), in the
order they depend on one another: KPIs before the rules and badges that name them, badges
before the contest templates whose prizes name them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from accounts.models import Tenant
from core.api.base import StrictNumberField
from core.errors import InvalidInputError
from gamify.coaching import services as coaching
from gamify.coaching.api import AlertRuleInput
from gamify.coaching.models import AlertRule
from gamify.contests import services as contests
from gamify.contests.api import ContestInput
from gamify.contests.models import Contest
from gamify.game import services as game
from gamify.game.api.views import BadgeInput, PointRuleInput
from gamify.game.models import Badge, Level, PointRule
from gamify.game_templates.document import Errors, Section
from gamify.wallet import services as wallet
from gamify.wallet.api.serializers import RewardInput
from gamify.wallet.models import Reward
from kpis.api.views import KpiCreateInput, KpiUpdateInput
from kpis.catalogue import kpi_catalogue
from kpis.models import InteractionSettings, Kpi
from kpis.services.catalogue import kpi_create, kpi_update


def number(value: Decimal | None) -> int | float | None:
    """A stored decimal as the JSON number it was written as (5, not 5.000)."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _items(value: list[Any], name: str, errors: Errors) -> Iterator[tuple[str, dict[str, Any]]]:
    for index, item in enumerate(value):
        path = f"{name}[{index}]"
        if not isinstance(item, dict):
            errors.add(path, "Must be an object.")
            continue
        yield path, item


# --- types, as the API's serializers declare them -------------------------------------------
# A document's item is checked against the JSON types of the fields of the API's serializer
# for the same object before it reaches a service, so a rule named 5 or points given as "10"
# is a 400 naming its path (`point_rules[0].name`), as over the API — never a 500, never
# silently turned into "5". Values, choices and bounds stay the services' to check (the
# same checks for the API, the admin and the document); null is theirs to judge too.
_TYPES: tuple[tuple[type[serializers.Field[Any, Any, Any, Any]], tuple[type, ...], str], ...] = (
    (serializers.BooleanField, (bool,), "Must be true or false."),
    (serializers.IntegerField, (int,), "Must be a whole number."),
    (StrictNumberField, (int, float), "Must be a number."),
    (serializers.ChoiceField, (str,), "Must be a string."),
    (serializers.CharField, (str,), "Must be a string."),
)


def _json_type_error(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str | None:
    for kind, allowed, message in _TYPES:
        if isinstance(field, kind):
            if isinstance(value, bool) and bool not in allowed:
                return message
            if isinstance(value, float) and int in allowed and float not in allowed:
                return None if value.is_integer() else message
            return None if isinstance(value, allowed) else message
    return None  # nested fields (criteria, prizes, participants…): the services check them


def _typed(
    path: str,
    item: Mapping[str, Any],
    serializer: type[serializers.Serializer[Any]],
    errors: Errors,
    *,
    extra: Mapping[str, type[serializers.Field[Any, Any, Any, Any]]] | None = None,
) -> bool:
    """Record a type error under `path.field` for each field of `item` whose JSON type is not
    the one `serializer` (or `extra`) declares; True when there is none."""
    fields = {name: kind() for name, kind in (extra or {}).items()}
    fields.update(serializer().fields)
    ok = True
    for name, value in item.items():
        field = fields.get(name)
        if value is None or field is None:
            continue
        if message := _json_type_error(field, value):
            errors.add(f"{path}.{name}", message)
            ok = False
    return ok


def _unknown(path: str, item: Mapping[str, Any], known: set[str], errors: Errors) -> bool:
    extra = sorted(set(item) - known)
    for key in extra:
        errors.add(f"{path}.{key}", "Unknown field.")
    return bool(extra)


# --- kpis -----------------------------------------------------------------------------------
KPI_FIELDS = {"code", "custom", "name", "unit", "direction", "aggregation", "min_volume"}


def kpis_export(tenant: Tenant) -> list[dict[str, Any]]:
    """The tenant's custom KPIs and the built-in ones whose settings it changed."""
    catalogue = kpi_catalogue(tenant)
    rows = []
    for code in Kpi.objects.for_tenant(tenant).order_by("code").values_list("code", flat=True):
        kpi = catalogue[code]
        entry: dict[str, Any] = {"code": code, "custom": kpi.custom}
        if kpi.custom:
            entry.update(
                name=kpi.name, unit=kpi.unit, direction=kpi.direction, aggregation=kpi.aggregation
            )
        entry["min_volume"] = number(kpi.min_volume)
        rows.append(entry)
    return rows


def kpis_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    for path, item in _items(value, "kpis", errors):
        if _unknown(path, item, KPI_FIELDS, errors):
            continue
        if not _typed(
            path, item, KpiCreateInput, errors, extra={"custom": serializers.BooleanField}
        ):
            continue
        with errors.item(path):
            code = item.get("code")
            if not isinstance(code, str):
                raise InvalidInputError({"code": "Give the KPI's code."})
            volume = _volume(item.get("min_volume"))
            exists = code in kpi_catalogue(tenant)
            if item.get("custom") and not exists:
                for field, choices in (
                    ("unit", Kpi.Unit.values),
                    ("direction", Kpi.Direction.values),
                    ("aggregation", Kpi.Aggregation.values),
                ):
                    if item.get(field) not in choices:
                        raise InvalidInputError({field: f"One of {', '.join(choices)}."})
                if not isinstance(item.get("name"), str) or not item["name"].strip():
                    raise InvalidInputError({"name": "Give the KPI's name."})
                kpi_create(
                    tenant=tenant,
                    code=code,
                    name=str(item.get("name") or code),
                    unit=str(item.get("unit")),
                    direction=str(item.get("direction")),
                    aggregation=str(item.get("aggregation")),
                    min_volume=volume if volume is not None else Decimal(0),
                )
            elif not exists:
                raise InvalidInputError({"code": f"Unknown KPI {code!r} (custom: true adds one)."})
            else:
                kpi_update(
                    tenant=tenant,
                    code=code,
                    min_volume=volume,
                    name=str(item["name"]) if item.get("custom") and "name" in item else None,
                )
            done += 1
    return done


def _volume(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError({"min_volume": "Must be a number."})
    return Decimal(str(value))


# --- interaction settings -------------------------------------------------------------------
SETTINGS_FIELDS = {"threshold_seconds", "short_abandon_seconds"}


def settings_export(tenant: Tenant) -> dict[str, Any]:
    row = InteractionSettings.objects.filter(tenant=tenant).first()
    if row is None:
        return {}
    return {
        "threshold_seconds": row.threshold_seconds,
        "short_abandon_seconds": row.short_abandon_seconds,
    }


def settings_apply(tenant: Tenant, value: dict[str, Any], errors: Errors) -> int:
    if not value or _unknown("interaction_settings", value, SETTINGS_FIELDS, errors):
        return 0
    if not _typed("interaction_settings", value, KpiUpdateInput, errors):
        return 0
    with errors.item("interaction_settings"):
        # threshold_seconds belongs to service_level, short_abandon_seconds to both.
        kpi_update(
            tenant=tenant,
            code="service_level",
            threshold_seconds=value.get("threshold_seconds"),
            short_abandon_seconds=value.get("short_abandon_seconds"),
        )
    return 1


# --- point rules ----------------------------------------------------------------------------
DECIMAL_RULE_FIELDS = ("threshold", "lower", "upper", "min_volume")


def point_rules_export(tenant: Tenant) -> list[dict[str, Any]]:
    rules = PointRule.objects.for_tenant(tenant).filter(deleted=False).order_by("name", "id")
    return [
        {
            name: number(getattr(rule, name))
            if name in DECIMAL_RULE_FIELDS
            else getattr(rule, name)
            for name in game.RULE_FIELDS
        }
        for rule in rules
    ]


def point_rules_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {r.name: r for r in PointRule.objects.for_tenant(tenant).filter(deleted=False)}
    for path, item in _items(value, "point_rules", errors):
        if _unknown(path, item, set(game.RULE_FIELDS), errors):
            continue
        if not _typed(path, item, PointRuleInput, errors):
            continue
        with errors.item(path):
            values = {k: item[k] for k in game.RULE_FIELDS if k in item}
            rule = existing.get(str(item.get("name")))
            if rule is not None:
                game.point_rule_update(rule=rule, changes=values)
            else:
                existing[str(item.get("name"))] = game.point_rule_create(
                    tenant=tenant, values=values
                )
            done += 1
    return done


# --- levels ---------------------------------------------------------------------------------
def levels_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"number": level.number, "name": level.name, "min_points": level.min_points}
        for level in Level.objects.for_tenant(tenant).order_by("number")
    ]


class LevelInput(serializers.Serializer[Any]):
    """A level's JSON types (levels_replace checks the table's values)."""

    number = serializers.IntegerField()
    name = serializers.CharField()
    min_points = serializers.IntegerField()


def levels_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    if not value:
        return 0
    typed = [
        _typed(path, item, LevelInput, errors) for path, item in _items(value, "levels", errors)
    ]
    if len(typed) != len(value) or not all(typed):
        return 0
    with errors.item("levels"):
        game.levels_replace(tenant=tenant, levels=value)
    return len(value)


# --- badges ---------------------------------------------------------------------------------
def badges_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"code": badge.code, **{name: getattr(badge, name) for name in game.BADGE_FIELDS}}
        for badge in Badge.objects.for_tenant(tenant).order_by("code")
    ]


def badges_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {b.code: b for b in Badge.objects.for_tenant(tenant)}
    for path, item in _items(value, "badges", errors):
        if _unknown(path, item, {"code", *game.BADGE_FIELDS}, errors):
            continue
        if not _typed(path, item, BadgeInput, errors):
            continue
        with errors.item(path):
            values = {k: item[k] for k in game.BADGE_FIELDS if k in item}
            criteria = values.get("criteria")
            place_in = criteria.get("contest") if isinstance(criteria, dict) else None
            if place_in is not None and not (
                isinstance(place_in, int)
                and Contest.objects.for_tenant(tenant).filter(pk=place_in).exists()
            ):
                # Contest ids are the tenant's own: one from another tenant names nothing here.
                raise InvalidInputError(
                    {"criteria.contest": f"No contest {place_in} here; null means any contest."}
                )
            badge = existing.get(str(item.get("code")))
            if badge is not None:
                game.badge_update(badge=badge, changes=values)
            else:
                code = item.get("code")
                if not isinstance(code, str):
                    raise InvalidInputError({"code": "Give the badge's code."})
                game.badge_create(tenant=tenant, code=code, values=values)
            done += 1
    return done


# --- rewards --------------------------------------------------------------------------------
def rewards_export(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {name: getattr(reward, name) for name in wallet.REWARD_FIELDS}
        for reward in Reward.objects.for_tenant(tenant).order_by("name", "id")
    ]


def rewards_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    existing = {r.name: r for r in Reward.objects.for_tenant(tenant)}
    for path, item in _items(value, "rewards", errors):
        if _unknown(path, item, set(wallet.REWARD_FIELDS), errors):
            continue
        if not _typed(path, item, RewardInput, errors):
            continue
        with errors.item(path):
            reward = existing.get(str(item.get("name")))
            if reward is not None:
                wallet.reward_update(reward=reward, changes=item)
            else:
                existing[str(item.get("name"))] = wallet.reward_create(tenant=tenant, values=item)
            done += 1
    return done


# --- contest templates ----------------------------------------------------------------------
# A contest template is a draft contest. Its window is written as the calendar period it spans
# ("day", "week" or "month", from a local midnight) or as whole "hours"; imported, it becomes a
# draft starting at the next such local midnight, to be scheduled by a manager.
CONTEST_FIELDS = (
    "name",
    "kind",
    "entity",
    "metric",
    "participants",
    "min_volume",
    "target",
    "guardrails",
    "prizes",
    "recurrence",
)
WINDOWS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


def _local_end(start: datetime, window: str, tenant: Tenant) -> datetime:
    local = start.astimezone(tenant.tz)
    if window == "month":
        year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
        end_local = datetime.combine(local.date().replace(year=year, month=month), time())
    else:
        end_local = datetime.combine(local.date() + WINDOWS[window], time())
    return end_local.replace(tzinfo=tenant.tz).astimezone(start.tzinfo)


def _window(contest: Contest, tenant: Tenant) -> str | int:
    local = contest.starts_at.astimezone(tenant.tz)
    if local.time() == time():
        for window in ("day", "week", "month"):
            if window == "month" and local.day != 1:
                continue
            if _local_end(contest.starts_at, window, tenant) == contest.ends_at:
                return window
    return int((contest.ends_at - contest.starts_at).total_seconds() // 3600)


def contest_templates_export(tenant: Tenant) -> list[dict[str, Any]]:
    drafts = Contest.objects.for_tenant(tenant).filter(status=Contest.Status.DRAFT)
    rows = []
    for contest in drafts.order_by("name", "id"):
        entry = {
            name: number(getattr(contest, name))
            if name in ("min_volume", "target")
            else getattr(contest, name)
            for name in CONTEST_FIELDS
        }
        window = _window(contest, tenant)
        entry["window"] = window if isinstance(window, str) else {"hours": window}
        rows.append(entry)
    return rows


def _next_midnight(tenant: Tenant) -> datetime:
    local = timezone.now().astimezone(tenant.tz)
    return datetime.combine(local.date() + timedelta(days=1), time()).replace(tzinfo=tenant.tz)


def contest_templates_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    done = 0
    drafts = Contest.objects.for_tenant(tenant).filter(status=Contest.Status.DRAFT)
    existing = {c.name: c for c in drafts}
    for path, item in _items(value, "contest_templates", errors):
        if _unknown(path, item, {*CONTEST_FIELDS, "window"}, errors):
            continue
        if not _typed(path, item, ContestInput, errors):
            continue
        with errors.item(path):
            window = item.get("window", "week")
            start = _next_midnight(tenant)
            if isinstance(window, str) and window in ("day", "week", "month"):
                end = _local_end(start, window, tenant)
            elif (
                isinstance(window, dict)
                and set(window) == {"hours"}
                and isinstance(window["hours"], int)
                and not isinstance(window["hours"], bool)
                and 1 <= window["hours"] <= 366 * 24
            ):
                end = start + timedelta(hours=window["hours"])
            else:
                raise InvalidInputError(
                    {"window": 'Use "day", "week", "month" or {"hours": 1 to 8784}.'}
                )
            values = {k: item.get(k) for k in CONTEST_FIELDS}
            values.update(starts_at=start, ends_at=end)
            contest = existing.get(str(item.get("name")))
            if contest is not None:
                contests.contest_update(contest=contest, changes=values, draft=True)
            else:
                existing[str(item.get("name"))] = contests.contest_create(
                    tenant=tenant, values=values, draft=True
                )
            done += 1
    return done


# --- alert rules ----------------------------------------------------------------------------
def alert_rules_export(tenant: Tenant) -> list[dict[str, Any]]:
    rules = AlertRule.objects.for_tenant(tenant).order_by("name", "id")
    return [
        {
            name: number(getattr(rule, name))
            if name in ("percent", "min_volume")
            else getattr(rule, name)
            for name in coaching.RULE_FIELDS
        }
        for rule in rules
    ]


def alert_rules_apply(tenant: Tenant, value: list[Any], errors: Errors) -> int:
    """By name, like point rules: a rule of the same name is updated, others are created."""
    done = 0
    existing = {r.name: r for r in AlertRule.objects.for_tenant(tenant)}
    for path, item in _items(value, "alert_rules", errors):
        if _unknown(path, item, set(coaching.RULE_FIELDS), errors):
            continue
        if not _typed(path, item, AlertRuleInput, errors):
            continue
        with errors.item(path):
            values = {k: item[k] for k in coaching.RULE_FIELDS if k in item}
            rule = existing.get(str(item.get("name")))
            if rule is not None:
                coaching.alert_rule_update(rule=rule, changes=values)
            else:
                existing[str(item.get("name"))] = coaching.alert_rule_create(
                    tenant=tenant, values=values
                )
            done += 1
    return done


BUILTIN = (
    Section("kpis", kpis_export, kpis_apply),
    Section("interaction_settings", settings_export, settings_apply, dict),
    Section("point_rules", point_rules_export, point_rules_apply),
    Section("levels", levels_export, levels_apply),
    Section("badges", badges_export, badges_apply),
    Section("rewards", rewards_export, rewards_apply),
    Section("contest_templates", contest_templates_export, contest_templates_apply),
    Section("alert_rules", alert_rules_export, alert_rules_apply),
)
